"""Clinician edits to a note, and what they changed: pure functions over NoteDraft.

The review app calls :func:`apply_edit` for every change a clinician makes in place, shows
:func:`diff_note` on the Changes tab, counts :func:`flags` on the approve form, and stores
:func:`section_changes` with the consultation at approval so evaluation reads how much of each
section the clinician rewrote.

A note's sections hold statements; the structured lists (medications, allergies, problems,
findings) hold items whose text is built from their fields. Statements can be edited, added and
deleted; structured items can be deleted (a correction to one is written as a statement, where
the grounding check reads it like any other). Statements the grounding check took out of the draft
(``NoteDraft.removed``) can be restored into their section with :func:`restore_removed`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from rapidfuzz.distance import Indel, Levenshtein

from scribe.notes.grounding import ground_items, is_not_discussed
from scribe.notes.omissions import find_omissions
from scribe.notes.templates import Template
from scribe.records import (
    Allergy,
    Finding,
    Grounded,
    Medication,
    NoteDraft,
    NoteSection,
    Problem,
    RemovedStatement,
    Statement,
    Transcript,
)
from scribe.rows import Edit, EditAction, SectionChange

STRUCTURED = ("medications", "allergies", "problems", "findings")
"""The structured lists of a note, which edits and metrics treat as sections under these keys."""

STRUCTURED_TITLES = {key: key.capitalize() for key in STRUCTURED}

EDITED_MATCH = 0.5
"""Normalised similarity (rapidfuzz Indel, 0..1) at which an approved statement counts as an edit of a
draft statement rather than a deletion plus an addition."""

_TOKENS = re.compile(r"\s+|[^\s]+")


class EditError(ValueError):
    """The edit does not fit the note: an unknown section, a position out of range, an empty addition."""


@dataclass(frozen=True)
class Change:
    """What one edit did, in the terms of :class:`scribe.records.Edit`."""

    section: str
    index: int | None
    action: EditAction
    before: str
    after: str

    def to_edit(self, consultation_id: str, version: int, user_id: int) -> Edit:
        """The Edit record the store keeps for this change."""
        return Edit(
            consultation_id=consultation_id,
            version=version,
            user_id=user_id,
            section=self.section,
            index=self.index,
            action=self.action,
            before=self.before,
            after=self.after,
        )


@dataclass(frozen=True)
class Flags:
    """What the clinician must look at before approving."""

    unsupported: int
    unchecked: int
    omissions: int
    incomplete_sections: int

    @property
    def total(self) -> int:
        """Unsupported statements and items plus possible omissions: the count the attestation names."""
        return self.unsupported + self.omissions


@dataclass(frozen=True)
class DiffRun:
    """A run of words that both texts share ('equal'), or that only the old ('delete') or new ('insert') has."""

    op: str
    text: str


@dataclass(frozen=True)
class SectionDiff:
    """The word-level difference of one section between two versions."""

    key: str
    title: str
    runs: tuple[DiffRun, ...]

    @property
    def changed(self) -> bool:
        return any(run.op != "equal" for run in self.runs)


def _clean(text: str) -> str:
    """One statement's text: whitespace collapsed, ends trimmed."""
    return " ".join(text.split())


def _items(note: NoteDraft, section: str) -> list[Grounded]:
    if section in STRUCTURED:
        return list(getattr(note, section))
    for s in note.sections:
        if s.key == section:
            return list(s.statements)
    raise EditError(f"The note has no section {section!r}; reload the page and try again.")


def _section(note: NoteDraft, key: str) -> NoteSection:
    for s in note.sections:
        if s.key == key:
            return s
    raise EditError(f"The note has no section {key!r}; reload the page and try again.")


def _item_text(item: Grounded) -> str:
    return item.claim()


