"""Structured lists (medications, allergies, problems, findings) derived from the note's statements.

No model call: the lexicon's extractor (:mod:`scribe.notes.lexicon`, the one the grounding check
uses) reads each kept statement and every medicine, allergy, problem or examination finding it
asserts becomes an item citing that statement's evidence. Items are grounded like statements.
Derived lists can only hold what a supported statement says, so they add nothing the note does
not; what they may miss (a medicine the note names in words the lexicon does not know) the
omission check still reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from scribe.notes.grounding import ground_items, is_not_discussed
from scribe.notes.lexicon.extraction import extract_facts
from scribe.notes.lexicon.facts import NO_ALLERGIES, PRESENT, Fact
from scribe.records import (
    Allergy,
    Finding,
    Grounded,
    Medication,
    MedicationChange,
    NoteDraft,
    NoteSection,
    Problem,
    Statement,
    Transcript,
)

_CHANGE = (
    (re.compile(r"\b(stop|stopped|stopping|discontinu\w*|cease\w*|come off)\b", re.I), MedicationChange.STOPPED),
    (re.compile(r"\b(increas\w*|reduc\w*|decreas\w*|chang\w*|switch\w*|titrat\w*)\b", re.I), MedicationChange.CHANGED),
    (
        re.compile(r"\b(start\w*|prescrib\w*|commenc\w*|initiat\w*|trial of|given|give)\b", re.I),
        MedicationChange.STARTED,
    ),
    (re.compile(r"\b(continu\w*|takes|taking|on)\b", re.I), MedicationChange.CONTINUED),
)
_EXAMINATION_KEYS = frozenset({"examination", "objective", "results"})
_PROBLEM_KEYS = frozenset({"assessment", "presenting_complaint", "chief_complaint", "history", "subjective"})


def _change(text: str) -> MedicationChange:
    for pattern, change in _CHANGE:
        if pattern.search(text):
            return change
    return MedicationChange.UNKNOWN


def _medications(statement: Statement, facts: Sequence[Fact]) -> list[Medication]:
    items = []
    for fact in facts:
        if fact.kind != "medication" or fact.polarity != PRESENT:
            continue
        dose = next((f.text for f in facts if f.kind == "dose" and f.subject == fact.value), "")
        frequency = next((f.text for f in facts if f.kind == "frequency" and f.subject == fact.value), "")
        items.append(
            Medication(
                name=fact.text,
                dose=dose,
                frequency=frequency,
                change=_change(statement.text),
                evidence=list(statement.evidence),
            )
        )
    return items


def _allergies(statement: Statement, facts: Sequence[Fact]) -> list[Allergy]:
    return [
        Allergy(substance=f.text, evidence=list(statement.evidence))
        for f in facts
        if f.kind == "allergy" and f.polarity == PRESENT and f.value != NO_ALLERGIES
    ]


def _problems(statement: Statement, facts: Sequence[Fact]) -> list[Problem]:
    return [
        Problem(name=f.text, evidence=list(statement.evidence))
        for f in facts
        if f.kind == "problem" and f.polarity == PRESENT
    ]


def _findings(statement: Statement, facts: Sequence[Fact]) -> list[Finding]:
    found = []
    for fact in facts:
        if fact.kind != "finding" or fact.polarity != PRESENT:
            continue
        value = next((f.text for f in facts if f.kind == "number" and 0 <= f.start - fact.end <= 12), "")
        found.append(Finding(name=fact.text, value=value, evidence=list(statement.evidence)))
    return found


def _unique(items: list[Grounded]) -> list[Grounded]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = item.claim().lower()
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _kept(sections: Sequence[NoteSection]) -> list[Statement]:
    return [
        s
        for section in sections
        for s in section.statements
        if s.supported is not False and not is_not_discussed(s.text)
    ]


def derive_lists(draft: NoteDraft, names: Sequence[str], transcript: Transcript) -> None:
    """Fill the lists ``names`` of ``draft`` from its supported statements and ground them."""
    sections = draft.sections
    for name in names:
        if name == "medications":
            pairs = [(s, _medications) for s in _kept(sections)]
        elif name == "allergies":
            pairs = [(s, _allergies) for s in _kept(sections)]
        elif name == "problems":
            chosen = [s for s in sections if s.key in _PROBLEM_KEYS] or sections
            pairs = [(s, _problems) for s in _kept(chosen)]
        else:
            chosen = [s for s in sections if s.key in _EXAMINATION_KEYS]
            pairs = [(s, _findings) for s in _kept(chosen)]
        items = _unique([item for statement, make in pairs for item in make(statement, extract_facts(statement.text))])
        ground_items(items, transcript)
        setattr(draft, name, items)
