"""The review app's background work on real models: pipeline stages, live transcription of browser
chunks, and the job runner from upload to a drafted note (Whisper tiny.en, SmolLM2-135M)."""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers.audio_bytes import encode_bytes, split
from helpers.fast_llm import FAST_LLM, brief_templates

from scribe import pipeline
from scribe.asr.engine import decode_options
from scribe.asr.streaming import LiveTranscriber
from scribe.asr.transcribe import speaker_options
from scribe.audio.decode import decode_bytes, decode_file
from scribe.config import Settings, load_settings
from scribe.errors import BackendError, StateError, TranscriptionError
from scribe.records import Letter, LetterKind, NoteDraft, Statement, Transcript
from scribe.review.jobs import JobRunner
from scribe.review.live import ChunkStream, LiveSession
from scribe.review.playback import playback_flac
from scribe.rows import Consent, ConsultationStatus, JobKind, JobState, PatientDetails, Role
from scribe.store import Audio, Store, open_store
from scribe.store.crypto import encode_key, new_key

pytestmark = pytest.mark.slow


def words(text: str) -> set[str]:
    return {w.strip(".,?!").lower() for w in text.split() if len(w) > 3}


@pytest.fixture(scope="module")
def webm_chunks(sample_mono: Path) -> list[bytes]:
    """The sample as a browser would send it: WebM/Opus in 22 pieces of about 2 s each."""
    decoded = decode_file(sample_mono)
    return split(encode_bytes(decoded.samples, 16_000), 22)


def test_playback_flac_keeps_channels_in_memory(sample_stereo: Path) -> None:
    decoded = decode_file(sample_stereo)
    playback = playback_flac(decoded)
    assert playback.media_type == "audio/flac"
    again = decode_bytes(playback.data)
    assert again.samples.shape == decoded.samples.shape
    assert np.max(np.abs(again.samples - decoded.samples)) < 1e-3  # 16-bit PCM


def test_transcribe_audio_from_bytes(sample_mono: Path, settings: Settings, tiny_engine) -> None:
    transcript = pipeline.transcribe_audio(sample_mono.read_bytes(), settings, tiny_engine)
    assert transcript.segments
    assert transcript.duration == pytest.approx(45, abs=1)
    assert transcript.model == "whisper-tiny.en"


def test_chunk_stream_blocks_until_data_or_end() -> None:
    stream = ChunkStream()
    assert not stream.seekable()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend([stream.read(4), stream.read(100), stream.read(100)]))
    reader.start()
    time.sleep(0.1)
    assert not got  # still waiting
    stream.write(b"abcdef")
    time.sleep(0.1)
    stream.end()
    reader.join(5)
    assert got == [b"abcd", b"ef", b""]
    stream.write(b"late")  # ignored after the end
    assert stream.read(10) == b""


def _session(settings: Settings, engine, cid: str = "c0ffee") -> LiveSession:
    def make() -> LiveTranscriber:
        return LiveTranscriber(engine, decode_options(settings), speaker_options(settings))

    return LiveSession(cid, make, threading.Lock())


def test_live_session_transcribes_chunks_as_they_arrive(
    webm_chunks: list[bytes], sample_mono: Path, settings: Settings, tiny_engine
) -> None:
    session = _session(settings, tiny_engine)
    order = list(range(len(webm_chunks)))
    order[3], order[4] = order[4], order[3]  # a retried chunk arrives late
    for seq in order:
        session.feed(seq, webm_chunks[seq])
        if seq == 6:
            session.feed(seq, webm_chunks[seq])  # and one twice
    deadline = time.monotonic() + 120
    while not session.segments() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session.segments(), "segments stream in before the recording stops"
    transcript = session.finish(timeout=120)
    assert not session.failed
    assert transcript.duration == pytest.approx(45, abs=1)
    streamed = words(" ".join(s.text for s in session.segments()))  # the final transcript re-splits at speaker turns
    assert streamed == words(" ".join(s.text for s in transcript.segments))
    whole = pipeline.transcribe_audio(sample_mono.read_bytes(), settings, tiny_engine)
    live_words = words(" ".join(s.text for s in transcript.segments))
    file_words = words(" ".join(s.text for s in whole.segments))
    assert len(live_words & file_words) >= 0.7 * len(file_words)


def test_live_session_that_cannot_decode_fails_alone(settings: Settings, tiny_engine) -> None:
    session = _session(settings, tiny_engine)
    session.feed(0, b"this is not a webm stream " * 400)
    with pytest.raises(TranscriptionError, match="could not be decoded live"):
        session.finish(timeout=30)
    assert session.failed
    assert session.segments() == []


# --- the job runner on a real store --------------------------------------------------------------


@pytest.fixture
def job_settings(tmp_path: Path, settings: Settings) -> Settings:
    """Small models, and a one-section site template so SmolLM2 drafts in seconds on a busy machine."""
    return load_settings(
        data_dir=tmp_path / "data",
        templates_dir=brief_templates(tmp_path),
        cache_dir=settings.model_cache,
        store_key=encode_key(new_key()),
        asr_model="whisper-tiny.en",
        device="cpu",
        **FAST_LLM,
    )


