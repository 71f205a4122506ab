"""Background work for the review app: transcription, drafting, letters, live sessions, retention.

One worker thread runs the store's job queue one job at a time (the models use every core, so
two at once would only slow both). Jobs live in the store, so a restart resumes them: RUNNING
jobs go back to the queue at start. Speech recognition (live or from a file) and the language
model share one lock, so they never compete for the CPU.

Flow: an upload is stored as the 'original' audio and :meth:`JobRunner.submit_upload` queues
TRANSCRIBE; a browser recording arrives chunk by chunk (:meth:`JobRunner.live_chunk`) into a
:class:`~scribe.review.live.LiveSession`, and :meth:`JobRunner.stop_recording` queues TRANSCRIBE,
which finishes the live transcript (only the last few seconds remain) or, when there is no live
session (the server restarted mid-recording, or live decoding failed), transcribes the stored
chunks from the start. TRANSCRIBE then queues DRAFT, which queues LETTERS.

Failures set the consultation FAILED with a plain message (the error's class and scribe's own
message, never transcript text) and are logged without patient data.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable

from scribe import pipeline
from scribe.asr.engine import WhisperEngine, load_engine
from scribe.asr.streaming import LiveTranscriber
from scribe.config import Settings
from scribe.errors import EmptyAudioError, NotFoundError, ScribeError, StateError, TranscriptionError
from scribe.notes.backends import Backend, load_backend
from scribe.notes.draft import LiveDrafter
from scribe.records import NoteSection, Segment, Transcript
from scribe.review import workflow
from scribe.review.live import LiveSession
from scribe.review.playback import playback_flac
from scribe.rows import ConsultationStatus, Job, JobKind
from scribe.store.store import Audio, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a job the server died in this many times is failed, not retried again
LIVE_FINISH_SECONDS = 300.0
WEBM = "audio/webm"
STAGES = {JobKind.TRANSCRIBE: "transcription", JobKind.DRAFT: "drafting", JobKind.LETTERS: "letter drafting"}


def plain_error(kind: JobKind, exc: BaseException) -> str:
    """What the clinician sees: the stage, the error's class and, for scribe's own errors, its message."""
    stage = STAGES.get(kind, str(kind))
    if isinstance(exc, ScribeError):
        return f"{stage} failed ({type(exc).__name__}): {exc}"
    return f"{stage} failed ({type(exc).__name__}); the server log has the details"


class JobRunner:
    """The review app's one worker thread and its live transcription sessions.

    ``engine`` and ``backend`` may be given (tests share loaded models); otherwise they are loaded
    from ``settings`` the first time a job needs them and kept for the runner's life.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        engine: WhisperEngine | None = None,
        backend: Backend | None = None,
        retention_interval: float = 3600.0,
        poll_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.settings = settings
        self._asr = engine
        self._llm = backend
        self._owns_llm = backend is None
        self._retention_interval = retention_interval
        self._poll = poll_seconds
        self._compute = threading.Lock()  # ASR and LLM never run at once
        self._load_lock = threading.Lock()
        self._live_lock = threading.Lock()
        self._live: dict[str, LiveSession] = {}  # recording now
        self._finishing: dict[str, LiveSession] = {}  # stopped, waiting for their TRANSCRIBE job
        self._drafters: dict[str, LiveDrafter] = {}  # drafting while recording, until the DRAFT job
        self._written: dict[str, list[NoteSection]] = {}  # a draft's sections written and checked so far
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._state_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_retention = 0.0

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Requeue jobs a previous run left RUNNING, then start the worker thread."""
        if self._thread is not None:
            return
        requeued = self.store.jobs.requeue_running()
        if requeued:
            log.info("requeued %d job(s) left running by the previous server", requeued)
        self._stopping.clear()
        self._next_retention = time.monotonic() + self._retention_interval
        self._thread = threading.Thread(target=self._loop, name="scribe-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the job in hand, stop the worker and the live sessions, release the models."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("a job was still running at shutdown; it will be requeued at the next start")
            self._thread = None
        with self._live_lock:
            sessions = [*self._live.values(), *self._finishing.values()]
            drafters = list(self._drafters.values())
            self._live.clear()
            self._finishing.clear()
            self._drafters.clear()
        for session in sessions:
            session.abort()
        for drafter in drafters:
            drafter.close()
        if self._owns_llm and self._llm is not None:
            self._llm.close()
            self._llm = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty and no job runs; False on timeout."""
        return self._idle.wait(timeout)

    # --- submitting work -------------------------------------------------------------------------
    def submit_upload(self, consultation_id: str) -> Job:
        """The 'original' audio is stored: mark the consultation TRANSCRIBING and queue its transcription.

        StateError unless the consultation accepts a recording (see :func:`workflow.check_accepts_recording`).
        """
        return workflow.submit_recording(self.store, consultation_id, self.submit)

    def submit(self, consultation_id: str, kind: JobKind) -> Job:
        """Queue a job (e.g. LETTERS when the clinician asks for the letters again) and wake the worker."""
        job = self.store.jobs.enqueue(consultation_id, kind)
        self._notify()
        return job

    def live_chunk(self, consultation_id: str, seq: int, data: bytes) -> None:
        """A recording chunk the store has just kept: feed it to the consultation's live transcription."""
        with self._live_lock:
            session = self._live.get(consultation_id)
            if session is None:
                if consultation_id in self._finishing:
                    return
                session = self._new_session(consultation_id, seq)
                if session is None:
                    return
                if seq > 0:
                    return  # the session was seeded with every stored chunk, this one included
        session.feed(seq, data)

    def live_segments(self, consultation_id: str) -> list[Segment]:
        """What the live transcription has recognised so far ([] when no recording is live)."""
        with self._live_lock:
            session = self._live.get(consultation_id) or self._finishing.get(consultation_id)
        return session.segments() if session is not None else []

    def written_sections(self, consultation_id: str) -> list[NoteSection]:
        """The sections of the note being drafted that are already written and checked ([] when none)."""
        with self._live_lock:
            return list(self._written.get(consultation_id, []))

    def stop_recording(self, consultation_id: str) -> Job:
        """The clinician pressed stop: close the live stream, note the time and queue the transcript's completion.

        StateError unless the consultation is RECORDING (a second stop changes nothing).
        """
        with self._live_lock:  # the TRANSCRIBE job waits for this lock, so it finds the session finishing
            job = workflow.stop_recording(self.store, consultation_id, self.submit)
            session = self._live.pop(consultation_id, None)
            if session is not None:
                self._finishing[consultation_id] = session
                session.end_input()
        return job

    # --- models ----------------------------------------------------------------------------------
    def _engine(self) -> WhisperEngine:
        with self._load_lock:
            if self._asr is None:
                self._asr = load_engine(self.settings)
            return self._asr

    def _backend(self) -> Backend:
        with self._load_lock:
            if self._llm is None:
                self._llm = load_backend(self.settings)
            return self._llm

    def _transcriber(self) -> LiveTranscriber:
        return pipeline.live_transcriber(self.settings, self._engine())

    def _new_session(self, consultation_id: str, seq: int) -> LiveSession | None:
        """A live session for a consultation that is RECORDING (called with the live lock held)."""
        try:
            if self.store.consultations.get(consultation_id).status != ConsultationStatus.RECORDING:
                return None
            preload = self.store.audio.chunks(consultation_id) if seq > 0 else b""  # resuming after a restart
            self.store.consultations.update_metrics(consultation_id, workflow.stamp("recording_started_at"))
        except NotFoundError:
            return None
        session = LiveSession(
            consultation_id,
            self._transcriber,
            self._compute,
            next_seq=seq + 1 if seq > 0 else 0,
            preload=preload,
            on_segments=lambda segments: self._draft_live(consultation_id, segments),
        )
        self._live[consultation_id] = session
        return session

    def _draft_live(self, consultation_id: str, segments: list[Segment]) -> None:
        """Offer the live transcript so far to the consultation's live drafter (made on first use)."""
        with self._live_lock:
            drafter = self._drafters.get(consultation_id)
        if drafter is None:
            try:
                template = self.store.consultations.get(consultation_id).template
                drafter = pipeline.live_drafter(self.settings, self._backend(), template, self._compute)
            except Exception as exc:  # noqa: BLE001  # drafting while recording is an optimisation: the DRAFT job redoes it
                log.warning("no live drafting for %s (%s)", consultation_id, type(exc).__name__)
                return
            with self._live_lock:
                drafter = self._drafters.setdefault(consultation_id, drafter)
        drafter.update(Transcript(segments=segments))

    # --- the worker ------------------------------------------------------------------------------
    def _notify(self) -> None:
        with self._state_lock:
            self._idle.clear()
            self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if time.monotonic() >= self._next_retention:
                self._retention()
            try:
                job = self.store.jobs.claim()
            except Exception as exc:  # noqa: BLE001  # the database may be briefly unavailable
                log.error("cannot read the job queue (%s); trying again", type(exc).__name__)
                job = None
            if job is None:
                with self._state_lock:
                    if not self._wake.is_set():
                        self._idle.set()
                self._wake.wait(self._poll)
                self._wake.clear()
                continue
            self._run(job)

    def _retention(self) -> None:
        self._next_retention = time.monotonic() + self._retention_interval
        try:
            from scribe.store.retention import apply_retention

            apply_retention(self.store, self.settings)
        except Exception as exc:  # noqa: BLE001  # retention is retried next hour; jobs go on
            log.error("retention failed (%s); trying again in %.0f s", type(exc).__name__, self._retention_interval)

    def _run(self, job: Job) -> None:
        handlers: dict[JobKind, Callable[[str], None]] = {
            JobKind.TRANSCRIBE: self._transcribe,
            JobKind.DRAFT: self._draft,
            JobKind.LETTERS: self._letters,
        }
        cid = job.consultation_id
        started = time.perf_counter()
        log.info("job %d: %s of consultation %s (attempt %d)", job.id, job.kind, cid, job.attempts)
        try:
            if job.attempts > MAX_ATTEMPTS:
                raise StateError(f"the server stopped during this job {job.attempts - 1} times; not trying again")
            handlers[job.kind](cid)
        except Exception as exc:  # noqa: BLE001  # every failure is recorded on the job and consultation
            self._fail(job, exc)
        else:
            self._finish(job.id)
            log.info("job %d done in %.1f s", job.id, time.perf_counter() - started)

    def _finish(self, job_id: int, error: str = "") -> None:
        with contextlib.suppress(NotFoundError):  # the consultation and its jobs were deleted meanwhile
            self.store.jobs.finish(job_id, error=error)

    def _fail(self, job: Job, exc: BaseException) -> None:
        message = plain_error(job.kind, exc)
        frames = "".join(traceback.format_tb(exc.__traceback__))  # where, never the message: it may hold data
        log.error("job %d (%s) failed: %s\n%s", job.id, job.kind, type(exc).__name__, frames)
        self._finish(job.id, message)
        if job.kind == JobKind.LETTERS:
            return  # the note is still there to review; the letters tab shows the job's error
        with contextlib.suppress(NotFoundError, StateError):
            self.store.consultations.set_status(job.consultation_id, ConsultationStatus.FAILED, error=message)

    # --- the jobs --------------------------------------------------------------------------------
    def _transcribe(self, cid: str) -> None:
        with self._live_lock:
            session = self._finishing.pop(cid, None) or self._live.pop(cid, None)
        original = self.store.audio.get(cid, "original")
        if original is None:
            chunks = self.store.audio.chunks(cid)
            if not chunks:
                raise EmptyAudioError("no audio was received for this consultation; record again or upload a file")
            original = Audio(data=chunks, media_type=WEBM)
            self.store.audio.put(cid, "original", original)
        transcript = self._finish_live(session, len(original.data)) if session is not None else None
        decoded = pipeline.decode_audio(original.data, self.settings)
        if transcript is None:
            with self._compute:
                transcript = pipeline.transcribe_audio(decoded, self.settings, self._engine())
        self.store.notes.put_transcript(cid, transcript)
        self.store.audio.put(cid, "playback", playback_flac(decoded))
        self.store.consultations.set_audio_info(cid, decoded.info)
        self.store.consultations.add_timings(cid, transcript.timings)
        workflow.transcribed(self.store, cid, self.store.jobs.enqueue)

    def _finish_live(self, session: LiveSession, stored_bytes: int) -> Transcript | None:
        """The live transcript, or None when it cannot be trusted to cover the whole recording."""
        try:
            transcript = session.finish(timeout=LIVE_FINISH_SECONDS)
        except TranscriptionError as exc:
            log.warning("live transcript of %s unusable (%s); transcribing the recording", session.consultation_id, exc)
            return None
        if session.bytes_received != stored_bytes:
            log.warning(
                "live session of %s saw %d of %d bytes; transcribing the recording",
                session.consultation_id,
                session.bytes_received,
                stored_bytes,
            )
            return None
        return transcript if transcript.segments else None  # no speech: the full pass gives the proper error

    def _draft(self, cid: str) -> None:
        consultation = self.store.consultations.get(cid)
        if consultation.current_version == 0:
            transcript = self.store.notes.get_transcript(cid)
            if transcript is None:
                raise StateError("there is no transcript to draft from; upload or record the consultation again")
            with self._live_lock:
                drafter = self._drafters.pop(cid, None)
                self._written[cid] = []

            def written(section: NoteSection) -> None:
                with self._live_lock:
                    self._written.setdefault(cid, []).append(section)

            try:
                if drafter is not None:  # the model read the transcript while recording: only the last stretch is left
                    note = drafter.finish(transcript, on_section=written)
                else:
                    with self._compute:
                        note = pipeline.draft(
                            transcript, self.settings, self._backend(), consultation.template, on_section=written
                        )
            finally:
                with self._live_lock:
                    self._written.pop(cid, None)
            self.store.notes.add_version(cid, note, created_by=None)
            if "draft" in note.timings:
                self.store.consultations.add_timings(cid, [note.timings["draft"]])
        elif not workflow.drafting(consultation):
            return  # already drafted and moved on (a job requeued after a restart)
        workflow.drafted(self.store, cid, self.store.jobs.enqueue, letters=self.settings.draft_letters)

    def _letters(self, cid: str) -> None:
        version = self.store.notes.get_version(cid)
        transcript = self.store.notes.get_transcript(cid) or Transcript()  # a note written without a recording
        with self._compute:
            drafted = pipeline.letters(version.note, transcript, self.settings, self._backend())
        for letter in drafted:
            self.store.notes.put_letter(cid, version.version, letter)