def apply_edit(
    note: NoteDraft,
    section: str,
    index: int | None,
    text: str,
    action: EditAction,
    *,
    transcript: Transcript | None = None,
) -> tuple[NoteDraft, Change]:
    """A copy of ``note`` with one change made, and what changed.

    EDIT replaces statement ``index`` of ``section`` with ``text`` (empty text deletes it);
    ADD inserts ``text`` at ``index`` (None: at the end); DELETE removes statement or structured
    item ``index``. Written or changed statements are marked ``edited`` and, when ``transcript``
    is given, grounded again (their evidence kept as the starting point) and the omissions
    recomputed, so a flag the clinician has dealt with goes away. Raises EditError when the
    change does not fit the note.
    """
    text = _clean(text)
    if action is EditAction.EDIT and not text:
        action = EditAction.DELETE
    new = note.model_copy(deep=True)
    items = _items(new, section)
    if section in STRUCTURED and action is not EditAction.DELETE:
        raise EditError(
            f"Items in {STRUCTURED_TITLES[section].lower()} can only be removed; write the correction as a statement."
        )
    if action is EditAction.ADD:
        if not text:
            raise EditError("Type the statement to add.")
        position = len(items) if index is None else index
        if not 0 <= position <= len(items):
            raise EditError(f"Position {position} is outside the section; reload the page and try again.")
        statement = Statement(text=text, edited=True)
        _section(new, section).statements.insert(position, statement)
        changed: Grounded | None = statement
        change = Change(section, position, action, "", text)
    else:
        if index is None or not 0 <= index < len(items):
            raise EditError(f"Statement {index} is not in the section; reload the page and try again.")
        before = _item_text(items[index])
        if action is EditAction.DELETE:
            if section in STRUCTURED:
                getattr(new, section).pop(index)
            else:
                _section(new, section).statements.pop(index)
            changed = None
            change = Change(section, index, action, before, "")
        else:
            statement = _section(new, section).statements[index]
            if text == statement.text:
                return new, Change(section, index, action, before, text)
            statement.text = text
            statement.edited = True
            statement.supported, statement.reason = None, ""
            changed = statement
            change = Change(section, index, action, before, text)
    if transcript is not None:
        if changed is not None:
            ground_items([changed], transcript)
        new.omissions = find_omissions(new, transcript)
    return new, change


def restore_removed(note: NoteDraft, index: int, *, transcript: Transcript | None = None) -> tuple[NoteDraft, Change]:
    """A copy of ``note`` with removed statement ``index`` put back at the end of its section, and what changed.

    The statement keeps its text, evidence, ``supported=False`` and the check's reason, so the note still
    flags it; it leaves ``note.removed``. When the section holds only a "Not discussed." placeholder, the
    statement replaces it (the Change's ``before`` is the placeholder). With ``transcript`` the omissions are
    recomputed. Raises EditError when there is no such removed statement or its section is not in the note.
    """
    if not 0 <= index < len(note.removed):
        raise EditError("That statement is no longer in the removed list; reload the page and try again.")
    new = note.model_copy(deep=True)
    item = new.removed.pop(index)
    statements = _section(new, item.section).statements
    before = ""
    if len(statements) == 1 and is_not_discussed(statements[0].text):
        before = statements[0].text
        statements[0] = item.statement
    else:
        statements.append(item.statement)
    position = len(statements) - 1
    if transcript is not None:
        new.omissions = find_omissions(new, transcript)
    return new, Change(item.section, position, EditAction.RESTORE, before, item.statement.text)


_RESTORE = {
    "medications": lambda text: Medication(name=text),
    "allergies": lambda text: Allergy(substance=text),
    "problems": lambda text: Problem(name=text),
    "findings": lambda text: Finding(name=text),
}


def undo_edits(note: NoteDraft, edits: list[Edit]) -> NoteDraft:
    """The note as it was before ``edits`` (one version's edits, oldest first), for measuring what changed.

    Statements come back with their text only; a deleted structured item comes back as an item whose
    text is the one it showed (its fields are not kept in the Edit record); a restored statement goes back
    to ``removed`` (unsupported, without its evidence or reason) and a placeholder it replaced comes back.
    Edits that no longer fit (a section renamed by a template change) are skipped.
    """
    old = note.model_copy(deep=True)
    for edit in reversed(edits):
        key, index = edit.section, edit.index
        try:
            if key in STRUCTURED:
                if edit.action is EditAction.DELETE and index is not None:
                    items = getattr(old, key)
                    items.insert(min(index, len(items)), _RESTORE[key](edit.before))
                continue
            statements = _section(old, key).statements
        except EditError:
            continue
        if index is None:
            continue
        if edit.action is EditAction.ADD and 0 <= index < len(statements):
            statements.pop(index)
        elif edit.action is EditAction.DELETE:
            statements.insert(min(index, len(statements)), Statement(text=edit.before))
        elif edit.action is EditAction.EDIT and 0 <= index < len(statements):
            statements[index] = Statement(text=edit.before)
        elif edit.action is EditAction.RESTORE and 0 <= index < len(statements):
            statements.pop(index)
            if edit.before:
                statements.insert(index, Statement(text=edit.before))
            old.removed.insert(0, RemovedStatement(section=key, statement=Statement(text=edit.after, supported=False)))
    return old


