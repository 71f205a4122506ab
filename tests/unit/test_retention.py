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
    cid = store.consultations.create(owner, "gp", PatientDetails(name="P")).id
    store.consultations.set_consent(cid, Consent(informed=True, agreed=True, recorded_by=owner))
    store.audio.put(cid, "original", Audio(b"audio", "audio/webm"))
    store.notes.add_version(cid, note(), created_by=None)
    if approve_at is not None:
        store.notes.approve(cid, 1, Approval(user_id=owner, name="Dr A", attestation="ok", at=approve_at))
    return cid


def tombstones(store: Store) -> list[tuple[str, str, int | None, str, str]]:
    return [(e.action, e.target, e.user_id, e.username, e.detail) for e in reversed(store.audit.events())]


def test_audio_goes_at_approval_by_default(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path)  # audio_retention_hours = 0
    owner = store.users.create("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    approved = recorded(store, owner, approve_at=T0)
    pending = recorded(store, owner, approve_at=None)
    report = apply_retention(store, settings, now=T0)
    assert (report.audio, report.consultations, report.errors) == ([approved], [], [])
    assert store.audio.get(approved, "original") is None and store.consultations.get(approved).audio_deleted_at
    assert store.audio.get(pending, "original") is not None
    assert tombstones(store) == [("delete-audio", f"consultation:{approved}", None, "retention", "retention")]
    assert apply_retention(store, settings, now=T0 + timedelta(hours=1)).deleted == 0  # nothing twice


def test_audio_kept_for_the_configured_hours(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, audio_retention_hours=24)
    owner = store.users.create("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    cid = recorded(store, owner, approve_at=T0)
    assert apply_retention(store, settings, now=T0 + timedelta(hours=23, minutes=59)).deleted == 0
    dry = apply_retention(store, settings, now=T0 + timedelta(hours=24), dry_run=True)
    assert dry.audio == [cid] and dry.dry_run and store.audio.get(cid, "original") is not None
    assert tombstones(store) == []
    assert apply_retention(store, settings, now=T0 + timedelta(hours=24)).audio == [cid]
    assert store.audio.get(cid, "original") is None


def test_consultation_deleted_after_the_period(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, retention_days=30)
    owner = store.users.create("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    approved = recorded(store, owner, approve_at=T0)
    never_approved = recorded(store, owner, approve_at=None)
    created = store.consultations.get(never_approved).created_at
    apply_retention(store, settings, now=T0)  # the audio goes at approval
    period = timedelta(days=30)
    assert created > T0 + period  # created now, approved (by the fake clock) long ago
    assert apply_retention(store, settings, now=T0 + period - timedelta(seconds=1)).consultations == []
    report = apply_retention(store, settings, now=T0 + period, actor="cli:ops")
    assert report.consultations == [approved]
    with pytest.raises(NotFoundError):
        store.consultations.get(approved)
    report = apply_retention(store, settings, now=created + period)
    assert report.consultations == [never_approved]
    assert store.consultations.list_all() == []
    events = tombstones(store)
    assert ("delete", f"consultation:{approved}", None, "cli:ops", "retention") in events
    assert ("delete", f"consultation:{never_approved}", None, "retention", "retention") in events
    assert store.audit.verify() == (True, len(events))


def test_objected_consultation_has_no_audio_to_delete(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path)
    owner = store.users.create("a", "Dr A", Role.CLINICIAN, "h", totp_required=False).id
    cid = store.consultations.create(owner, "gp", PatientDetails()).id
    store.consultations.set_consent(cid, Consent(informed=True, agreed=False, recorded_by=owner))
    store.notes.add_version(cid, note(), created_by=owner)
    store.notes.approve(cid, 1, Approval(user_id=owner, name="Dr A", attestation="ok", at=T0))
    assert apply_retention(store, settings, now=T0).deleted == 0
    assert tombstones(store) == []
