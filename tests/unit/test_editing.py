"""Clinician edits, diffs, flags and per-section change metrics (scribe.notes.editing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.notes.editing import (
    DiffRun,
    EditError,
    apply_edit,
    blank_note,
    diff_note,
    flags,
    restore_removed,
    section_changes,
    undo_edits,
    word_diff,
)
from scribe.notes.inputs import transcript_from_data
from scribe.notes.templates import load_template
from scribe.records import Medication, NoteDraft, NoteSection, Omission, RemovedStatement, Statement
from scribe.rows import EditAction

DATA = Path(__file__).parent.parent / "data"


def _note() -> NoteDraft:
    return NoteDraft(
        template="gp",
        sections=[
            NoteSection(
                key="presenting_complaint",
                title="Presenting complaint",
                statements=[Statement(text="Right knee pain for two weeks.", evidence=[1], supported=True)],
            ),
            NoteSection(
                key="plan",
                title="Plan",
                statements=[
                    Statement(text="Paracetamol continued.", evidence=[7], supported=True),
                    Statement(text="Chest X-ray.", evidence=[], supported=False, reason="cites no evidence"),
                ],
            ),
        ],
        medications=[Medication(name="paracetamol", dose="1 g", supported=True, evidence=[7])],
        omissions=[Omission(kind="red_flag", text="no fever", evidence=[5])],
    )


@pytest.fixture(scope="module")
def knee():
    return transcript_from_data(json.loads((DATA / "knee_consultation.json").read_text()))


def test_edit_replaces_text_marks_edited_and_leaves_original_untouched():
    note = _note()
    new, change = apply_edit(note, "plan", 1, "  Review in   two weeks. ", EditAction.EDIT)
    assert new.sections[1].statements[1].text == "Review in two weeks."
    assert new.sections[1].statements[1].edited is True
    assert new.sections[1].statements[1].supported is None  # not re-grounded without a transcript
    assert note.sections[1].statements[1].text == "Chest X-ray."
    assert (change.section, change.index, change.action) == ("plan", 1, EditAction.EDIT)
    assert (change.before, change.after) == ("Chest X-ray.", "Review in two weeks.")
    edit = change.to_edit("c1", 2, 7)
    assert (edit.consultation_id, edit.version, edit.user_id, edit.after) == ("c1", 2, 7, "Review in two weeks.")


def test_edit_with_empty_text_deletes():
    new, change = apply_edit(_note(), "plan", 0, "   ", EditAction.EDIT)
    assert [s.text for s in new.sections[1].statements] == ["Chest X-ray."]
    assert change.action is EditAction.DELETE
    assert (change.before, change.after) == ("Paracetamol continued.", "")


def test_unchanged_edit_keeps_flags():
    new, _ = apply_edit(_note(), "plan", 0, "Paracetamol continued.", EditAction.EDIT)
    assert new.sections[1].statements[0].edited is False
    assert new.sections[1].statements[0].supported is True


def test_add_at_end_and_at_position():
    new, change = apply_edit(_note(), "plan", None, "Safety-netting advice given.", EditAction.ADD)
    assert new.sections[1].statements[-1].text == "Safety-netting advice given."
    assert new.sections[1].statements[-1].edited
    assert (change.index, change.before, change.after) == (2, "", "Safety-netting advice given.")
    new, change = apply_edit(_note(), "plan", 0, "First.", EditAction.ADD)
    assert [s.text for s in new.sections[1].statements][0] == "First."
    assert change.index == 0


def test_delete_statement_and_structured_item():
    new, change = apply_edit(_note(), "medications", 0, "", EditAction.DELETE)
    assert new.medications == []
    assert change.before == "paracetamol 1 g"
    new, change = apply_edit(_note(), "presenting_complaint", 0, "", EditAction.DELETE)
    assert new.sections[0].statements == []


@pytest.mark.parametrize(
    ("section", "index", "text", "action", "message"),
    [
        ("nope", 0, "x", EditAction.EDIT, "no section"),
        ("plan", 5, "x", EditAction.EDIT, "not in the section"),
        ("plan", None, "x", EditAction.DELETE, "not in the section"),
        ("plan", 9, "x", EditAction.ADD, "outside the section"),
        ("plan", None, "  ", EditAction.ADD, "Type the statement"),
        ("medications", 0, "ibuprofen", EditAction.EDIT, "can only be removed"),
        ("medications", None, "ibuprofen", EditAction.ADD, "can only be removed"),
    ],
)
def test_edits_that_do_not_fit_are_refused(section, index, text, action, message):
    with pytest.raises(EditError, match=message):
        apply_edit(_note(), section, index, text, action)


def test_edited_statement_is_grounded_again_and_omissions_recomputed(knee):
    note = _note()
    note.omissions = []
    new, _ = apply_edit(
        note, "presenting_complaint", 0, "Left knee pain for two weeks.", EditAction.EDIT, transcript=knee
    )
    statement = new.sections[0].statements[0]
    assert statement.supported is False
    assert statement.evidence == [1]  # the cited segment is kept as the starting point
    new, _ = apply_edit(note, "plan", 1, "Right knee pain for about two weeks.", EditAction.EDIT, transcript=knee)
    statement = new.sections[1].statements[1]
    assert statement.supported is True
    assert 1 in statement.evidence
    assert isinstance(new.omissions, list)


def test_flags_counts():
    f = flags(_note())
    assert (f.unsupported, f.unchecked, f.omissions, f.incomplete_sections) == (1, 0, 1, 0)
    assert f.total == 2
    new, _ = apply_edit(_note(), "plan", None, "Added.", EditAction.ADD)
    assert flags(new).unchecked == 1


def test_blank_note_has_the_template_sections():
    template = load_template("gp")
    note = blank_note(template)
    assert [s.key for s in note.sections] == [s.key for s in template.sections]
    assert all(s.statements == [] for s in note.sections)
    assert note.template == "gp"


def test_word_diff_runs():
    assert word_diff("a b c", "a x c") == (
        DiffRun("equal", "a "),
        DiffRun("delete", "b"),
        DiffRun("insert", "x"),
        DiffRun("equal", " c"),
    )
    assert word_diff("same", "same") == (DiffRun("equal", "same"),)
    assert word_diff("", "new words") == (DiffRun("insert", "new words"),)


def test_diff_note_per_section():
    before = _note()
    after, _ = apply_edit(before, "plan", 1, "Knee X-ray.", EditAction.EDIT)
    diffs = {d.key: d for d in diff_note(before, after)}
    assert list(diffs) == ["presenting_complaint", "plan", "medications"]
    assert not diffs["presenting_complaint"].changed
    assert diffs["plan"].changed
    assert [r for r in diffs["plan"].runs if r.op != "equal"] == [DiffRun("delete", "Chest"), DiffRun("insert", "Knee")]


def test_section_changes_hand_computed():
    draft = _note()
    approved = draft.model_copy(deep=True)
    plan = approved.sections[1].statements
    plan[0].text = "Paracetamol stopped."  # edited: similar to "Paracetamol continued."
    plan[1].text = "Refer to physiotherapy."  # nothing like "Chest X-ray.": deleted + added
    plan.append(Statement(text="Review in 2 weeks."))  # added
    approved.medications = []  # structured item deleted
    changes = section_changes(draft, approved)
    pc = changes["presenting_complaint"]
    assert (pc.chars_draft, pc.chars_changed, pc.statements_draft) == (30, 0, 1)
    assert (pc.statements_edited, pc.statements_added, pc.statements_deleted) == (0, 0, 0)
    p = changes["plan"]
    draft_text = "Paracetamol continued.\nChest X-ray."
    assert p.chars_draft == len(draft_text) == 35
    assert p.statements_draft == 2
    assert (p.statements_edited, p.statements_added, p.statements_deleted) == (1, 2, 1)
    from rapidfuzz.distance import Levenshtein

    assert p.chars_changed == Levenshtein.distance(
        draft_text, "Paracetamol stopped.\nRefer to physiotherapy.\nReview in 2 weeks."
    )
    m = changes["medications"]
    assert (m.statements_draft, m.statements_deleted, m.chars_draft, m.chars_changed) == (1, 1, 15, 15)


def test_section_changes_small_distance():
    draft = NoteDraft(template="gp", sections=[NoteSection(key="a", title="A", statements=[Statement(text="kitten")])])
    approved = NoteDraft(
        template="gp", sections=[NoteSection(key="a", title="A", statements=[Statement(text="sitting")])]
    )
    change = section_changes(draft, approved)["a"]
    assert change.chars_changed == 3  # kitten -> sitting, the textbook Levenshtein example
    assert (change.statements_edited, change.statements_added, change.statements_deleted) == (1, 0, 0)


def test_section_changes_unchanged_note():
    changes = section_changes(_note(), _note())
    assert all(c.chars_changed == 0 and c.statements_edited == c.statements_added == 0 for c in changes.values())


def test_undo_edits_restores_the_draft_texts():
    draft = _note()
    note, edits = draft, []
    for section, index, text, action in [
        ("plan", 1, "Knee X-ray.", EditAction.EDIT),
        ("plan", 0, "", EditAction.DELETE),
        ("plan", None, "Review in two weeks.", EditAction.ADD),
        ("medications", 0, "", EditAction.DELETE),
        ("presenting_complaint", 0, "Right knee pain for 2 weeks.", EditAction.EDIT),
    ]:
        note, change = apply_edit(note, section, index, text, action)
        edits.append(change.to_edit("c", 1, 1))
    restored = undo_edits(note, edits)
    assert [s.text for s in restored.sections[1].statements] == ["Paracetamol continued.", "Chest X-ray."]
    assert restored.sections[0].statements[0].text == "Right knee pain for two weeks."
    assert [m.claim() for m in restored.medications] == ["paracetamol 1 g"]
    assert all(c.chars_changed == 0 for c in section_changes(draft, restored).values())
    changes = section_changes(restored, note)
    assert (changes["plan"].statements_edited, changes["plan"].statements_added) == (1, 1)
    assert changes["plan"].statements_deleted == 1 and changes["medications"].statements_deleted == 1


def _with_removed() -> NoteDraft:
    """_note() with a placeholder-only section and two statements the grounding check removed."""
    note = _note()
    placeholder = Statement(text="Not discussed.", supported=True)
    note.sections.append(NoteSection(key="examination", title="Examination", statements=[placeholder]))
    note.removed = [
        RemovedStatement(
            section="plan",
            statement=Statement(text="MRI of the knee booked.", evidence=[16], supported=False, reason="not said"),
        ),
        RemovedStatement(
            section="examination",
            statement=Statement(text="Knee effusion.", evidence=[12], supported=False, reason="no finding matches"),
        ),
    ]
    return note


def test_restore_puts_the_statement_at_the_end_of_its_section_still_flagged():
    note = _with_removed()
    new, change = restore_removed(note, 0)
    plan = new.sections[1].statements
    assert [s.text for s in plan] == ["Paracetamol continued.", "Chest X-ray.", "MRI of the knee booked."]
    assert (plan[-1].supported, plan[-1].reason, plan[-1].evidence, plan[-1].edited) == (False, "not said", [16], False)
    assert [r.statement.text for r in new.removed] == ["Knee effusion."]
    assert len(note.removed) == 2 and len(note.sections[1].statements) == 2  # the original is untouched
    assert (change.section, change.index, change.action) == ("plan", 2, EditAction.RESTORE)
    assert (change.before, change.after) == ("", "MRI of the knee booked.")
    assert flags(new).unsupported == flags(note).unsupported + 1


def test_restore_replaces_a_not_discussed_placeholder():
    new, change = restore_removed(_with_removed(), 1)
    (statement,) = new.sections[2].statements
    assert (statement.text, statement.supported, statement.reason) == ("Knee effusion.", False, "no finding matches")
    assert (change.section, change.index, change.before, change.after) == (
        "examination",
        0,
        "Not discussed.",
        "Knee effusion.",
    )


def test_restore_that_does_not_fit_is_refused(knee):
    with pytest.raises(EditError, match="no longer in the removed list"):
        restore_removed(_note(), 0)
    note = _with_removed()
    note.removed[0].section = "gone"
    with pytest.raises(EditError, match="no section"):
        restore_removed(note, 0)
    new, _ = restore_removed(_with_removed(), 0, transcript=knee)  # omissions recomputed against the transcript
    assert isinstance(new.omissions, list) and new.sections[1].statements[-1].supported is False


def test_undo_edits_takes_restores_back_and_metrics_count_them_as_added():
    draft = _with_removed()
    note, edits = draft, []
    for index in (0, 0):  # the first removed statement each time: all of them, in list order
        note, change = restore_removed(note, index)
        edits.append(change.to_edit("c", 1, 1))
    assert note.removed == []
    undone = undo_edits(note, edits)
    assert [s.text for s in undone.sections[1].statements] == ["Paracetamol continued.", "Chest X-ray."]
    assert [s.text for s in undone.sections[2].statements] == ["Not discussed."]
    assert [(r.section, r.statement.text, r.statement.supported) for r in undone.removed] == [
        ("plan", "MRI of the knee booked.", False),
        ("examination", "Knee effusion.", False),
    ]
    changes = section_changes(undone, note)
    assert (changes["plan"].statements_added, changes["plan"].statements_deleted) == (1, 0)
    assert changes["examination"].statements_added + changes["examination"].statements_edited == 1
    diffs = {d.key: d for d in diff_note(undone, note)}
    assert DiffRun("insert", "\nMRI of the knee booked.") in diffs["plan"].runs
