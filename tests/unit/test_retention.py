"""Retention with a fake clock: audio after approval, whole consultations after the period, tombstones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.store_helpers import make_settings, note

from scribe.errors import NotFoundError
from scribe.rows import Approval, Consent, PatientDetails, Role
from scribe.store import Audio, Store, open_store
from scribe.store.retention import apply_retention

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    store = open_store(make_settings(tmp_path))
    yield store
    store.close()


def recorded(store: Store, owner: int, *, approve_at: datetime | None) -> str:
    cid = store.create_consultation(owner, "gp", PatientDetails(name="P")).id
    store.set_consent(cid, Consent(informed=True, agreed=True, recorded_by=owner))
    store.put_audio(cid, "original", Audio(b"audio", "audio/webm"))
    store.add_version(cid, note(), created_by=None)
    if approve_at is not None:
        store.approve(cid, 1, Approval(user_id=owner, name="Dr A", attestation="ok", at=approve_at))
    return cid


def tombstones(store: Store) -> list[tuple[str, str, int | None, str, str]]:
    return [(e.action, e.target, e.user_id, e.username, e.detail) for e in reversed(store.audit_events())]


def test_audio_goes_at_approval_by_default(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path)  # audio_retention_hours = 0
    owner = store.create_user("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    approved = recorded(store, owner, approve_at=T0)
    pending = recorded(store, owner, approve_at=None)
    report = apply_retention(store, settings, now=T0)
    assert (report.audio, report.consultations, report.errors) == ([approved], [], [])
    assert store.get_audio(approved, "original") is None and store.get_consultation(approved).audio_deleted_at
    assert store.get_audio(pending, "original") is not None
    assert tombstones(store) == [("delete-audio", f"consultation:{approved}", None, "retention", "retention")]
    assert apply_retention(store, settings, now=T0 + timedelta(hours=1)).deleted == 0  # nothing twice


def test_audio_kept_for_the_configured_hours(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, audio_retention_hours=24)
    owner = store.create_user("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    cid = recorded(store, owner, approve_at=T0)
    assert apply_retention(store, settings, now=T0 + timedelta(hours=23, minutes=59)).deleted == 0
    dry = apply_retention(store, settings, now=T0 + timedelta(hours=24), dry_run=True)
    assert dry.audio == [cid] and dry.dry_run and store.get_audio(cid, "original") is not None
    assert tombstones(store) == []
    assert apply_retention(store, settings, now=T0 + timedelta(hours=24)).audio == [cid]
    assert store.get_audio(cid, "original") is None


def test_consultation_deleted_after_the_period(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, retention_days=30)
    owner = store.create_user("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    approved = recorded(store, owner, approve_at=T0)
    never_approved = recorded(store, owner, approve_at=None)
    created = store.get_consultation(never_approved).created_at
    apply_retention(store, settings, now=T0)  # the audio goes at approval
    period = timedelta(days=30)
    assert created > T0 + period  # created now, approved (by the fake clock) long ago
    assert apply_retention(store, settings, now=T0 + period - timedelta(seconds=1)).consultations == []
    report = apply_retention(store, settings, now=T0 + period, actor="cli:ops")
    assert report.consultations == [approved]
    with pytest.raises(NotFoundError):
        store.get_consultation(approved)
    report = apply_retention(store, settings, now=created + period)
    assert report.consultations == [never_approved]
    assert store.list_consultations() == []
    events = tombstones(store)
    assert ("delete", f"consultation:{approved}", None, "cli:ops", "retention") in events
    assert ("delete", f"consultation:{never_approved}", None, "retention", "retention") in events
    assert store.verify_audit() == (True, len(events))


def test_objected_consultation_has_no_audio_to_delete(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path)
    owner = store.create_user("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    cid = store.create_consultation(owner, "gp", PatientDetails()).id
    store.set_consent(cid, Consent(informed=True, agreed=False, recorded_by=owner))
    store.add_version(cid, note(), created_by=owner)
    store.approve(cid, 1, Approval(user_id=owner, name="Dr A", attestation="ok", at=T0))
    assert apply_retention(store, settings, now=T0).deleted == 0
    assert tombstones(store) == []
