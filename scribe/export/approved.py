"""An approved note version in the store, as the `fhir_mappings.ApprovedNote` contract integrators consume.

Only APPROVED versions convert (a superseded one only when asked for by number, for re-sends of
history); anything else raises StateError, so nothing unapproved can reach a FHIR bundle.
"""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

from fhir_mappings import contract as fm
from scribe import __version__
from scribe.errors import StateError
from scribe.notes.render import letter_blocks, pdf_bytes
from scribe.notes.templates import load_template
from scribe.records import LetterKind
from scribe.rows import NoteState, NoteVersion, PatientDetails
from scribe.store.store import Store

_LETTER_TITLES = {LetterKind.GP: "Letter to the GP", LetterKind.PATIENT: "Letter to the patient"}


def _patient(details: PatientDetails) -> fm.Patient:
    birth = date.fromisoformat(details.birth_date) if details.birth_date else None
    return fm.Patient(name=details.name, nhs_number=details.nhs_number or None, birth_date=birth)


def _sections(version: NoteVersion, templates_dir: Path | None) -> list[fm.Section]:
    template = load_template(version.note.template, templates_dir)
    loinc = {spec.key: spec.loinc for spec in template.sections}
    return [
        fm.Section(
            key=section.key,
            title=section.title,
            loinc=loinc.get(section.key),
            statements=[fm.Statement(text=s.text, supported=s.supported, edited=s.edited) for s in section.statements],
        )
        for section in version.note.sections
    ]


def _letters(store: Store, consultation_id: str, version: NoteVersion) -> list[fm.Letter]:
    letters = []
    for kind in LetterKind:
        letter = store.notes.get_letter(consultation_id, kind, version.version)
        if letter is None or not letter.complete or not letter.statements():
            continue
        footer = f"scribe {__version__}: drafted by a local model from an approved note (version {version.version})"
        pdf = base64.b64encode(pdf_bytes(letter_blocks(letter, evidence=False), footer=footer)).decode()
        letters.append(fm.Letter(kind=kind.value, title=_LETTER_TITLES[kind], pdf_base64=pdf))
    return letters


def approved_note(
    store: Store,
    consultation_id: str,
    *,
    version: int | None = None,
    organisation: fm.Organisation | None = None,
    templates_dir: Path | None = None,
) -> fm.ApprovedNote:
    """The approved version (default: the current one) of a consultation as an ``ApprovedNote``."""
    consultation = store.consultations.get(consultation_id)
    v = store.notes.get_version(consultation_id, version)
    allowed = (NoteState.APPROVED,) if version is None else (NoteState.APPROVED, NoteState.SUPERSEDED)
    if v.state not in allowed or v.approval is None:
        raise StateError(
            f"version {v.version} of consultation {consultation_id} is {v.state.value}, not approved; "
            "only a clinician-approved note can be exported"
        )
    note = v.note
    approver = fm.Clinician(name=v.approval.name, user_id=str(v.approval.user_id))
    earlier = store.notes.get_version(consultation_id, v.based_on) if v.based_on else None
    transcript = store.notes.get_transcript(consultation_id)
    models = [fm.Model(role="note drafting", name=note.model)] if note.model else []
    if transcript is not None and transcript.model:
        models.insert(0, fm.Model(role="speech recognition", name=transcript.model))
    metrics = consultation.metrics
    return fm.ApprovedNote(
        consultation_id=consultation_id,
        version=v.version,
        supersedes_version=earlier.version if earlier and earlier.approval is not None else None,
        template=note.template,
        title=note.title or note.template,
        sections=_sections(v, templates_dir),
        medications=[
            fm.Medication(name=m.name, dose=m.dose, route=m.route, frequency=m.frequency, change=m.change.value)
            for m in note.medications
        ],
        allergies=[fm.Allergy(substance=a.substance, reaction=a.reaction) for a in note.allergies],
        problems=[fm.Problem(name=p.name, status=p.status) for p in note.problems],
        findings=[fm.Finding(name=f.name, value=f.value, unit=f.unit) for f in note.findings],
        approval=fm.Approval(clinician=approver, at=v.approval.at, attestation=v.approval.attestation),
        disputes=[fm.Dispute(text=d.text, recorded_at=d.recorded_at) for d in store.notes.disputes(consultation_id)],
        patient=_patient(store.consultations.patient(consultation_id)),
        organisation=organisation,
        encounter=fm.Encounter(
            start=metrics.recording_started_at or consultation.created_at,
            end=metrics.recording_stopped_at,
            type_text=note.title,
        ),
        letters=_letters(store, consultation_id, v),
        software=fm.Software(name="scribe", version=__version__, models=models),
    )
