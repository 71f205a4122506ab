"""A corrected note on the real test FHIR server (Medplum, tests/fhir_server): what it replaces is retired.

Version 1 is sent, then version 2 (supersedes 1) with ``previous=v1``. Version 2 drops a medication
and a letter kind: on the server the old letters are superseded, the new letter is current, the
dropped medication is entered-in-error, there is one Composition for the patient and nothing twice.
The server validates every resource against R4, FHIRPath invariants included (con-5, ait-2).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from helpers.fhir_server import KINDS, fhir_base_url, fhir_client  # noqa: F401  (fixtures: base_url, client)

from fhir_mappings import ApprovedNote, document_bundle, transaction_bundle
from fhir_mappings.ids import URI_SYSTEM, identifier_value
from fhir_mappings.resources import letter_id
from fhir_mappings.sample import sample_correction_data


def _versions(drop_more: bool = False) -> tuple[ApprovedNote, ApprovedNote]:
    """The sample correction: version 2 drops version 1's Paracetamol and its letter to the patient.

    With `drop_more`, version 1 also lists a problem, an allergy and a finding that version 2 drops.
    """
    first, second = sample_correction_data()
    if drop_more:
        first["problems"].append({"name": "Asthma", "status": "ongoing"})
        first["allergies"].append({"substance": "Latex", "reaction": "hives"})
        first["findings"].append({"name": "Oxygen saturation", "value": "97", "unit": "%"})
    return ApprovedNote.model_validate(first), ApprovedNote.model_validate(second)


def _send(client: httpx.Client, bundle: dict[str, Any]) -> list[str]:
    response = client.post("", json=bundle)
    assert response.status_code == 200, response.text[:2000]
    return [entry["response"]["status"] for entry in response.json()["entry"]]


def _all(client: httpx.Client, kind: str, **params: str) -> list[dict[str, Any]]:
    found = client.get(kind, params={"_count": "100", **params})
    assert found.status_code == 200, found.text[:2000]
    return [entry["resource"] for entry in found.json().get("entry", [])]


def _counts(client: httpx.Client) -> dict[str, int]:
    return {kind: len(_all(client, kind)) for kind in KINDS}


def _by_identifier(client: httpx.Client, kind: str, resource_id: str) -> dict[str, Any]:
    [resource] = _all(client, kind, identifier=f"{URI_SYSTEM}|{identifier_value(resource_id)}")
    return resource


def _state(client: httpx.Client) -> dict[str, list[tuple[str, str]]]:
    """Each stored resource's business identifiers and status, per type: what a re-send must not change."""
    state = {}
    for kind in KINDS:
        rows = []
        for resource in _all(client, kind):
            identifiers = resource.get("identifier", [])
            identifiers = [identifiers] if isinstance(identifiers, dict) else identifiers
            keys = ",".join(sorted(f"{i['system']}|{i['value']}" for i in identifiers))
            tag = ",".join(t["code"] for t in resource.get("meta", {}).get("tag", []))
            status = resource.get("status") or str(resource.get("verificationStatus", resource.get("clinicalStatus")))
            rows.append((keys or tag, str(status)))
        state[kind] = sorted(rows)
    return state


def _assert_no_duplicates(client: httpx.Client) -> None:
    for kind, rows in _state(client).items():
        repeated = [key for key, n in Counter(key for key, _status in rows).items() if n > 1]
        assert not repeated, f"{kind} stored twice: {repeated}"


