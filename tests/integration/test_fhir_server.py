"""The test FHIR server itself (tests/fhir_server): a real R4 server that the FHIR export tests can trust.

Bundles here are written by hand as JSON, so these tests check the server, not fhir_mappings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from helpers.fhir_server import R4_SCHEMA, ensure_installed, fhir_server, pending_faults, reset, set_faults

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
PATIENT_URN = "urn:uuid:4f2c6a1e-0d3b-5c7a-9e8f-1a2b3c4d5e6f"
COMPOSITION_URN = "urn:uuid:7a8b9c0d-1e2f-5a3b-8c4d-5e6f7a8b9c0d"
HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """One server for the module; each test starts from an empty store."""
    with fhir_server() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    reset(base_url)
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as http:
        yield http


def _transaction(nhs_number: str = "9000000009") -> dict[str, Any]:
    """A transaction Bundle: Patient and Composition, both created only if their identifier is new."""
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER, "value": nhs_number}],
        "name": [{"family": "Example", "given": ["Sam"]}],
        "birthDate": "1970-01-01",
    }
    composition = {
        "resourceType": "Composition",
        # identifier value equal to the fullUrl: the server must keep it as sent (see server.mjs)
        "identifier": {"system": "urn:ietf:rfc:3986", "value": COMPOSITION_URN},
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}], "text": "Consult note"},
        "subject": {"reference": PATIENT_URN},
        "date": "2026-11-26T10:00:00Z",
        "author": [{"display": "Dr Alex Jones"}],
        "title": "Consultation note",
        "section": [
            {
                "title": "History",
                "code": {"coding": [{"system": "http://loinc.org", "code": "10164-2"}]},
                "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Cough.</div>'},
            }
        ],
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": PATIENT_URN,
                "resource": patient,
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={NHS_NUMBER}|{nhs_number}"},
            },
            {
                "fullUrl": COMPOSITION_URN,
                "resource": composition,
                "request": {
                    "method": "POST",
                    "url": "Composition",
                    "ifNoneExist": f"identifier=urn:ietf:rfc:3986|{COMPOSITION_URN}",
                },
            },
        ],
    }


def _search(client: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [entry["resource"] for entry in bundle.get("entry", [])]


def test_transaction_creates_resolves_references_and_reads_back(client: httpx.Client) -> None:
    response = client.post("", content=json.dumps(_transaction()))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["resourceType"] == "Bundle" and result["type"] == "transaction-response"
    statuses = [entry["response"]["status"] for entry in result["entry"]]
    assert [status.split()[0] for status in statuses] == ["201", "201"]
    patient_ref, composition_ref = (entry["response"]["location"] for entry in result["entry"])
    assert patient_ref.startswith("Patient/") and composition_ref.startswith("Composition/")

    patient = client.get(patient_ref.split("/_history")[0]).json()
    assert patient["identifier"] == [{"system": NHS_NUMBER, "value": "9000000009"}]
    composition_response = client.get(composition_ref.split("/_history")[0])
    assert composition_response.status_code == 200
    assert composition_response.headers["content-type"].startswith("application/fhir+json")
    assert composition_response.headers["etag"].startswith('W/"')
    composition = composition_response.json()
    assert composition["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert composition["identifier"]["value"] == COMPOSITION_URN  # an identifier is not a reference
    assert composition["section"][0]["code"]["coding"][0]["code"] == "10164-2"


def test_search_composition_by_subject(client: httpx.Client) -> None:
    client.post("", content=json.dumps(_transaction("9000000009"))).raise_for_status()
    other = _transaction("9000000017")
    other["entry"][1]["resource"]["identifier"]["value"] = "urn:uuid:00000000-0000-5000-8000-000000000017"
    other["entry"][1]["request"]["ifNoneExist"] = (
        "identifier=urn:ietf:rfc:3986|urn:uuid:00000000-0000-5000-8000-000000000017"
    )
    client.post("", content=json.dumps(other)).raise_for_status()

    (patient,) = _search(client, "Patient", identifier=f"{NHS_NUMBER}|9000000009")
    found = _search(client, "Composition", subject=f"Patient/{patient['id']}")
    assert [c["subject"]["reference"] for c in found] == [f"Patient/{patient['id']}"]
    assert len(_search(client, "Composition")) == 2


def test_sending_twice_with_conditional_create_stores_one_record(client: httpx.Client) -> None:
    first = client.post("", content=json.dumps(_transaction())).json()
    second = client.post("", content=json.dumps(_transaction()))
    assert second.status_code == 200, second.text
    assert [e["response"]["status"].split()[0] for e in second.json()["entry"]] == ["200", "200"]
    assert [e["response"]["location"] for e in second.json()["entry"]] == [
        e["response"]["location"] for e in first["entry"]
    ]
    assert len(_search(client, "Patient", identifier=f"{NHS_NUMBER}|9000000009")) == 1
    assert len(_search(client, "Composition", identifier=f"urn:ietf:rfc:3986|{COMPOSITION_URN}")) == 1


def test_conditional_update_replaces_the_record(client: httpx.Client) -> None:
    def put(family: str) -> httpx.Response:
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": PATIENT_URN,
                    "resource": {
                        "resourceType": "Patient",
                        "identifier": [{"system": NHS_NUMBER, "value": "9000000009"}],
                        "name": [{"family": family}],
                    },
                    "request": {"method": "PUT", "url": f"Patient?identifier={NHS_NUMBER}|9000000009"},
                }
            ],
        }
        return client.post("", content=json.dumps(bundle))

    assert put("Before").json()["entry"][0]["response"]["status"].startswith("201")
    assert put("After").json()["entry"][0]["response"]["status"].startswith("200")
    (patient,) = _search(client, "Patient", identifier=f"{NHS_NUMBER}|9000000009")
    assert patient["name"] == [{"family": "After"}]
    history = client.get(f"Patient/{patient['id']}/_history").json()
    assert len(history["entry"]) == 2


def test_large_conditional_transaction_keeps_codes_and_identifiers_as_sent(client: httpx.Client) -> None:
    """Twelve conditional entries (Medplum alone refuses more than 8) and strings that name a fullUrl."""
    bundle = _transaction()
    for n in range(10):
        urn = f"urn:uuid:00000000-0000-5000-8000-{n:012d}"
        observation = {
            "resourceType": "Observation",
            "meta": {"tag": [{"system": "urn:ietf:rfc:3986", "code": urn}]},  # a code, not a reference
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": urn}],
            "status": "final",
            "code": {"text": f"finding {n}"},
            "subject": {"reference": PATIENT_URN},
            "valueString": "normal",
        }
        url = f"Observation?identifier={quote(f'urn:ietf:rfc:3986|{urn}', safe='')}"  # percent-encoded
        bundle["entry"].append({"fullUrl": urn, "resource": observation, "request": {"method": "PUT", "url": url}})
    for _ in range(2):
        response = client.post("", content=json.dumps(bundle))
        assert response.status_code == 200, response.text
    observations = _search(client, "Observation")
    assert len(observations) == 10
    (patient,) = _search(client, "Patient")
    for observation in observations:
        urn = observation["identifier"][0]["value"]
        assert urn.startswith("urn:uuid:")
        assert observation["meta"]["tag"][0]["code"] == urn
        assert observation["subject"] == {"reference": f"Patient/{patient['id']}"}


def test_document_bundle_is_stored_and_checked_with_its_invariants(client: httpx.Client) -> None:
    entries = [{"fullUrl": e["fullUrl"], "resource": e["resource"]} for e in reversed(_transaction()["entry"])]
    document = {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:0b9d1c2e-3f4a-5b6c-8d7e-9f0a1b2c3d4e"},
        "timestamp": "2026-11-26T10:00:00Z",
        "entry": entries,
    }
    stored = client.post("Bundle", content=json.dumps(document))
    assert stored.status_code == 201, stored.text
    assert stored.headers["location"].startswith(f"{str(client.base_url).rstrip('/')}/Bundle/")
    read = client.get(f"Bundle/{stored.json()['id']}").json()
    assert read["entry"][0]["resource"]["subject"] == {"reference": PATIENT_URN}  # kept as sent, not resolved

    del document["identifier"]  # bdl-9: a document must have an identifier
    refused = client.post("Bundle", content=json.dumps(document))
    assert refused.status_code == 400
    assert "bdl-9" in json.dumps(refused.json())
    assert client.post("", content=json.dumps(document)).status_code == 400  # not a batch or transaction


def test_unknown_resource_is_404(client: httpx.Client) -> None:
    response = client.get("Composition/5b0c2c52-0000-5000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get("NotAType/1").status_code == 404


def test_invalid_resource_is_400_and_a_failed_transaction_stores_nothing(client: httpx.Client) -> None:
    response = client.post("Patient", content=json.dumps({"resourceType": "Patient", "colour": "blue"}))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.colour"]

    bundle = _transaction()
    del bundle["entry"][1]["resource"]["status"]  # required in Composition
    response = client.post("", content=json.dumps(bundle))
    assert response.status_code == 400
    assert "Composition.status" in json.dumps(response.json())
    assert _search(client, "Patient") == []  # the Patient entry was rolled back


def test_wrong_content_type_is_415(client: httpx.Client) -> None:
    response = client.post("Patient", content="{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_faults_from_the_environment_fail_the_next_posts_in_turn() -> None:
    with fhir_server(faults="500,201") as url, httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        assert http.get("metadata").status_code == 200  # GETs are never faulted
        failed = http.post("", content=json.dumps(_transaction()))
        assert failed.status_code == 500
        assert failed.json()["resourceType"] == "OperationOutcome"
        assert _search(http, "Patient") == []  # the faulted POST stored nothing
        assert http.post("", content=json.dumps(_transaction())).status_code == 200
        assert http.post("", content=json.dumps(_transaction())).status_code == 200
        assert len(_search(http, "Patient")) == 1


def test_faults_set_at_run_time_including_a_dropped_connection(client: httpx.Client, base_url: str) -> None:
    set_faults(base_url, ["503", "reset"])
    assert pending_faults(base_url) == ["503", "reset"]
    assert client.post("", content=json.dumps(_transaction())).status_code == 503
    with pytest.raises(httpx.TransportError):  # no answer at all
        client.post("", content=json.dumps(_transaction()))
    assert pending_faults(base_url) == []
    assert client.post("", content=json.dumps(_transaction())).status_code == 200


def test_r4_json_schema_is_available() -> None:
    ensure_installed()
    schema = json.loads(R4_SCHEMA.read_text())
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0"
    assert {"Bundle", "Composition", "Patient", "Provenance"} <= set(schema["definitions"])


def test_a_fault_list_it_cannot_read_stops_the_server_with_the_reason() -> None:
    with pytest.raises(RuntimeError, match='entry "teapot" is not understood'), fhir_server(faults="500,teapot"):
        pass  # pragma: no cover


@pytest.mark.parametrize("status", ["429", "503"])
def test_throttling_and_unavailable_faults_say_when_to_retry(client: httpx.Client, base_url: str, status: str) -> None:
    set_faults(base_url, [status, "500"])
    throttled = client.post("", content=json.dumps(_transaction()))
    assert throttled.status_code == int(status)
    assert throttled.headers["retry-after"] == "1"
    failed = client.post("", content=json.dumps(_transaction()))
    assert failed.status_code == 500
    assert "retry-after" not in failed.headers
    assert _search(client, "Patient") == []


def test_faults_apply_to_put_as_well_as_post(client: httpx.Client, base_url: str) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Put"}]}
    set_faults(base_url, ["503", "reset"])
    assert client.get("Patient").status_code == 200  # GET does not use up a fault
    assert client.put("Patient/p1", content=json.dumps(patient)).status_code == 503
    with pytest.raises(httpx.TransportError):
        client.put("Patient/p1", content=json.dumps(patient))
    assert client.get("Patient/p1").status_code == 404  # neither stored it
    assert client.put("Patient/p1", content=json.dumps(patient)).status_code == 200


def test_slow_fault_stores_although_the_client_gave_up_and_a_resend_does_not_duplicate(
    client: httpx.Client, base_url: str
) -> None:
    set_faults(base_url, ["slow:3"])
    assert pending_faults(base_url) == ["slow:3"]
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        client.post("", content=json.dumps(_transaction()), timeout=1.0)
    assert time.monotonic() - started < 2.5  # the client's timeout, not the server's delay
    (stored,) = _search(client, "Patient")  # the write happened although no answer came
    resent = client.post("", content=json.dumps(_transaction()))  # what a retrying client does
    assert resent.status_code == 200, resent.text
    assert [e["response"]["status"].split()[0] for e in resent.json()["entry"]] == ["200", "200"]
    assert resent.json()["entry"][0]["response"]["location"].startswith(f"Patient/{stored['id']}")
    assert len(_search(client, "Patient")) == 1
    assert len(_search(client, "Composition")) == 1


def test_slow_fault_answers_a_patient_client_late_but_normally(client: httpx.Client, base_url: str) -> None:
    set_faults(base_url, ["slow:0.5"])
    started = time.monotonic()
    response = client.post("Patient", content=json.dumps({"resourceType": "Patient"}))
    assert response.status_code == 201
    assert time.monotonic() - started >= 0.5


def test_a_fault_list_with_a_bad_slow_entry_is_refused(base_url: str) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        set_faults(base_url, ["slow:soon"])
    with pytest.raises(RuntimeError, match='"slow:-1" is not understood'), fhir_server(faults="slow:-1"):
        pass  # pragma: no cover
