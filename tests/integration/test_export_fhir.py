"""Approved notes sent from a real store to a real FHIR R4 server (Medplum in memory on 127.0.0.1).

Faults are the server's own (SCRIBE_FHIR_FAULTS): an injected 500, a reply that comes after the
client gave up although the write happened, a closed port. Every attempt must be recorded and
audited, a re-send must never duplicate, and nothing unapproved may leave.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.fhir_server import fhir_server, reset, set_faults, smart_keys, stats
from helpers.local_server import free_port
from helpers.store_helpers import approved_consultation, make_settings, note

from scribe.errors import ExportAuthError, ExportRefusedError, ExportUnreachableError, StateError
from scribe.export.fhir import Actor, send_approved
from scribe.export.fhir_client import FhirClient
from scribe.rows import Approval, ConsultationStatus, NoteState, PatientDetails, Role
from scribe.store import Store, open_store

ACTOR = Actor(user_id=None, username="cli:test")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with fhir_server() as base_url:
        yield base_url


@pytest.fixture
def base_url(server: str) -> str:
    reset(server)
    return server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(make_settings(tmp_path))
    yield store
    store.close()


def _total(base_url: str, resource_type: str, **params: str) -> int:
    with FhirClient(base_url) as client:
        return int(client.search(resource_type, _summary="count", **params)["total"])


def _patient_compositions(base_url: str) -> int:
    with FhirClient(base_url) as client:
        found = client.search("Patient", identifier="https://fhir.nhs.uk/Id/nhs-number|9434765919")
        assert found["total"] == 1, "the patient was stored once"
        patient_id = found["entry"][0]["resource"]["id"]
        return int(client.search("Composition", subject=f"Patient/{patient_id}", _summary="count")["total"])


def test_unapproved_note_is_refused_and_nothing_is_sent(tmp_path: Path, store: Store, base_url: str) -> None:
    user = store.users.create("bob", "Dr Bob", Role.CLINICIAN, "hash", totp_required=False)
    cid = store.consultations.create(user.id, "gp", PatientDetails(name="Jo Bloggs")).id
    store.notes.add_version(cid, note(), created_by=None)
    with pytest.raises(StateError, match="not approved"):
        send_approved(store, cid, make_settings(tmp_path), ACTOR, base_url=base_url)
    assert stats(base_url)["requests"] == 0 and store.exports.for_consultation(cid) == []


def test_sending_twice_stores_one_record_and_audits_both(tmp_path: Path, store: Store, base_url: str) -> None:
    cid, _ = approved_consultation(store)
    settings = make_settings(tmp_path)
    first = send_approved(store, cid, settings, ACTOR, base_url=base_url)
    second = send_approved(store, cid, settings, ACTOR, base_url=base_url)
    assert first.created == len(first.locations) > 5 and second.created == 0
    assert first.locations == second.locations, "a re-send lands on the same records"
    assert _patient_compositions(base_url) == 1
    for kind in ("MedicationStatement", "AllergyIntolerance", "DocumentReference", "Provenance", "Practitioner"):
        assert _total(base_url, kind) == 1, kind
    exports = store.exports.for_consultation(cid)
    assert [(x.format, x.ok, x.destination) for x in exports] == [("fhir-transaction", True, base_url)] * 2
    assert store.consultations.get(cid).status == ConsultationStatus.EXPORTED
    events = store.audit.events(action="export")
    assert len(events) == 2 and all(e.outcome == "ok" and e.username == "cli:test" for e in events)
    assert all("Jo Bloggs" not in e.detail and "9434765919" not in e.detail for e in events)


def test_a_500_then_success_stores_one_record(tmp_path: Path, store: Store, base_url: str) -> None:
    cid, _ = approved_consultation(store)
    set_faults(base_url, ["500"])
    delivery = send_approved(store, cid, make_settings(tmp_path, fhir_retries=2), ACTOR, base_url=base_url)
    assert delivery.attempts == 2 and delivery.created > 5
    assert _patient_compositions(base_url) == 1
    exports = store.exports.for_consultation(cid)
    assert [(x.ok, x.detail.split(":")[0]) for x in exports] == [(False, "attempt 1"), (True, "attempt 2")]
    assert "HTTP 500" in exports[0].detail
    assert [e.outcome for e in store.audit.events(action="export")] == ["ok", "failed"]  # newest first


def test_an_answer_lost_after_the_write_does_not_duplicate(tmp_path: Path, store: Store, base_url: str) -> None:
    """The server stores the transaction but answers after the client's timeout; the retry finds the records."""
    cid, _ = approved_consultation(store)
    set_faults(base_url, ["slow:3"])
    settings = make_settings(tmp_path, fhir_timeout=1.0, fhir_retries=3)
    delivery = send_approved(store, cid, settings, ACTOR, base_url=base_url)
    assert delivery.attempts >= 2
    assert store.exports.for_consultation(cid)[0].detail.startswith("attempt 1: timed out")
    assert _patient_compositions(base_url) == 1
    assert _total(base_url, "MedicationStatement") == 1


def test_server_down_is_a_clear_error_and_a_rerun_works(tmp_path: Path, store: Store, base_url: str) -> None:
    cid, _ = approved_consultation(store)
    settings = make_settings(tmp_path, fhir_retries=1, fhir_timeout=2.0)
    down = f"http://127.0.0.1:{free_port()}/fhir"
    with pytest.raises(ExportUnreachableError, match="nothing was lost") as caught:
        send_approved(store, cid, settings, ACTOR, base_url=down)
    assert "after 2 tries" in str(caught.value) and "cannot reach the server" in str(caught.value)
    assert [x.ok for x in store.exports.for_consultation(cid)] == [False, False]
    assert store.consultations.get(cid).status == ConsultationStatus.APPROVED, "still approved, ready to re-send"
    send_approved(store, cid, settings, ACTOR, base_url=base_url)
    assert store.consultations.get(cid).status == ConsultationStatus.EXPORTED
    assert _patient_compositions(base_url) == 1