def _retire_checks(client: httpx.Client, first: ApprovedNote, second: ApprovedNote) -> None:
    old_gp = _by_identifier(client, "DocumentReference", letter_id(first, "gp", 1))
    old_patient = _by_identifier(client, "DocumentReference", letter_id(first, "patient", 1))
    new_gp = _by_identifier(client, "DocumentReference", letter_id(second, "gp", 2))
    assert old_gp["status"] == old_patient["status"] == "superseded"
    assert new_gp["status"] == "current"
    assert new_gp["relatesTo"][0]["target"]["identifier"] == old_gp["identifier"][0]
    [current] = _all(client, "DocumentReference", status="current")
    assert current["id"] == new_gp["id"]

    medicines = {m["medicationCodeableConcept"]["text"]: m for m in _all(client, "MedicationStatement")}
    assert set(medicines) == {"Simple linctus", "Paracetamol"}
    live = _all(client, "MedicationStatement", **{"status:not": "entered-in-error"})  # the query docs/fhir.md gives
    assert [m["medicationCodeableConcept"]["text"] for m in live] == ["Simple linctus"]
    assert medicines["Paracetamol"]["status"] == "entered-in-error"
    assert medicines["Simple linctus"]["status"] == "active"

    [patient] = _all(client, "Patient")
    [composition] = _all(client, "Composition", subject=f"Patient/{patient['id']}")
    assert composition["relatesTo"] == [{"code": "replaces", "targetIdentifier": document_bundle(first)["identifier"]}]
    listed = {entry["reference"] for section in composition["section"] for entry in section.get("entry", [])}
    assert f"MedicationStatement/{medicines['Paracetamol']['id']}" not in listed
    assert f"MedicationStatement/{medicines['Simple linctus']['id']}" in listed
    assert f"DocumentReference/{new_gp['id']}" in listed and f"DocumentReference/{old_gp['id']}" not in listed
    _assert_no_duplicates(client)


EXPECTED = {
    **dict.fromkeys(KINDS, 1),
    "MedicationStatement": 2,
    "Observation": 4,
    "DocumentReference": 3,  # v1 gp and patient (superseded), v2 gp (current)
    "Provenance": 2,  # one per approved version
}


def test_correction_supersedes_old_letters_and_retires_the_dropped_medication(client: httpx.Client) -> None:
    first, second = _versions()
    assert set(_send(client, transaction_bundle(first))) == {"201"}
    _send(client, transaction_bundle(second, previous=first))
    _retire_checks(client, first, second)
    assert _counts(client) == EXPECTED
    [composition] = _all(client, "Composition")
    approvals = _all(client, "Provenance", target=f"Composition/{composition['id']}")  # one per approved version
    assert sorted(p["recorded"] for p in approvals) == ["2026-03-02T10:30:00Z", "2026-03-03T09:00:00Z"]
    before = _state(client)
    assert set(_send(client, transaction_bundle(second, previous=first))) == {"200"}  # re-sending v2 changes nothing
    assert _counts(client) == EXPECTED
    assert _state(client) == before


def test_correction_works_when_the_server_never_had_the_earlier_version(client: httpx.Client) -> None:
    """Conditional PUT creates what nothing matches: the old letters arrive already superseded."""
    first, second = _versions()
    _send(client, transaction_bundle(second, previous=first))
    _retire_checks(client, first, second)
    assert _counts(client) == {**EXPECTED, "Provenance": 1}  # v1's approval was never sent


def test_dropped_problem_allergy_and_finding_are_entered_in_error_and_valid_r4(client: httpx.Client) -> None:
    first, second = _versions(drop_more=True)
    _send(client, transaction_bundle(first))
    _send(client, transaction_bundle(second, previous=first))
    conditions = {c["code"]["text"]: c for c in _all(client, "Condition")}
    assert conditions["Asthma"]["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in conditions["Asthma"]  # con-5
    assert conditions["Cough"]["clinicalStatus"]["coding"][0]["code"] == "active"
    allergies = {a["code"]["text"]: a for a in _all(client, "AllergyIntolerance")}
    assert allergies["Latex"]["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in allergies["Latex"]  # ait-2
    assert allergies["Penicillin"]["clinicalStatus"]["coding"][0]["code"] == "active"
    observations = {o["code"]["text"]: o["status"] for o in _all(client, "Observation")}
    assert observations == {
        "Pulse": "final",
        "Temperature": "final",
        "Blood pressure": "final",
        "Chest": "final",
        "Oxygen saturation": "entered-in-error",
    }
    _assert_no_duplicates(client)


def test_the_server_enforces_the_entered_in_error_invariants(client: httpx.Client) -> None:
    """The check above has teeth: a clinical status next to entered-in-error is refused (con-5)."""
    first, second = _versions(drop_more=True)
    bundle = transaction_bundle(second, previous=first)
    [asthma] = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Condition" and e["resource"]["code"]["text"] == "Asthma"
    ]
    asthma["clinicalStatus"] = {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
    }
    response = client.post("", json=bundle)
    assert response.status_code == 400, response.text[:2000]
    assert "con-5" in response.text
    assert _counts(client) == dict.fromkeys(KINDS, 0)
