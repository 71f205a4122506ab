"""The consultation store: a round trip through every method, on a real SQLite database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.store_helpers import POSTGRES_URL, make_settings, note, postgres_database, transcript

from scribe.errors import NotFoundError, StateError, StoreError
from scribe.records import AudioInfo, Letter, LetterKind, RemovedStatement, StageTiming, Statement
from scribe.rows import (
    Approval,
    AuditEvent,
    Consent,
    ConsultationStatus,
    Edit,
    EditAction,
    ExportRecord,
    JobKind,
    JobState,
    NoteState,
    PatientDetails,
    Role,
    User,
)
from scribe.store import Audio, Store, new_key, open_store
from scribe.store import db as store_db


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh store on SQLite, and on a real PostgreSQL (SCRIBE_TEST_POSTGRES_URL's, or a throwaway one)."""
    if request.param == "sqlite":
        store = open_store(make_settings(tmp_path))
        yield store
        store.close()
        return
    server = POSTGRES_URL or request.getfixturevalue("postgres_url")
    with postgres_database(server) as url:
        store = open_store(make_settings(tmp_path, store_url=url))
        yield store
        store.close()


@pytest.fixture
def clinician(store: Store) -> User:
    return store.users.create("alice", "Dr Alice Smith", Role.CLINICIAN, "hash-a", totp_required=False)


def consenting(store: Store, owner: User) -> str:
    """A consultation whose patient agreed: status RECORDING."""
    consultation = store.consultations.create(owner.id, "gp", PatientDetails(name="Pat Example"))
    store.consultations.set_consent(consultation.id, Consent(informed=True, agreed=True, recorded_by=owner.id))
    return consultation.id


