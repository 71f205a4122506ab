"""A small, fictitious approved note: for documentation, tests and benchmarks.

The NHS number is from the NHS test range (9434765919) and the ODS code is a made-up practice;
no real person is described.
"""

from __future__ import annotations

import base64
from typing import Any

from .contract import ApprovedNote

_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def sample_note_data(consultation_id: str = "c0ffee00sample", version: int = 1) -> dict[str, Any]:
    """The sample approved note as JSON-ready data; change the id to make distinct consultations."""
    return {
        "consultation_id": consultation_id,
        "version": version,
        "template": "gp",
        "title": "GP consultation note",
        "sections": [
            {
                "key": "presenting_complaint",
                "title": "Presenting complaint",
                "loinc": "10154-3",
                "statements": [{"text": "Cough for two weeks.", "supported": True}],
            },
            {
                "key": "history",
                "title": "History",
                "loinc": "10164-2",
                "statements": [
                    {"text": "Dry cough, worse at night, no fever.", "supported": True},
                    {"text": "No chest pain or breathlessness.", "supported": True, "edited": True},
                ],
            },
            {
                "key": "examination",
                "title": "Examination",
                "loinc": "29545-1",
                "statements": [{"text": "Chest clear. Pulse 72, temperature 36.8 C.", "supported": True}],
            },
            {
                "key": "plan",
                "title": "Plan",
                "loinc": "18776-5",
                "statements": [
                    {"text": "Simple linctus; return if fever or breathlessness (<2 weeks).", "supported": True}
                ],
            },
        ],
        "medications": [
            {
                "name": "Simple linctus",
                "dose": "5 ml",
                "route": "oral",
                "frequency": "three times a day",
                "change": "started",
            }
        ],
        "allergies": [{"substance": "Penicillin", "reaction": "rash"}],
        "problems": [{"name": "Cough", "status": "new"}],
        "findings": [
            {"name": "Pulse", "value": "72", "unit": "bpm"},
            {"name": "Temperature", "value": "36.8", "unit": "C"},
            {"name": "Blood pressure", "value": "128/82", "unit": "mmHg"},
            {"name": "Chest", "value": "clear"},
        ],
        "approval": {
            "clinician": {
                "name": "Dr Alex Example",
                "user_id": "7",
                "identifier": {"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": "C1234567"},
            },
            "at": "2026-03-02T10:30:00+00:00",
            "attestation": "I have reviewed this note and it is an accurate record of the consultation.",
        },
        "disputes": [],
        "patient": {"name": "Sam Sample", "nhs_number": "9434765919", "birth_date": "1980-05-17"},
        "organisation": {"name": "Example Surgery", "ods_code": "A99999"},
        "encounter": {
            "start": "2026-03-02T10:00:00+00:00",
            "end": "2026-03-02T10:12:00+00:00",
            "type_text": "GP consultation",
        },
        "letters": [{"kind": "gp", "title": "Letter to GP", "pdf_base64": base64.b64encode(_PDF).decode()}],
        "software": {
            "name": "scribe",
            "version": "0.1.0",
            "models": [
                {"role": "speech recognition", "name": "whisper-base", "version": "ct2"},
                {"role": "note drafting", "name": "Qwen2.5-Coder-1.5B-Instruct", "version": "Q4_K_M"},
            ],
        },
    }


def sample_note(consultation_id: str = "c0ffee00sample", version: int = 1) -> ApprovedNote:
    """The sample approved note, checked."""
    return ApprovedNote.model_validate(sample_note_data(consultation_id, version))


def sample_correction_data(consultation_id: str = "c0ffee00sample") -> tuple[dict[str, Any], dict[str, Any]]:
    """Two approved versions of one consultation as JSON-ready data: the second corrects the first.

    Version 1 is the sample with a second medicine (Paracetamol) and a second letter (to the patient);
    version 2 supersedes it, drops both and rewrites the plan.
    """
    first = sample_note_data(consultation_id)
    first["medications"].append({"name": "Paracetamol", "dose": "1 g", "route": "oral", "change": "continued"})
    first["letters"].append({**first["letters"][0], "kind": "patient", "title": "Letter to patient"})
    second = sample_note_data(consultation_id, version=2)
    second["supersedes_version"] = 1
    second["approval"]["at"] = "2026-03-03T09:00:00+00:00"
    second["sections"][-1]["statements"] = [
        {"text": "Simple linctus; paracetamol not needed. Return if fever or breathlessness.", "edited": True}
    ]
    return first, second


def sample_correction(consultation_id: str = "c0ffee00sample") -> tuple[ApprovedNote, ApprovedNote]:
    """The two sample versions, checked: (version 1, version 2 that corrects it)."""
    first, second = sample_correction_data(consultation_id)
    return ApprovedNote.model_validate(first), ApprovedNote.model_validate(second)
