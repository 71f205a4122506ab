"""The approved note contract: JSON schema export and precise validation errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fhir_mappings import ApprovedNote, json_schema, load_approved_note, nhs_number_error
from fhir_mappings.sample import sample_note_data

ROOT = Path(__file__).resolve().parents[2]


def _errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        ApprovedNote.model_validate(data)
    return [(".".join(str(part) for part in e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_sample_is_valid_and_round_trips_through_json() -> None:
    note = ApprovedNote.model_validate(sample_note_data())
    again = load_approved_note(note.model_dump_json())
    assert again == note
    assert note.author == note.approval.clinician  # no practitioner given: the approver wrote it


def test_json_schema_exports_the_contract() -> None:
    schema = json_schema()
    text = json.dumps(schema)  # plain JSON, nothing Python-only
    assert schema["title"] == "ApprovedNote"
    assert {"consultation_id", "version", "sections", "approval", "patient", "encounter", "software"} <= set(
        schema["required"]
    )
    assert "nhs_number" in text and "ods_code" in text and "pdf_base64" in text
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("nhs_number", "expected"),
    [
        ("9434765918", "fails the Modulus 11 check (last digit should be 9, is 8)"),
        ("943476591", "must be exactly 10 digits (spaces allowed), got 9 digits"),
        ("94347659AB", "got 8 digits and 2 other characters"),
        ("0000000060", "give check digit 10"),
    ],
)
def test_bad_nhs_number_gets_a_precise_error(nhs_number: str, expected: str) -> None:
    data = sample_note_data()
    data["patient"]["nhs_number"] = nhs_number
    errors = _errors(data)
    assert len(errors) == 1
    loc, msg = errors[0]
    assert loc == "patient.nhs_number"
    assert expected in msg


def test_nhs_number_error_message_does_not_echo_the_number() -> None:
    data = sample_note_data()
    data["patient"]["nhs_number"] = "9434765918"
    with pytest.raises(ValidationError) as caught:
        ApprovedNote.model_validate(data)
    assert "9434765918" not in str(caught.value)


def test_nhs_number_with_spaces_is_normalised_and_empty_means_unknown() -> None:
    data = sample_note_data()
    data["patient"]["nhs_number"] = "943 476 5919"
    assert ApprovedNote.model_validate(data).patient.nhs_number == "9434765919"
    data["patient"]["nhs_number"] = ""
    assert ApprovedNote.model_validate(data).patient.nhs_number is None
    assert nhs_number_error("9434765919") is None


def test_unknown_field_is_refused_by_name() -> None:
    data = sample_note_data()
    data["sections"][0]["statments"] = []
    assert ("sections.0.statments", "Extra inputs are not permitted") in _errors(data)


def test_missing_approval_and_naive_time_are_named() -> None:
    data = sample_note_data()
    del data["approval"]
    assert ("approval", "Field required") in _errors(data)
    data = sample_note_data()
    data["approval"]["at"] = "2026-03-02T10:30:00"
    [(loc, msg)] = _errors(data)
    assert loc == "approval.at" and "timezone" in msg


def test_letter_must_hold_a_pdf() -> None:
    data = sample_note_data()
    data["letters"][0]["pdf_base64"] = "aGVsbG8="  # "hello"
    [(loc, msg)] = _errors(data)
    assert loc == "letters.0.pdf_base64" and "does not hold a PDF" in msg
    data["letters"][0]["pdf_base64"] = "not base64!"
    [(loc, msg)] = _errors(data)
    assert "not valid standard base64" in msg


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["encounter"].update(end="2026-03-02T09:00:00+00:00"), "is before its start"),
        (lambda d: d.update(version=2, supersedes_version=2), "must be lower than version 2"),
        (lambda d: d["sections"].append(dict(d["sections"][0])), "repeated: presenting_complaint"),
        (lambda d: d["sections"][0].update(loinc="10154"), "sections.0.loinc"),
        (lambda d: d["organisation"].update(ods_code="a99"), "organisation.ods_code"),
        (lambda d: d.update(sections=[]), "sections"),
        (lambda d: d["approval"]["clinician"]["identifier"].update(system="gmc"), "http(s) URL or a urn"),
        (lambda d: d["sections"][1]["statements"][0].update(text="   "), "sections.1.statements.0.text"),
    ],
)
def test_inconsistent_note_is_refused_with_the_reason(change: Any, expected: str) -> None:
    data = sample_note_data()
    change(data)
    errors = _errors(data)
    assert any(expected in loc or expected in msg for loc, msg in errors), errors


def test_malformed_json_text_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="Invalid JSON"):
        load_approved_note('{"consultation_id": ')


def test_package_does_not_import_scribe() -> None:
    code = (
        "import sys, fhir_mappings, fhir_mappings.sample; "
        "print(sorted(m for m in sys.modules if m.startswith('scribe')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for path in (ROOT / "fhir_mappings").glob("*.py"):
        source = path.read_text()
        assert "import scribe" not in source and "from scribe" not in source, path
