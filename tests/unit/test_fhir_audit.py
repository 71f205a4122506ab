"""The AuditEvent recording an export: valid R4B, UK Core profile, no patient data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from fhir_mappings import document_bundle, export_audit_event, profiles
from fhir_mappings.sample import sample_note

AT = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def test_export_audit_event_names_the_document_and_no_patient() -> None:
    note = sample_note()
    event = export_audit_event(
        note, destination="https://epr.example.org/fhir", outcome="failure", at=AT, by="integrator-3", detail="HTTP 503"
    )
    AuditEvent.model_validate(event)
    assert event["meta"]["profile"] == [profiles.AUDIT_EVENT]
    assert event["type"]["code"] == "110106" and event["outcome"] == "8" and event["outcomeDesc"] == "HTTP 503"
    assert event["agent"][1]["network"] == {"address": "epr.example.org", "type": "1"}
    bundle = document_bundle(note)
    [composition] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition"]
    assert event["entity"][0]["what"]["identifier"] == bundle["identifier"]
    assert event["entity"][1]["what"]["identifier"] == composition["identifier"]
    text = json.dumps(event)
    for private in ("9434765919", "Sam Sample", "1980-05-17", "Cough"):
        assert private not in text


def test_export_audit_event_ids_are_stable_per_attempt() -> None:
    note = sample_note()
    first = export_audit_event(note, destination="download", outcome="success", at=AT, by="u1")
    assert first == export_audit_event(note, destination="download", outcome="success", at=AT, by="u1")
    assert "network" not in first["agent"][1]
    again = export_audit_event(note, destination="download", outcome="success", at=AT, by="u1", attempt=2)
    assert again["id"] != first["id"]


def test_export_audit_event_refuses_naive_time_and_bad_outcome() -> None:
    with pytest.raises(ValueError, match="time zone"):
        export_audit_event(sample_note(), destination="d", outcome="success", at=datetime(2026, 1, 1), by="u")
    with pytest.raises(ValueError, match="'success' or 'failure'"):
        export_audit_event(sample_note(), destination="d", outcome="ok", at=AT, by="u")  # type: ignore[arg-type]