def test_a_refusal_is_shown_in_plain_words_and_not_retried(base_url: str) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:8c1f6c4e-1b7a-4f0e-9d55-0f4f3c2b9a11",
                "resource": {"resourceType": "Patient", "birthDate": "not a date"},
                "request": {"method": "POST", "url": "Patient"},
            }
        ],
    }
    attempts = []
    with FhirClient(base_url) as client, pytest.raises(ExportRefusedError) as caught:
        client.send(bundle, on_attempt=attempts.append)
    message = str(caught.value)
    assert "refused the Bundle (HTTP 400)" in message and "error:" in message and "birthDate" in message
    assert len(attempts) == 1 and attempts[0].status == 400 and stats(base_url)["requests"] == 1


def test_document_bundle_is_stored_once(tmp_path: Path, store: Store, base_url: str) -> None:
    cid, _ = approved_consultation(store)
    settings = make_settings(tmp_path)
    first = send_approved(store, cid, settings, ACTOR, kind="document", base_url=base_url)
    again = send_approved(store, cid, settings, ACTOR, kind="document", base_url=base_url)
    assert first.status == 201 and again.status == 200 and first.locations[0].startswith("Bundle/")
    assert _total(base_url, "Bundle") == 1
    assert [x.format for x in store.exports.for_consultation(cid)] == ["fhir-document"] * 2


def test_bearer_token(tmp_path: Path, store: Store) -> None:
    cid, _ = approved_consultation(store)
    with fhir_server(bearer="s3cret-token") as url:
        good = make_settings(tmp_path, fhir_auth="bearer", fhir_token="s3cret-token")
        assert send_approved(store, cid, good, ACTOR, base_url=url).created > 5
        bad = make_settings(tmp_path, fhir_auth="bearer", fhir_token="wrong", fhir_retries=3)
        with pytest.raises(ExportAuthError, match="refused scribe's credentials"):
            send_approved(store, cid, bad, ACTOR, base_url=url)
        assert stats(url)["requests"] == 2, "a refused credential is not retried"


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_smart_backend_services(tmp_path: Path, store: Store, algorithm: str) -> None:
    from helpers.fhir_server import revoke_tokens

    cid, _ = approved_consultation(store)
    private_key, jwks, kid = smart_keys(tmp_path, alg=algorithm)
    with fhir_server(smart_jwks=jwks, smart_client_id="scribe-test") as url:
        settings = make_settings(
            tmp_path,
            fhir_auth="smart",
            fhir_client_id="scribe-test",
            fhir_private_key_file=private_key,
            fhir_key_id=kid,
            fhir_jwt_algorithm=algorithm,
        )
        client = FhirClient.from_settings(settings, url)
        with client:
            send_approved(store, cid, settings, ACTOR, client=client)
            send_approved(store, cid, settings, ACTOR, client=client)
            assert stats(url)["token_requests"] == 1, "the access token is reused until it expires"
            revoke_tokens(url)
            send_approved(store, cid, settings, ACTOR, client=client)
            assert stats(url)["token_requests"] == 2, "a refused token is renewed once"
        assert _total_with(client_settings=settings, url=url) == 1
        wrong = settings.model_copy(update={"fhir_client_id": "someone-else"})
        with pytest.raises(ExportAuthError, match="invalid_client"):
            send_approved(store, cid, wrong, ACTOR, base_url=url)


def _total_with(*, client_settings, url: str) -> int:
    with FhirClient.from_settings(client_settings, url) as client:
        return int(client.search("Composition", _summary="count")["total"])


def test_a_corrected_version_supersedes_what_the_first_sent(tmp_path: Path, store: Store, base_url: str) -> None:
    """v1 sent; the clinician corrects it (drops the allergy; the letter carries over); v2 sent: nothing duplicated."""
    cid, user = approved_consultation(store)
    settings = make_settings(tmp_path)
    send_approved(store, cid, settings, ACTOR, base_url=base_url)
    v1 = store.notes.get_version(cid, 1)
    corrected = v1.note.model_copy(update={"allergies": []})
    store.notes.add_version(cid, corrected, created_by=user.id, based_on=1)
    store.notes.approve(cid, 2, Approval(user_id=user.id, name=user.full_name, attestation="Corrected: no allergy."))
    assert store.notes.get_version(cid, 1).state == NoteState.SUPERSEDED
    send_approved(store, cid, settings, ACTOR, base_url=base_url)
    send_approved(store, cid, settings, ACTOR, base_url=base_url)
    with FhirClient(base_url) as client:
        letters = [e["resource"] for e in client.search("DocumentReference").get("entry", [])]
        allergies = [e["resource"] for e in client.search("AllergyIntolerance").get("entry", [])]
    by_status = {d["status"]: d for d in letters}
    assert sorted(by_status) == ["current", "superseded"] and len(letters) == 2, "v1's letter retired, v2's current"
    replaced = by_status["current"]["relatesTo"][0]
    assert replaced["code"] == "replaces"
    assert replaced["target"]["identifier"]["value"] == by_status["superseded"]["identifier"][0]["value"]
    assert len(allergies) == 1 and allergies[0]["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in allergies[0]
    assert _patient_compositions(base_url) == 1 and _total(base_url, "MedicationStatement") == 1
    assert [x.version for x in store.exports.for_consultation(cid)] == [1, 2, 2]
