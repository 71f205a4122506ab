"""Consultation state transitions (scribe.review.workflow) on a real SQLite store: each allowed step, each refusal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.store_helpers import approved_consultation, drafted_consultation, make_settings, note, transcript

from scribe.errors import StateError
from scribe.review import workflow
from scribe.rows import (
    Approval,
    Consent,
    ConsultationStatus,
    JobKind,
    NoteState,
    PatientDetails,
    ReviewMetrics,
    Role,
)
from scribe.store import Audio, Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(make_settings(tmp_path))
    yield opened
    opened.close()


def _consultation(store: Store, *, agreed: bool | None = True) -> str:
    """A new consultation; with ``agreed`` True/False the patient's consent or objection is recorded."""
    user = store.users.create(f"dr-{uuid.uuid4().hex[:8]}", "Dr Flow", Role.CLINICIAN, "hash", totp_required=False)
    cid = store.consultations.create(user.id, "gp", PatientDetails(name="Jo Bloggs")).id
    if agreed is not None:
        store.consultations.set_consent(cid, Consent(informed=True, agreed=agreed, recorded_by=user.id))
    return cid


def _kinds(store: Store, cid: str) -> list[JobKind]:
    return [job.kind for job in store.jobs.for_consultation(cid)]


def _status(store: Store, cid: str) -> ConsultationStatus:
    return store.consultations.get(cid).status


def test_a_recording_goes_to_transcription_once(store: Store) -> None:
    cid = _consultation(store)
    store.audio.put(cid, "original", Audio(b"audio", "audio/flac"))
    workflow.submit_recording(store, cid, store.jobs.enqueue)
    assert _status(store, cid) == ConsultationStatus.TRANSCRIBING and _kinds(store, cid) == [JobKind.TRANSCRIBE]
    with pytest.raises(StateError, match="is transcribing: a recording is accepted only before drafting"):
        workflow.submit_recording(store, cid, store.jobs.enqueue)
    assert _kinds(store, cid) == [JobKind.TRANSCRIBE]


@pytest.mark.parametrize(("agreed", "message"), [(None, "consent"), (False, "consent")])
def test_no_recording_without_consent(store: Store, agreed: bool | None, message: str) -> None:
    cid = _consultation(store, agreed=agreed)
    with pytest.raises(StateError, match=message):
        workflow.submit_recording(store, cid, store.jobs.enqueue)
    with pytest.raises(StateError, match=message):
        workflow.start_recording(store, store.consultations.get(cid))
    assert _kinds(store, cid) == []


def test_the_control_arm_records_nothing_and_needs_no_consent(store: Store) -> None:
    cid = _consultation(store, agreed=None)

    def control(m: ReviewMetrics) -> None:
        m.arm = "control"

    store.consultations.update_metrics(cid, control)
    c = store.consultations.get(cid)
    for step in (workflow.check_consent, workflow.check_accepts_recording):
        with pytest.raises(StateError, match="control-arm"):
            step(c)
    workflow.write_unaided(store, c, note(), user_id=c.owner_id)
    assert _status(store, cid) == ConsultationStatus.DRAFTED
    with pytest.raises(StateError, match="already has a note"):
        workflow.write_unaided(store, store.consultations.get(cid), note(), user_id=c.owner_id)


def test_an_objection_allows_only_an_unaided_note(store: Store) -> None:
    cid = _consultation(store, agreed=False)
    workflow.write_unaided(store, store.consultations.get(cid), note(), user_id=1)
    assert _status(store, cid) == ConsultationStatus.NOT_RECORDED
    recording = _consultation(store)
    with pytest.raises(StateError, match="being recorded for scribe"):
        workflow.write_unaided(store, store.consultations.get(recording), note(), user_id=1)


def test_browser_recording_start_stop_and_no_upload_meanwhile(store: Store) -> None:
    cid = _consultation(store)
    with pytest.raises(StateError, match="is consent, not recording"):
        workflow.stop_recording(store, _consultation(store, agreed=None), store.jobs.enqueue)
    workflow.start_recording(store, store.consultations.get(cid))
    c = store.consultations.get(cid)
    assert workflow.recording_started(c) and not workflow.accepts_recording(c)
    with pytest.raises(StateError, match="being recorded in the browser"):
        workflow.check_accepts_recording(c)
    with pytest.raises(StateError, match="already recorded or recording"):
        workflow.start_recording(store, c)
    workflow.stop_recording(store, cid, store.jobs.enqueue)
    c = store.consultations.get(cid)
    assert c.status == ConsultationStatus.TRANSCRIBING and c.metrics.recording_stopped_at is not None
    with pytest.raises(StateError, match="nothing to stop"):
        workflow.stop_recording(store, cid, store.jobs.enqueue)
    assert _kinds(store, cid) == [JobKind.TRANSCRIBE]