def blank_note(template: Template) -> NoteDraft:
    """An empty note with the template's sections, for a clinician writing without the scribe."""
    return NoteDraft(
        template=template.name,
        title=template.title,
        sections=[NoteSection(key=s.key, title=s.title) for s in template.sections],
    )


def correction_of(note: NoteDraft) -> NoteDraft:
    """A copy of an approved note to correct: the same content, a new creation time."""
    new = note.model_copy(deep=True)
    new.created_at = NoteDraft(template=note.template).created_at
    return new


def flags(note: NoteDraft) -> Flags:
    """Counts of unsupported and unchecked statements and items, possible omissions, incomplete sections."""
    items = note.grounded_items()
    return Flags(
        unsupported=sum(1 for i in items if i.supported is False),
        unchecked=sum(1 for i in items if i.supported is None),
        omissions=len(note.omissions),
        incomplete_sections=sum(1 for s in note.sections if not s.complete),
    )


def _texts(note: NoteDraft, key: str) -> list[str]:
    if key in STRUCTURED:
        return [_item_text(i) for i in getattr(note, key)]
    return [st.text for s in note.sections if s.key == key for st in s.statements]


def _keys(*notes: NoteDraft) -> list[tuple[str, str]]:
    """Section keys and titles of every note in order of first appearance, then the structured lists in use."""
    seen: dict[str, str] = {}
    for note in notes:
        for s in note.sections:
            seen.setdefault(s.key, s.title)
    for key in STRUCTURED:
        if any(getattr(n, key) for n in notes):
            seen.setdefault(key, STRUCTURED_TITLES[key])
    return list(seen.items())


def section_text(note: NoteDraft, key: str) -> str:
    """A section's statements (or a structured list's items), one per line."""
    return "\n".join(_texts(note, key))


def word_diff(before: str, after: str) -> tuple[DiffRun, ...]:
    """Word-level difference (difflib over words and the spaces between them), merged into runs."""
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    runs: list[DiffRun] = []

    def add(op: str, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if runs and runs[-1].op == op:
            runs[-1] = DiffRun(op, runs[-1].text + text)
        else:
            runs.append(DiffRun(op, text))

    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", old[i1:i2])
        else:
            add("delete", old[i1:i2])
            add("insert", new[j1:j2])
    return tuple(runs)


def diff_note(before: NoteDraft, after: NoteDraft) -> list[SectionDiff]:
    """Per section (and structured list), the word-level difference from ``before`` to ``after``."""
    return [
        SectionDiff(key, title, word_diff(section_text(before, key), section_text(after, key)))
        for key, title in _keys(before, after)
    ]


def _align(draft: list[str], approved: list[str]) -> tuple[int, int, int]:
    """(edited, added, deleted) statements between two lists of statement texts.

    Identical statements are matched in order (difflib); within each stretch that differs, each
    approved statement is paired with the most similar unpaired draft statement at or above
    :data:`EDITED_MATCH` (an edit); approved statements left unpaired were added, draft ones deleted.
    """
    edited = added = deleted = 0
    matcher = difflib.SequenceMatcher(a=draft, b=approved, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        free = list(range(i1, i2))
        for j in range(j1, j2):
            scored = [(Indel.normalized_similarity(draft[i], approved[j]), i) for i in free]
            best = max(scored, default=(0.0, -1))
            if best[0] >= EDITED_MATCH:
                free.remove(best[1])
                edited += 1
            else:
                added += 1
        deleted += len(free)
    return edited, added, deleted


def section_changes(draft: NoteDraft, approved: NoteDraft) -> dict[str, SectionChange]:
    """How much each section changed from the model's draft to the approved note.

    ``chars_changed`` is the Levenshtein distance between the section texts (statements one per
    line); statements are counted as edited, added or deleted by :func:`_align`.
    """
    changes: dict[str, SectionChange] = {}
    for key, _title in _keys(draft, approved):
        before, after = _texts(draft, key), _texts(approved, key)
        edited, added, deleted = _align(before, after)
        changes[key] = SectionChange(
            chars_draft=len("\n".join(before)),
            chars_changed=Levenshtein.distance("\n".join(before), "\n".join(after)),
            statements_draft=len(before),
            statements_edited=edited,
            statements_added=added,
            statements_deleted=deleted,
        )
    return changes
