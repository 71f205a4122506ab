"""An approved version in a real store becomes a valid fhir_mappings.ApprovedNote, and only approved ones do."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from helpers.store_helpers import drafted_consultation, make_settings

from fhir_mappings import document_bundle
from scribe.errors import StateError
from scribe.export import approved_note
from scribe.records import (
    Letter,
    LetterKind,
    Medication,
    MedicationChange,
    NoteDraft,
    NoteSection,
    RemovedStatement,
    Statement,
)
from scribe.rows import Approval
from scribe.store import open_store


def _note() -> NoteDraft:
    return NoteDraft(
        template="gp",
        title="GP consultation note",
        model="qwen2.5-coder-1.5b-instruct",
        sections=[
            NoteSection(key="history", title="History", statements=[Statement(text="Knee pain.", supported=True)]),
            NoteSection(key="plan", title="Plan", statements=[Statement(text="Ibuprofen.", edited=True)]),
        ],
        medications=[Medication(name="ibuprofen", dose="400 mg", change=MedicationChange.STARTED)],
    )


@pytest.fixture
def filled(tmp_path: Path):
    store = open_store(make_settings(tmp_path))
    cid, user = drafted_consultation(store, _note())
    yield store, cid, user
    store.close()


def test_only_approved_versions_convert(filled) -> None:
    store, cid, _ = filled
    with pytest.raises(StateError, match="not approved"):
        approved_note(store, cid)


def test_approved_version_maps_every_part(filled) -> None:
    store, cid, user = filled
    letter = Letter(kind=LetterKind.PATIENT, paragraphs=[[Statement(text="You have knee pain.", supported=True)]])
    store.notes.put_letter(cid, 1, letter)
    store.notes.approve(
        cid, 1, Approval(user_id=user.id, name=user.full_name, attestation="I have reviewed this note.")
    )
    store.notes.add_dispute(cid, 1, "I did not agree to ibuprofen.", user.id)
    note = approved_note(store, cid)
    assert (note.consultation_id, note.version, note.supersedes_version) == (cid, 1, None)
    assert [s.key for s in note.sections] == ["history", "plan"]
    assert note.sections[0].loinc and note.sections[1].statements[0].edited
    assert note.medications[0].change == "started" and note.medications[0].dose == "400 mg"
    assert note.approval.clinician.name == "Dr Alice Smith" and note.approval.at.tzinfo is not None
    assert note.patient.nhs_number == "9434765919" and note.patient.birth_date.isoformat() == "1970-02-03"
    assert [d.text for d in note.disputes] == ["I did not agree to ibuprofen."]
    assert [(m.role, m.name) for m in note.software.models] == [("note drafting", "qwen2.5-coder-1.5b-instruct")]
    assert note.letters[0].kind == "patient" and base64.b64decode(note.letters[0].pdf_base64).startswith(b"%PDF-")
    bundle = document_bundle(note)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"


def test_a_removed_statement_is_not_part_of_the_approved_note_or_its_bundle(tmp_path: Path) -> None:
    store = open_store(make_settings(tmp_path))
    removed = RemovedStatement(
        section="plan", statement=Statement(text="Knee MRI booked.", evidence=[1], supported=False, reason="unsaid")
    )
    cid, user = drafted_consultation(store, _note().model_copy(update={"removed": [removed]}))
    store.notes.approve(
        cid, 1, Approval(user_id=user.id, name=user.full_name, attestation="I have reviewed this note.")
    )
    note = approved_note(store, cid)
    assert "Knee MRI" not in note.model_dump_json()
    bundle = json.dumps(document_bundle(note))
    assert "Ibuprofen." in bundle and "Knee MRI" not in bundle
    store.close()


def test_an_approved_correction_supersedes_the_earlier_version(filled) -> None:
    store, cid, user = filled
    store.notes.approve(cid, 1, Approval(user_id=user.id, name=user.full_name, attestation="Reviewed."))
    store.notes.add_version(cid, _note(), created_by=user.id, based_on=1)
    store.notes.approve(cid, 2, Approval(user_id=user.id, name=user.full_name, attestation="Reviewed again."))
    assert approved_note(store, cid).supersedes_version == 1
    assert approved_note(store, cid, version=1).version == 1  # superseded history, asked for by number