def test_transcript_then_draft_then_letters(store: Store) -> None:
    cid = _consultation(store)
    with pytest.raises(StateError, match="not transcribing"):
        workflow.transcribed(store, cid, store.jobs.enqueue)
    store.consultations.set_status(cid, ConsultationStatus.TRANSCRIBING)
    workflow.transcribed(store, cid, store.jobs.enqueue)
    assert _status(store, cid) == ConsultationStatus.DRAFTING
    workflow.drafted(store, cid, store.jobs.enqueue, letters=True)
    c = store.consultations.get(cid)
    assert c.status == ConsultationStatus.DRAFTED and c.metrics.draft_ready_at is not None
    assert _kinds(store, cid) == [JobKind.DRAFT, JobKind.LETTERS]
    with pytest.raises(StateError, match="not drafting"):
        workflow.drafted(store, cid, store.jobs.enqueue, letters=False)


def test_retry_runs_the_failed_stage_again(store: Store) -> None:
    cid = _consultation(store)
    with pytest.raises(StateError, match="Only a failed consultation"):
        workflow.retry(store, store.consultations.get(cid), store.jobs.enqueue)
    store.consultations.set_status(cid, ConsultationStatus.FAILED, error="transcription failed")
    with pytest.raises(StateError, match="no recording to retry"):
        workflow.retry(store, store.consultations.get(cid), store.jobs.enqueue)
    store.audio.put(cid, "original", Audio(b"audio", "audio/flac"))
    assert workflow.retry(store, store.consultations.get(cid), store.jobs.enqueue).kind == JobKind.TRANSCRIBE
    assert _status(store, cid) == ConsultationStatus.TRANSCRIBING
    store.notes.put_transcript(cid, transcript())
    store.consultations.set_status(cid, ConsultationStatus.FAILED, error="drafting failed")
    assert workflow.retry(store, store.consultations.get(cid), store.jobs.enqueue).kind == JobKind.DRAFT
    assert _status(store, cid) == ConsultationStatus.DRAFTING


def test_review_approve_reject_correct(store: Store) -> None:
    cid, user = drafted_consultation(store)
    c = store.consultations.get(cid)
    with pytest.raises(StateError, match="no note to draft letters from"):
        workflow.redraft_letters(store.consultations.get(_consultation(store)), store.jobs.enqueue)
    with pytest.raises(StateError, match="approve this version first"):
        workflow.approved_version(store, c)
    with pytest.raises(StateError, match="edit this one"):
        workflow.correct(store, c, 1, user.id)
    approval = Approval(user_id=user.id, name=user.full_name, attestation="I have reviewed this note.")
    workflow.approve(store, c, 1, approval)
    c = store.consultations.get(cid)
    assert c.status == ConsultationStatus.APPROVED and set(c.metrics.sections) == {"history", "plan"}
    assert workflow.approved_version(store, c).version == 1
    for step in (
        lambda: workflow.approve(store, c, 1, approval),
        lambda: workflow.reject(store, c, 1, "wrong patient", user.id),
    ):
        with pytest.raises(StateError, match="read-only"):
            step()
    new = workflow.correct(store, c, 1, user.id)
    assert (new.version, new.state, new.based_on) == (2, NoteState.DRAFT, 1)
    assert _status(store, cid) == ConsultationStatus.DRAFTED
    workflow.reject(store, store.consultations.get(cid), 2, "wrong patient", user.id)
    assert store.notes.get_version(cid, 2).state == NoteState.REJECTED
    assert workflow.redraft_letters(store.consultations.get(cid), store.jobs.enqueue).kind == JobKind.LETTERS


def test_only_the_approved_version_is_exported(store: Store) -> None:
    cid, _user = approved_consultation(store)
    assert workflow.approved_version(store, store.consultations.get(cid)).state == NoteState.APPROVED