def test_open_creates_private_folder_and_file_at_head(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    store = open_store(settings)
    store.close()
    assert (settings.data_dir.stat().st_mode & 0o777) == 0o700
    assert ((settings.data_dir / "scribe.db").stat().st_mode & 0o777) == 0o600
    engine = store_db.create_db_engine(settings.database_url)
    assert store_db.current_revision(engine) == store_db.head_revision()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_reopen_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    key = new_key()
    store = open_store(make_settings(tmp_path, key))
    user = store.users.create("bob", "Bob", Role.ADMIN, "h", totp_required=True)
    store.close()
    for _ in range(2):
        store = open_store(make_settings(tmp_path, key))
        assert store.users.get(user.id).username == "bob"
        store.close()


def test_store_is_its_parts(store: Store) -> None:
    public = sorted(name for name in vars(Store) if not name.startswith("_"))
    parts = sorted(name for name in vars(store) if not name.startswith("_"))
    assert public == ["close"]
    assert parts == ["audio", "audit", "consultations", "exports", "jobs", "keys", "notes", "users"]


def test_users(store: Store) -> None:
    user = store.users.create("alice", "Dr Alice Smith", Role.CLINICIAN, "hash-a", totp_required=False)
    assert user.id > 0 and user.active and not user.totp_enabled
    assert store.users.get(user.id) == user
    found = store.users.find("alice")
    assert found is not None and found[0] == user and found[1] == "hash-a"
    assert store.users.find("nobody") is None
    with pytest.raises(StateError, match="taken"):
        store.users.create("alice", "Other", Role.ADMIN, "h", totp_required=True)
    with pytest.raises(NotFoundError):
        store.users.get(999)
    admin = store.users.create("zed", "Zed Admin", Role.ADMIN, "h", totp_required=True)
    assert [u.username for u in store.users.list_all()] == ["alice", "zed"]
    changed = store.users.update(user.id, password_hash="hash-b", active=False, totp_required=True, full_name="A S")
    assert (changed.active, changed.totp_required, changed.full_name) == (False, True, "A S")
    assert store.users.find("alice")[1] == "hash-b"  # type: ignore[index]
    assert store.users.update(admin.id) == admin
    with pytest.raises(NotFoundError):
        store.users.update(999, active=False)


def test_totp_secret(store: Store, clinician: User) -> None:
    assert store.users.totp_secret(clinician.id) is None
    store.users.set_totp_secret(clinician.id, "JBSWY3DPEHPK3PXP")
    assert store.users.totp_secret(clinician.id) == "JBSWY3DPEHPK3PXP"
    assert store.users.get(clinician.id).totp_enabled
    store.users.set_totp_secret(clinician.id, None)
    assert store.users.totp_secret(clinician.id) is None
    assert not store.users.get(clinician.id).totp_enabled


def test_sessions(store: Store, clinician: User) -> None:
    token = store.users.create_session(clinician.id, "127.0.0.1", 3600, second_factor_done=False)
    session = store.users.get_session(token)
    assert session is not None
    assert (session.user_id, session.ip, session.second_factor_done) == (clinician.id, "127.0.0.1", False)
    assert len(session.csrf_token) >= 32 and session.expires_at > session.created_at
    store.users.complete_second_factor(token)
    assert store.users.get_session(token).second_factor_done  # type: ignore[union-attr]
    assert store.users.get_session("not-a-token") is None
    store.users.delete_session(token)
    assert store.users.get_session(token) is None
    expired = store.users.create_session(clinician.id, "::1", -1, second_factor_done=True)
    assert store.users.get_session(expired) is None
    tokens = [store.users.create_session(clinician.id, "::1", 60, second_factor_done=True) for _ in range(2)]
    store.users.delete_user_sessions(clinician.id)
    assert all(store.users.get_session(t) is None for t in tokens)


def test_session_token_is_not_stored(tmp_path: Path) -> None:
    store = open_store(make_settings(tmp_path))
    user = store.users.create("alice", "Dr Alice Smith", Role.CLINICIAN, "hash-a", totp_required=False)
    token = store.users.create_session(user.id, "127.0.0.1", 3600, second_factor_done=True)
    store.close()
    assert token.encode() not in (tmp_path / "data" / "scribe.db").read_bytes()


def test_login_failures(store: Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    store.users.record_login_failure("alice", "10.0.0.1")
    store.users.record_login_failure("alice", "10.0.0.2")
    store.users.record_login_failure("bob", "10.0.0.1")
    assert store.users.login_failures("alice", "10.9.9.9", before) == 2
    assert store.users.login_failures("carol", "10.0.0.1", before) == 2
    assert store.users.login_failures("alice", "10.0.0.1", before) == 3
    assert store.users.login_failures("alice", "10.0.0.1", datetime.now(UTC) + timedelta(seconds=5)) == 0


def test_consultation_lifecycle(store: Store, clinician: User) -> None:
    patient = PatientDetails(name="Pat Example", nhs_number="9434765919", birth_date="1970-01-01", reason="knee")
    consultation = store.consultations.create(clinician.id, "gp", patient)
    assert consultation.status is ConsultationStatus.CONSENT
    assert store.consultations.get(consultation.id) == consultation
    assert store.consultations.patient(consultation.id) == patient
    with pytest.raises(NotFoundError):
        store.consultations.get("missing")
    consent = Consent(informed=True, agreed=True, recorded_by=clinician.id)
    updated = store.consultations.set_consent(consultation.id, consent)
    assert updated.status is ConsultationStatus.RECORDING and updated.consent == consent
    with pytest.raises(StateError, match="already"):
        store.consultations.set_consent(consultation.id, consent)
    store.consultations.set_status(consultation.id, ConsultationStatus.FAILED, error="TranscriptionError: empty")
    failed = store.consultations.get(consultation.id)
    assert failed.status is ConsultationStatus.FAILED and failed.error == "TranscriptionError: empty"
    now = datetime.now(UTC)
    metrics = store.consultations.update_metrics(consultation.id, lambda m: setattr(m, "first_shown_at", now))
    assert metrics.first_shown_at == now
    store.consultations.update_metrics(
        consultation.id, lambda m: setattr(m, "active_review_seconds", m.active_review_seconds + 15)
    )
    assert store.consultations.get(consultation.id).metrics.active_review_seconds == 15
    timing = StageTiming(stage="transcribe", wall_seconds=3.5, audio_seconds=60.0, model="whisper-tiny.en")
    store.consultations.add_timings(consultation.id, [timing])
    store.consultations.add_timings(consultation.id, [timing])
    assert store.consultations.get(consultation.id).timings == [timing, timing]
    info = AudioInfo(path="pat-example.webm", duration=60.0, sample_rate=48000, channels=1, format="webm")
    store.consultations.set_audio_info(consultation.id, info)
    assert store.consultations.get(consultation.id).audio == info


def test_objection_is_for_good(store: Store, clinician: User) -> None:
    consultation = store.consultations.create(clinician.id, "gp", PatientDetails())
    objected = store.consultations.set_consent(
        consultation.id, Consent(informed=True, agreed=False, recorded_by=clinician.id)
    )
    assert objected.status is ConsultationStatus.NOT_RECORDED
    for status in (ConsultationStatus.RECORDING, ConsultationStatus.TRANSCRIBING):
        with pytest.raises(StateError, match="objected"):
            store.consultations.set_status(consultation.id, status)
    with pytest.raises(StateError):
        store.audio.append_chunk(consultation.id, 0, b"audio")
    with pytest.raises(StateError, match="consent"):
        store.audio.put(consultation.id, "original", Audio(b"audio", "audio/webm"))
    # The clinician may still write the note unaided.
    version = store.notes.add_version(consultation.id, note(), created_by=clinician.id)
    assert version.version == 1 and version.created_by == clinician.id


def test_list_and_grants(store: Store, clinician: User) -> None:
    other = store.users.create("bob", "Dr Bob", Role.CLINICIAN, "h", totp_required=False)
    mine = [store.consultations.create(clinician.id, "gp", PatientDetails()).id for _ in range(2)]
    theirs = store.consultations.create(other.id, "soap", PatientDetails()).id
    assert [c.id for c in store.consultations.list_all(user_id=clinician.id)] == mine[::-1]
    assert [c.id for c in store.consultations.list_all()] == [theirs, *mine[::-1]]
    store.consultations.grant(theirs, clinician.id)
    store.consultations.grant(theirs, clinician.id)  # idempotent
    assert store.consultations.granted(theirs) == [clinician.id]
    assert theirs in [c.id for c in store.consultations.list_all(user_id=clinician.id)]
    assert [c.id for c in store.consultations.list_all(user_id=other.id)] == [theirs]


def test_chunks_and_audio(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    assert store.audio.append_chunk(cid, 1, b"world")
    assert store.audio.append_chunk(cid, 0, b"hello ")
    assert not store.audio.append_chunk(cid, 0, b"again")
    assert store.audio.chunks(cid) == b"hello world"
    assert store.audio.get(cid, "original") is None
    store.audio.put(cid, "original", Audio(b"webm-bytes", "audio/webm"))
    assert store.audio.chunks(cid) == b""  # the whole recording supersedes its chunks: one copy kept
    store.audio.put(cid, "playback", Audio(b"flac-1", "audio/flac"))
    store.audio.put(cid, "playback", Audio(b"flac-2", "audio/flac"))
    assert store.audio.get(cid, "original") == Audio(b"webm-bytes", "audio/webm")
    assert store.audio.get(cid, "playback") == Audio(b"flac-2", "audio/flac")
    with pytest.raises(ValueError):
        store.audio.put(cid, "other", Audio(b"x", "audio/flac"))
    assert store.audio.held(cid)
    store.consultations.set_status(cid, ConsultationStatus.TRANSCRIBING)
    with pytest.raises(StateError, match="not recording"):
        store.audio.append_chunk(cid, 2, b"late")
    store.audio.delete(cid)
    assert not store.audio.held(cid)
    assert store.audio.get(cid, "original") is None and store.audio.chunks(cid) == b""
    assert store.consultations.get(cid).audio_deleted_at is not None
    with pytest.raises(StateError, match="deleted"):
        store.audio.put(cid, "original", Audio(b"x", "audio/webm"))
    store.audio.delete(cid)  # a second deletion is harmless


def test_transcript(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    assert store.notes.get_transcript(cid) is None
    store.notes.put_transcript(cid, transcript("first"))
    store.notes.put_transcript(cid, transcript("second"))
    assert store.notes.get_transcript(cid) == transcript("second")


def test_versions_edits_approval(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    with pytest.raises(NotFoundError, match="no note"):
        store.notes.get_version(cid)
    draft = note()
    v1 = store.notes.add_version(cid, draft, created_by=None)
    assert (v1.version, v1.state, v1.created_by, v1.note) == (1, NoteState.DRAFT, None, draft)
    assert store.consultations.get(cid).current_version == 1
    edited = note("Left knee pain for two weeks.")
    edit = Edit(
        consultation_id=cid,
        version=1,
        user_id=clinician.id,
        section="history",
        index=0,
        action=EditAction.EDIT,
        before="Knee pain for two weeks.",
        after="Left knee pain for two weeks.",
    )
    saved = store.notes.save_note(cid, 1, edited, edit)
    assert saved.note == edited and store.notes.get_version(cid).note == edited
    assert store.notes.edits(cid) == [edit] and store.notes.edits(cid, 1) == [edit] and store.notes.edits(cid, 2) == []
    approval = Approval(user_id=clinician.id, name="Dr Alice Smith", attestation="I have reviewed this note.")
    approved = store.notes.approve(cid, 1, approval)
    assert approved.state is NoteState.APPROVED and approved.approval == approval
    consultation = store.consultations.get(cid)
    assert consultation.status is ConsultationStatus.APPROVED and consultation.metrics.approved_at == approval.at
    with pytest.raises(StateError, match="cannot be edited"):
        store.notes.save_note(cid, 1, note("x"), edit)
    with pytest.raises(StateError):
        store.notes.approve(cid, 1, approval)
    # A correction: new version based on 1, then approved; 1 is superseded.
    v2 = store.notes.add_version(cid, edited, created_by=clinician.id, based_on=1)
    assert (v2.version, v2.based_on, store.consultations.get(cid).current_version) == (2, 1, 2)
    store.notes.approve(cid, 2, approval)
    assert [v.state for v in store.notes.list_versions(cid)] == [NoteState.SUPERSEDED, NoteState.APPROVED]
    # A rejected correction returns to the approved version.
    v3 = store.notes.add_version(cid, note("wrong"), created_by=clinician.id, based_on=2)
    rejected = store.notes.reject(cid, v3.version, "Dictated to the wrong patient.", clinician.id)
    assert rejected.state is NoteState.REJECTED and rejected.rejected_reason == "Dictated to the wrong patient."
    consultation = store.consultations.get(cid)
    assert (consultation.status, consultation.current_version) == (ConsultationStatus.APPROVED, 2)
    with pytest.raises(NotFoundError):
        store.notes.get_version(cid, 9)
    assert store.notes.get_version(cid, 1).state is NoteState.SUPERSEDED


def test_removed_statements_and_their_restore_round_trip(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    removed = RemovedStatement(
        section="plan",
        statement=Statement(text="MRI booked.", evidence=[1], supported=False, reason="not in the transcript"),
    )
    draft = note().model_copy(update={"removed": [removed]})
    store.notes.add_version(cid, draft, created_by=None)
    assert store.notes.get_version(cid, 1).note.removed == [removed]
    restored = draft.model_copy(deep=True, update={"removed": []})
    restored.sections[1].statements.append(removed.statement)
    edit = Edit(
        consultation_id=cid,
        version=1,
        user_id=clinician.id,
        section="plan",
        index=1,
        action=EditAction.RESTORE,
        after="MRI booked.",
    )
    store.notes.save_note(cid, 1, restored, edit)
    assert store.notes.get_version(cid).note == restored and store.notes.get_version(cid).note.removed == []
    assert store.notes.edits(cid) == [edit]
    # A correction copies the note with what is still removed.
    store.notes.approve(cid, 1, Approval(user_id=clinician.id, name="A", attestation="ok"))
    store.notes.add_version(cid, draft, created_by=clinician.id, based_on=1)
    assert store.notes.get_version(cid, 2).note.removed == [removed]


def test_reject_first_draft(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    store.notes.add_version(cid, note(), created_by=None)
    store.notes.reject(cid, 1, "Not this patient.", clinician.id)
    assert store.consultations.get(cid).status is ConsultationStatus.REJECTED


def test_letters(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    store.notes.add_version(cid, note(), created_by=None)
    gp = Letter(kind=LetterKind.GP, salutation="Dear Dr Jones,", paragraphs=[[Statement(text="Seen today.")]])
    assert store.notes.get_letter(cid, LetterKind.GP) is None
    store.notes.put_letter(cid, 1, gp)
    store.notes.put_letter(cid, 1, gp.model_copy(update={"closing": "Yours"}))
    assert store.notes.get_letter(cid, LetterKind.GP).closing == "Yours"  # type: ignore[union-attr]
    assert store.notes.get_letter(cid, LetterKind.PATIENT) is None
    store.notes.add_version(cid, note("v2"), created_by=clinician.id, based_on=1)
    assert store.notes.get_letter(cid, LetterKind.GP, 2).closing == "Yours"  # type: ignore[union-attr]  # falls back
    store.notes.put_letter(cid, 2, gp.model_copy(update={"closing": "Best"}))
    assert store.notes.get_letter(cid, LetterKind.GP).closing == "Best"  # type: ignore[union-attr]
    assert store.notes.get_letter(cid, LetterKind.GP, 1).closing == "Yours"  # type: ignore[union-attr]


def test_disputes_and_exports(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    store.notes.add_version(cid, note(), created_by=None)
    store.notes.approve(cid, 1, Approval(user_id=clinician.id, name="A", attestation="ok"))
    dispute = store.notes.add_dispute(cid, 1, "I never said I smoke.", clinician.id)
    assert dispute.id > 0 and store.notes.disputes(cid) == [dispute]
    failed = store.exports.record(ExportRecord(consultation_id=cid, version=1, format="fhir-document", ok=False))
    assert failed.id > 0 and store.consultations.get(cid).status is ConsultationStatus.APPROVED
    done = store.exports.record(ExportRecord(consultation_id=cid, version=1, format="text", user_id=clinician.id))
    assert store.exports.for_consultation(cid) == [failed, done]
    assert store.consultations.get(cid).status is ConsultationStatus.EXPORTED


def test_jobs(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    assert store.jobs.claim() is None
    first = store.jobs.enqueue(cid, JobKind.TRANSCRIBE)
    second = store.jobs.enqueue(cid, JobKind.DRAFT)
    claimed = store.jobs.claim()
    assert claimed is not None and claimed.id == first.id
    assert (claimed.state, claimed.attempts, claimed.started_at is not None) == (JobState.RUNNING, 1, True)
    assert store.jobs.requeue_running() == 1
    again = store.jobs.claim()
    assert again is not None and again.id == first.id and again.attempts == 2
    store.jobs.finish(first.id)
    nxt = store.jobs.claim()
    assert nxt is not None and nxt.id == second.id
    store.jobs.finish(second.id, error="BackendError: not loaded")
    assert [(j.kind, j.state, j.error) for j in store.jobs.for_consultation(cid)] == [
        (JobKind.TRANSCRIBE, JobState.DONE, ""),
        (JobKind.DRAFT, JobState.FAILED, "BackendError: not loaded"),
    ]
    with pytest.raises(NotFoundError):
        store.jobs.finish(999)


def test_concurrent_claims_take_each_job_once(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    for _ in range(20):
        store.jobs.enqueue(cid, JobKind.DRAFT)
    claimed: list[int] = []

    def worker() -> None:
        while (job := store.jobs.claim()) is not None:
            claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 20


def test_audit_events_and_filters(store: Store) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    events = [
        store.audit.record(AuditEvent(user_id=1, username="alice", action="sign-in", target="user:1", ip="127.0.0.1")),
        store.audit.record(AuditEvent(user_id=1, username="alice", action="view", target="consultation:abc")),
        store.audit.record(AuditEvent(username="mallory", action="sign-in", outcome="failed", ip="10.0.0.9")),
    ]
    assert [e.id for e in events] == [1, 2, 3] and all(len(e.hash) == 64 for e in events)
    assert store.audit.events() == events[::-1]
    assert store.audit.events(user="alice") == events[1::-1]
    assert store.audit.events(user="1") == events[1::-1]
    assert store.audit.events(action="sign-in") == [events[2], events[0]]
    assert store.audit.events(target="consultation:abc") == [events[1]]
    assert store.audit.events(target="consultation:*") == [events[1]]
    assert store.audit.events(since=start) == events[::-1]
    assert store.audit.events(until=start) == []
    assert store.audit.events(limit=1) == [events[2]]
    assert store.audit.events(limit=1, offset=1) == [events[1]]
    assert store.audit.verify() == (True, 3)


def test_concurrent_audit_keeps_one_chain(store: Store) -> None:
    def worker(n: int) -> None:
        for i in range(10):
            store.audit.record(AuditEvent(username=f"u{n}", action="view", target=f"consultation:{i}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.audit.verify() == (True, 40)


def test_delete_consultation(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    store.audio.append_chunk(cid, 0, b"chunk")
    store.audio.put(cid, "original", Audio(b"audio", "audio/webm"))
    store.notes.put_transcript(cid, transcript())
    store.notes.add_version(cid, note(), created_by=None)
    store.notes.put_letter(cid, 1, Letter(kind=LetterKind.GP))
    store.notes.add_dispute(cid, 1, "no", clinician.id)
    store.jobs.enqueue(cid, JobKind.DRAFT)
    store.consultations.grant(cid, clinician.id)
    keep = consenting(store, clinician)
    store.consultations.delete(cid)
    with pytest.raises(NotFoundError):
        store.consultations.get(cid)
    assert [c.id for c in store.consultations.list_all()] == [keep]
    assert (
        store.notes.get_transcript(cid) is None
        and store.notes.disputes(cid) == []
        and store.jobs.for_consultation(cid) == []
    )
    with pytest.raises(NotFoundError):
        store.consultations.delete(cid)


def test_consultations_for_retention(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)
    store.audio.put(cid, "original", Audio(b"audio", "audio/webm"))
    store.notes.add_version(cid, note(), created_by=None)
    approval = Approval(user_id=clinician.id, name="A", attestation="ok")
    store.notes.approve(cid, 1, approval)
    [row] = store.consultations.for_retention()
    assert (row.id, row.status, row.metrics.approved_at) == (cid, ConsultationStatus.APPROVED, approval.at)


def test_a_store_from_a_newer_scribe_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    open_store(settings).close()
    engine = store_db.create_db_engine(settings.database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(StoreError, match="upgrade scribe"):
        open_store(settings)


def test_concurrent_versions_get_distinct_numbers(store: Store, clinician: User) -> None:
    cid = consenting(store, clinician)

    def worker() -> None:
        for _ in range(5):
            store.notes.add_version(cid, note(), created_by=clinician.id)
            store.consultations.update_metrics(
                cid, lambda m: setattr(m, "active_review_seconds", m.active_review_seconds + 1)
            )

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [v.version for v in store.notes.list_versions(cid)] == list(range(1, 21))
    consultation = store.consultations.get(cid)
    assert consultation.current_version == 20 and consultation.metrics.active_review_seconds == 20
