"""fhir_mappings' transaction Bundles on the real test FHIR server (Medplum, tests/fhir_server).

Checks what only a server can: R4 validation of every stored resource, urn:uuid references resolved,
and conditional writes: a re-send updates the same records, a new version adds only its letter and
its Provenance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from helpers.fhir_server import KINDS, fhir_base_url, fhir_client  # noqa: F401  (fixtures: base_url, client)

from fhir_mappings import ApprovedNote, document_bundle, transaction_bundle
from fhir_mappings.sample import sample_note, sample_note_data


def _send(client: httpx.Client, bundle: dict[str, Any]) -> list[str]:
    response = client.post("", json=bundle)
    assert response.status_code == 200, response.text[:2000]
    return [entry["response"]["status"] for entry in response.json()["entry"]]


def _counts(client: httpx.Client) -> dict[str, int]:
    return {kind: len(client.get(kind).json().get("entry", [])) for kind in KINDS}


def test_sent_twice_stores_each_record_once(client: httpx.Client) -> None:
    bundle = transaction_bundle(sample_note())
    assert set(_send(client, bundle)) == {"201"}
    first = _counts(client)
    assert first == {**dict.fromkeys(KINDS, 1), "Observation": 4}
    assert set(_send(client, bundle)) == {"200"}
    assert _counts(client) == first


def test_references_resolve_and_composition_is_found_by_patient(client: httpx.Client) -> None:
    _send(client, transaction_bundle(sample_note()))
    patients = client.get("Patient", params={"identifier": "https://fhir.nhs.uk/Id/nhs-number|9434765919"}).json()
    [patient] = [entry["resource"] for entry in patients["entry"]]
    found = client.get("Composition", params={"subject": f"Patient/{patient['id']}"}).json()
    [composition] = [entry["resource"] for entry in found["entry"]]
    assert composition["status"] == "final"
    references = [entry["reference"] for section in composition["section"] for entry in section.get("entry", [])]
    assert references and all(not ref.startswith("urn:") for ref in references)
    for reference in references:
        assert client.get(reference).status_code == 200


def test_new_version_updates_records_and_adds_its_letter(client: httpx.Client) -> None:
    _send(client, transaction_bundle(sample_note()))
    data = sample_note_data(version=2)
    data["supersedes_version"] = 1
    data["problems"][0]["status"] = "resolved"
    _send(client, transaction_bundle(ApprovedNote.model_validate(data)))
    counts = _counts(client)
    assert counts["Composition"] == counts["Condition"] == 1
    assert counts["DocumentReference"] == counts["Provenance"] == 2
    [condition] = [e["resource"] for e in client.get("Condition").json()["entry"]]
    assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"


def test_document_bundle_is_accepted_as_a_bundle(client: httpx.Client) -> None:
    response = client.post("Bundle", json=document_bundle(sample_note()))
    assert response.status_code == 201, response.text[:2000]


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "fhir"


def test_committed_examples_are_accepted_and_the_documented_searches_work(client: httpx.Client) -> None:
    """docs/fhir/example-*.json on the server, and the queries docs/fhir.md tells integrators to run."""
    transaction = json.loads((EXAMPLES / "example-transaction-bundle.json").read_text(encoding="utf-8"))
    assert set(_send(client, transaction)) == {"201"}
    document = json.loads((EXAMPLES / "example-document-bundle.json").read_text(encoding="utf-8"))
    assert client.post("Bundle", json=document).status_code == 201
    found = client.get("Patient", params={"identifier": "https://fhir.nhs.uk/Id/nhs-number|9434765919"}).json()
    [patient] = [entry["resource"] for entry in found["entry"]]
    subject = f"Patient/{patient['id']}"
    [composition] = [e["resource"] for e in client.get("Composition", params={"subject": subject}).json()["entry"]]
    letters = client.get("DocumentReference", params={"subject": subject, "status": "current"}).json()["entry"]
    assert len(letters) == 1
    provenances = client.get("Provenance", params={"target": f"Composition/{composition['id']}"}).json()["entry"]
    [provenance] = [entry["resource"] for entry in provenances]
    roles = {agent["type"]["coding"][0]["code"]: agent["who"]["reference"] for agent in provenance["agent"]}
    assert set(roles) == {"attester", "assembler"}
    assert roles["attester"] == composition["attester"][0]["party"]["reference"]
    assert client.get(roles["assembler"]).json()["resourceType"] == "Device"