@pytest.fixture
def store(job_settings: Settings) -> Iterator[Store]:
    opened = open_store(job_settings)
    yield opened
    opened.close()


def consultation(store: Store) -> str:
    """A consultation whose patient agreed to recording (status RECORDING)."""
    user = store.users.create("dr-test", "Dr Test", Role.CLINICIAN, "not-a-hash", totp_required=False)
    created = store.consultations.create(user.id, "brief", PatientDetails(name="Test Patient", reason="knee pain"))
    store.consultations.set_consent(created.id, Consent(informed=True, agreed=True, recorded_by=user.id))
    return created.id


def record_live(store: Store, runner: JobRunner, cid: str, chunks: list[bytes]) -> None:
    """The browser's chunks, stored and fed live in order; returns once live segments appear (or after 120 s)."""
    for seq, chunk in enumerate(chunks):
        assert store.audio.append_chunk(cid, seq, chunk)
        runner.live_chunk(cid, seq, chunk)
    deadline = time.monotonic() + 120
    while not runner.live_segments(cid) and time.monotonic() < deadline:
        time.sleep(0.2)


def no_llm(*args: object, **kwargs: object) -> None:
    raise BackendError("the language model is switched off in this test")


def test_upload_to_drafted_note_and_letters(
    store: Store, job_settings: Settings, sample_mono: Path, tiny_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def quick_letters(note: NoteDraft, transcript: Transcript, settings: Settings, backend: object) -> list[Letter]:
        assert note.template == "brief" and transcript.segments
        return [Letter(kind=kind, paragraphs=[[Statement(text=f"{kind} letter")]]) for kind in LetterKind]

    monkeypatch.setattr(pipeline, "letters", quick_letters)  # real letters take minutes on 2 busy cores
    cid = consultation(store)
    runner = JobRunner(store, job_settings, engine=tiny_engine)
    runner.start()
    try:
        store.audio.put(cid, "original", Audio(data=sample_mono.read_bytes(), media_type="audio/flac"))
        runner.submit_upload(cid)
        assert runner.wait_idle(timeout=900)
        with pytest.raises(StateError):
            runner.submit_upload(cid)  # drafted: no more audio
    finally:
        runner.stop()
    done = store.consultations.get(cid)
    assert done.status == ConsultationStatus.DRAFTED, done.error
    assert [(j.kind, j.state) for j in store.jobs.for_consultation(cid)] == [
        (JobKind.TRANSCRIBE, JobState.DONE),
        (JobKind.DRAFT, JobState.DONE),
        (JobKind.LETTERS, JobState.DONE),
    ]
    assert store.notes.get_transcript(cid).segments
    version = store.notes.get_version(cid)
    assert (version.version, version.created_by) == (1, None)
    assert [s.key for s in version.note.sections] == ["summary"]
    assert version.note.backend == "llamacpp"
    assert done.metrics.draft_ready_at is not None
    assert done.audio is not None and done.audio.duration == pytest.approx(45, abs=1)
    assert {t.stage for t in done.timings} >= {"asr", "draft"}
    playback = store.audio.get(cid, "playback")
    assert playback is not None and playback.media_type == "audio/flac"
    assert decode_bytes(playback.data).duration == pytest.approx(45, abs=1)
    for kind in LetterKind:
        assert store.notes.get_letter(cid, kind).statements()[0].text == f"{kind} letter"
    # no audio or transcript was written anywhere in the data folder but the store's own files
    names = {p.name for p in job_settings.data_dir.iterdir()}
    assert names <= {"scribe.db", "scribe.db-wal", "scribe.db-shm"}, names


def test_corrupt_stored_audio_fails_with_a_plain_message(store: Store, job_settings: Settings) -> None:
    cid = consultation(store)
    store.audio.put(cid, "original", Audio(data=b"Patient said something private. " * 50, media_type="audio/webm"))
    runner = JobRunner(store, job_settings)
    runner.start()
    try:
        runner.submit_upload(cid)
        assert runner.wait_idle(timeout=60)
    finally:
        runner.stop()
    failed = store.consultations.get(cid)
    assert failed.status == ConsultationStatus.FAILED
    assert failed.error.startswith("transcription failed (CorruptAudioError): the recording:")
    assert "private" not in failed.error
    (job,) = store.jobs.for_consultation(cid)
    assert (job.state, job.error) == (JobState.FAILED, failed.error)


def test_live_recording_transcribed_while_it_arrives(
    store: Store, job_settings: Settings, webm_chunks: list[bytes], tiny_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the live transcript should have been used")

    monkeypatch.setattr(pipeline, "transcribe_audio", not_again)
    monkeypatch.setattr(pipeline, "draft", no_llm)
    monkeypatch.setattr(pipeline, "live_drafter", no_llm)  # no drafting while recording: the DRAFT job tries
    cid = consultation(store)
    runner = JobRunner(store, job_settings, engine=tiny_engine)
    runner.start()
    try:
        record_live(store, runner, cid, webm_chunks)
        assert runner.live_segments(cid)
        runner.stop_recording(cid)
        with pytest.raises(StateError):
            runner.stop_recording(cid)
        assert runner.wait_idle(timeout=300)
    finally:
        runner.stop()
    transcript = store.notes.get_transcript(cid)
    assert transcript is not None and transcript.segments
    original = store.audio.get(cid, "original")
    assert original == Audio(data=b"".join(webm_chunks), media_type="audio/webm")
    jobs = store.jobs.for_consultation(cid)
    assert [(j.kind, j.state) for j in jobs] == [(JobKind.TRANSCRIBE, JobState.DONE), (JobKind.DRAFT, JobState.FAILED)]
    done = store.consultations.get(cid)
    assert done.metrics.recording_started_at is not None and done.metrics.recording_stopped_at is not None
    assert done.status == ConsultationStatus.FAILED
    assert done.error == "drafting failed (BackendError): the language model is switched off in this test"


def test_browser_recording_is_drafted_while_it_arrives(
    store: Store, job_settings: Settings, webm_chunks: list[bytes], tiny_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live drafter reads the transcript as it is recognised; the DRAFT job only finishes its note."""

    def not_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the live drafter should have drafted this note")

    monkeypatch.setattr(pipeline, "draft", not_again)
    monkeypatch.setattr(pipeline, "letters", lambda *args: [])
    cid = consultation(store)
    runner = JobRunner(store, job_settings, engine=tiny_engine)
    runner.start()
    try:
        record_live(store, runner, cid, webm_chunks)
        runner.stop_recording(cid)
        assert runner.wait_idle(timeout=600)
    finally:
        runner.stop()
    done = store.consultations.get(cid)
    assert done.status == ConsultationStatus.DRAFTED, done.error
    note = store.notes.get_version(cid).note
    assert [s.key for s in note.sections] == ["summary"]
    call = note.timings["draft:note"]  # one call at the stop, most of whose prompt was read while recording
    assert call.cached_tokens and call.cached_tokens > call.prompt_tokens / 2, call
    ids = {s.id for s in store.notes.get_transcript(cid).segments}
    assert all(set(item.evidence) <= ids for item in note.grounded_items())


def test_restart_requeues_the_running_job_and_transcribes_stored_chunks(
    store: Store, job_settings: Settings, webm_chunks: list[bytes], tiny_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "draft", no_llm)
    cid = consultation(store)
    for seq, chunk in enumerate(webm_chunks):  # recorded while the live session was lost
        store.audio.append_chunk(cid, seq, chunk)
    JobRunner(store, job_settings).stop_recording(cid)  # the old server queued the job ...
    assert store.jobs.claim() is not None  # ... took it, and died
    assert store.jobs.for_consultation(cid)[0].state == JobState.RUNNING
    runner = JobRunner(store, job_settings, engine=tiny_engine)
    runner.start()
    try:
        assert runner.wait_idle(timeout=300)
    finally:
        runner.stop()
    first = store.jobs.for_consultation(cid)[0]
    assert (first.kind, first.state, first.attempts) == (JobKind.TRANSCRIBE, JobState.DONE, 2)
    assert store.notes.get_transcript(cid).segments


def test_resumed_live_session_is_seeded_with_stored_chunks(
    store: Store, job_settings: Settings, webm_chunks: list[bytes], tiny_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "draft", no_llm)
    cid = consultation(store)
    runner = JobRunner(store, job_settings, engine=tiny_engine)
    runner.start()
    try:
        for seq, chunk in enumerate(webm_chunks):
            store.audio.append_chunk(cid, seq, chunk)
            if seq >= 8:  # the server restarted after chunk 7 arrived
                runner.live_chunk(cid, seq, chunk)
        runner.stop_recording(cid)
        assert runner.wait_idle(timeout=300)
    finally:
        runner.stop()
    transcript = store.notes.get_transcript(cid)
    assert transcript is not None and transcript.segments[0].start < 5  # from the very start of the recording


def test_a_job_the_server_keeps_dying_in_is_given_up(store: Store, job_settings: Settings) -> None:
    cid = consultation(store)
    store.jobs.enqueue(cid, JobKind.LETTERS)
    for _ in range(3):
        store.jobs.claim()
        store.jobs.requeue_running()
    runner = JobRunner(store, job_settings)
    runner.start()
    try:
        assert runner.wait_idle(timeout=60)
    finally:
        runner.stop()
    (job,) = store.jobs.for_consultation(cid)
    assert job.state == JobState.FAILED and "3 times" in job.error
    assert store.consultations.get(cid).status == ConsultationStatus.RECORDING  # letters never fail the consultation


def test_retention_runs_between_jobs(store: Store, job_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    fake = types.ModuleType("scribe.store.retention")
    fake.apply_retention = lambda s, cfg, now=None: calls.append((s, cfg))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scribe.store.retention", fake)
    runner = JobRunner(store, job_settings, retention_interval=0.1, poll_seconds=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert len(calls) >= 2 and calls[0] == (store, job_settings)
