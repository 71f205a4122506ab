"""An approved note version in the store, as the documents that leave: the `fhir_mappings.ApprovedNote` contract
integrators consume, and the plain text and PDFs a clinician downloads.

Only APPROVED versions convert (a superseded one only when asked for by number, for re-sends of
history); anything else raises StateError, so nothing unapproved can reach a FHIR bundle. The text and
PDF builders take a version the caller has checked is approved (see ``scribe.review.workflow``) and
show who approved it and any dispute the patient recorded.
"""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

from fhir_mappings import contract as fm
from scribe import __version__
from scribe.errors import StateError
from scribe.notes.editing import STRUCTURED, STRUCTURED_TITLES
from scribe.notes.render import (
    LETTER_TITLES,
    Alert,
    Block,
    Bullets,
    Heading,
    Line,
    Paragraph,
    Text,
    letter_blocks,
    pdf_bytes,
)
from scribe.notes.templates import load_template
from scribe.records import Letter, LetterKind
from scribe.rows import Consultation, Dispute, NoteState, NoteVersion, PatientDetails
from scribe.store.store import Store


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
        letters.append(fm.Letter(kind=kind.value, title=LETTER_TITLES[kind], pdf_base64=pdf))
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


# --- plain text and PDF downloads ----------------------------------------------------------------------


def patient_line(details: PatientDetails) -> str:
    """The patient's name, NHS number and date of birth, as far as they are known, on one line."""
    parts = [
        details.name,
        f"NHS number {details.nhs_number}" if details.nhs_number else "",
        f"born {details.birth_date}" if details.birth_date else "",
    ]
    return ", ".join(x for x in parts if x)


def approval_line(v: NoteVersion) -> str:
    """Who approved ``v`` and when (UTC), with its version number."""
    assert v.approval is not None
    return f"Approved by {v.approval.name} on {v.approval.at:%d %b %Y at %H:%M} UTC (note version {v.version})."


def _dispute_lines(disputes: list[Dispute]) -> list[str]:
    return [f"Patient dispute recorded {d.recorded_at:%d %b %Y} (version {d.version}): {d.text}" for d in disputes]


def _section_lines(v: NoteVersion) -> list[tuple[str, list[str]]]:
    """The approved note's headings and lines: sections, then the structured lists in use."""
    out = [(s.title, [st.text for st in s.statements if st.text.strip()]) for s in v.note.sections]
    for key in STRUCTURED:
        items = getattr(v.note, key)
        if items:
            out.append((STRUCTURED_TITLES[key], [i.claim() for i in items]))
    return out


def note_text(c: Consultation, v: NoteVersion, disputes: list[Dispute], patient: str) -> str:
    """The approved note as plain text for an EPR without FHIR: header, disputes, sections as bullet lists."""
    lines = [v.note.title or "Consultation note", f"Consultation on {c.created_at:%d %b %Y}"]
    if patient:
        lines.append(patient)
    lines.append(approval_line(v))
    if disputes:
        lines += ["", "THE PATIENT DISPUTES THIS NOTE:", *(f"- {line}" for line in _dispute_lines(disputes))]
    for title, items in _section_lines(v):
        lines += ["", title, *([f"- {i}" for i in items] or ["- Nothing recorded."])]
    return "\n".join(lines) + "\n"


def note_pdf_blocks(v: NoteVersion, disputes: list[Dispute], patient: str) -> list[Block]:
    """The approved note's PDF layout: approval and disputes in the banner, then its sections."""
    banner: list[Line] = [(Text(approval_line(v), "strong"),)]
    if patient:
        banner.append((Text(patient),))
    banner += [(Text(line, "warn"),) for line in _dispute_lines(disputes)]
    blocks: list[Block] = [Heading(v.note.title or "Consultation note", 1), Alert(tuple(banner))]
    for title, items in _section_lines(v):
        blocks.append(Heading(title))
        if items:
            blocks.append(Bullets(tuple((Text(i),) for i in items)))
        else:
            blocks.append(Paragraph(((Text("Nothing recorded.", "muted"),),)))
    return blocks


def letter_pdf_blocks(letter: Letter, v: NoteVersion, disputes: list[Dispute]) -> list[Block]:
    """A letter drafted from approved version ``v``, as its PDF download shows it: the approval and disputes first."""
    banner: list[Line] = [(Text(f"Drafted from the approved note. {approval_line(v)}", "muted"),)]
    banner += [(Text(line, "warn"),) for line in _dispute_lines(disputes)]
    blocks: list[Block] = [Heading(LETTER_TITLES.get(letter.kind, "Letter"), 1), Alert(tuple(banner))]
    if letter.salutation.strip():
        blocks.append(Paragraph(((Text(letter.salutation.strip()),),)))
    for paragraph in letter.paragraphs:
        text = " ".join(s.text.strip() for s in paragraph if s.text.strip())
        if text:
            blocks.append(Paragraph(((Text(text),),)))
    closing = tuple((Text(line.strip()),) for line in letter.closing.splitlines() if line.strip())
    if closing:
        blocks.append(Paragraph(closing))
    return blocks
