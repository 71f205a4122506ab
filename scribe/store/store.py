"""The consultation store: every record of a consultation, encrypted at rest, in SQLite or PostgreSQL.

INTERFACE SKELETON written by the lead; the store helper implements every method (keep the
signatures; add private helpers freely). All methods are thread-safe: each opens its own
transaction on the shared engine. Patient data (audio, transcripts, notes, letters, edits'
text, disputes, patient details, TOTP secrets) is sealed with AES-GCM under a per-consultation
data key that is wrapped by the site's key (see crypto.py); deleting a consultation's keys and
rows makes its data unrecoverable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from scribe.records import (
    Approval,
    AuditEvent,
    Consent,
    Consultation,
    ConsultationStatus,
    Dispute,
    Edit,
    ExportRecord,
    Job,
    JobKind,
    Letter,
    LetterKind,
    NoteDraft,
    NoteVersion,
    PatientDetails,
    ReviewMetrics,
    Role,
    Transcript,
    User,
)


@dataclass(frozen=True)
class Session:
    """A signed-in browser session. The token itself is only ever in the cookie; the store keeps its hash."""

    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    second_factor_done: bool
    ip: str


@dataclass(frozen=True)
class Audio:
    """Decrypted audio with its media type (e.g. 'audio/flac', 'audio/webm')."""

    data: bytes
    media_type: str


class Store:
    """Repository over the database. Construct with :func:`scribe.store.open_store`."""

    # --- users, sessions, sign-in attempts ---------------------------------------------------------
    def create_user(
        self, username: str, full_name: str, role: Role, password_hash: str, *, totp_required: bool
    ) -> User:
        """Add a user; raises StateError if the username is taken."""
        raise NotImplementedError

    def get_user(self, user_id: int) -> User:
        """Raises NotFoundError."""
        raise NotImplementedError

    def find_user(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, or None."""
        raise NotImplementedError

    def list_users(self) -> list[User]:
        raise NotImplementedError

    def update_user(
        self,
        user_id: int,
        *,
        password_hash: str | None = None,
        active: bool | None = None,
        totp_required: bool | None = None,
        full_name: str | None = None,
    ) -> User:
        raise NotImplementedError

    def set_totp_secret(self, user_id: int, secret: str | None) -> None:
        """Enrol (sealed at rest) or remove a user's TOTP secret."""
        raise NotImplementedError

    def totp_secret(self, user_id: int) -> str | None:
        raise NotImplementedError

    def create_session(self, user_id: int, ip: str, ttl_seconds: int, *, second_factor_done: bool) -> str:
        """Start a session; returns the random token for the cookie (store keeps only its sha256)."""
        raise NotImplementedError

    def get_session(self, token: str) -> Session | None:
        """The live session for ``token``; None when unknown or expired (expired ones are deleted)."""
        raise NotImplementedError

    def complete_second_factor(self, token: str) -> None:
        raise NotImplementedError

    def delete_session(self, token: str) -> None:
        raise NotImplementedError

    def delete_user_sessions(self, user_id: int) -> None:
        raise NotImplementedError

    def record_login_failure(self, username: str, ip: str) -> None:
        raise NotImplementedError

    def login_failures(self, username: str, ip: str, since: datetime) -> int:
        """Failures for this username OR from this address since ``since``."""
        raise NotImplementedError

    # --- consultations -----------------------------------------------------------------------------
    def create_consultation(self, owner_id: int, template: str, patient: PatientDetails) -> Consultation:
        """New consultation in status CONSENT with its data keys."""
        raise NotImplementedError

    def get_consultation(self, consultation_id: str) -> Consultation:
        """Raises NotFoundError."""
        raise NotImplementedError

    def list_consultations(self, *, user_id: int | None = None) -> list[Consultation]:
        """Newest first; with ``user_id``, those the user owns or was granted; without, all."""
        raise NotImplementedError

    def patient(self, consultation_id: str) -> PatientDetails:
        raise NotImplementedError

    def set_consent(self, consultation_id: str, consent: Consent) -> Consultation:
        """Record consent once; an objection moves the consultation to NOT_RECORDED for good."""
        raise NotImplementedError

    def set_status(self, consultation_id: str, status: ConsultationStatus, *, error: str = "") -> None:
        raise NotImplementedError

    def update_metrics(self, consultation_id: str, change: Callable[[ReviewMetrics], None]) -> ReviewMetrics:
        """Read-modify-write the review metrics in one transaction."""
        raise NotImplementedError

    def add_timings(self, consultation_id: str, timings: list) -> None:
        """Append StageTimings (no patient data) to the consultation."""
        raise NotImplementedError

    def grant(self, consultation_id: str, user_id: int) -> None:
        """Let another user see this consultation."""
        raise NotImplementedError

    def granted(self, consultation_id: str) -> list[int]:
        raise NotImplementedError

    # --- audio --------------------------------------------------------------------------------------
    def append_chunk(self, consultation_id: str, seq: int, data: bytes) -> bool:
        """Keep one uploaded recording chunk; idempotent per ``seq`` (False when already held).

        Raises StateError unless the consultation has consent and is RECORDING.
        """
        raise NotImplementedError

    def chunks(self, consultation_id: str) -> bytes:
        """All chunks so far, in sequence order, concatenated."""
        raise NotImplementedError

    def put_audio(self, consultation_id: str, kind: str, audio: Audio) -> None:
        """Keep the whole recording ('original') or the playback copy ('playback'); replaces the same kind."""
        raise NotImplementedError

    def get_audio(self, consultation_id: str, kind: str) -> Audio | None:
        raise NotImplementedError

    def delete_audio(self, consultation_id: str) -> None:
        """Real deletion of every audio blob and chunk and the audio data key; sets audio_deleted_at."""
        raise NotImplementedError

    # --- transcript, notes, letters ----------------------------------------------------------------
    def put_transcript(self, consultation_id: str, transcript: Transcript) -> None:
        raise NotImplementedError

    def get_transcript(self, consultation_id: str) -> Transcript | None:
        raise NotImplementedError

    def add_version(
        self, consultation_id: str, note: NoteDraft, *, created_by: int | None, based_on: int | None = None
    ) -> NoteVersion:
        """A new DRAFT version (number = last + 1), which becomes the consultation's current version."""
        raise NotImplementedError

    def get_version(self, consultation_id: str, version: int | None = None) -> NoteVersion:
        """``version`` None means the current one. Raises NotFoundError."""
        raise NotImplementedError

    def list_versions(self, consultation_id: str) -> list[NoteVersion]:
        raise NotImplementedError

    def save_note(self, consultation_id: str, version: int, note: NoteDraft, edit: Edit) -> NoteVersion:
        """Replace a DRAFT version's note and record the edit, in one transaction; StateError otherwise."""
        raise NotImplementedError

    def edits(self, consultation_id: str, version: int | None = None) -> list[Edit]:
        raise NotImplementedError

    def approve(self, consultation_id: str, version: int, approval: Approval) -> NoteVersion:
        """DRAFT -> APPROVED (earlier approved versions -> SUPERSEDED); status APPROVED. StateError otherwise."""
        raise NotImplementedError

    def reject(self, consultation_id: str, version: int, reason: str, user_id: int) -> NoteVersion:
        raise NotImplementedError

    def put_letter(self, consultation_id: str, version: int, letter: Letter) -> None:
        """Keep the letter of ``letter.kind`` drafted from note ``version`` (replaces the same kind/version)."""
        raise NotImplementedError

    def get_letter(self, consultation_id: str, kind: LetterKind, version: int | None = None) -> Letter | None:
        """The letter for ``version`` (default current), falling back to the newest earlier one."""
        raise NotImplementedError

    def add_dispute(self, consultation_id: str, version: int, text: str, recorded_by: int) -> Dispute:
        raise NotImplementedError

    def disputes(self, consultation_id: str) -> list[Dispute]:
        raise NotImplementedError

    def record_export(self, export: ExportRecord) -> ExportRecord:
        """Keep the export; on success the consultation becomes EXPORTED."""
        raise NotImplementedError

    def exports(self, consultation_id: str) -> list[ExportRecord]:
        raise NotImplementedError

    def delete_consultation(self, consultation_id: str) -> None:
        """Real deletion: every row and the data keys (the caller audits a tombstone)."""
        raise NotImplementedError

    # --- jobs ---------------------------------------------------------------------------------------
    def enqueue(self, consultation_id: str, kind: JobKind) -> Job:
        raise NotImplementedError

    def claim_job(self) -> Job | None:
        """The oldest QUEUED job, now RUNNING with attempts + 1; None when idle."""
        raise NotImplementedError

    def finish_job(self, job_id: int, *, error: str = "") -> None:
        """DONE, or FAILED with ``error`` (no patient data)."""
        raise NotImplementedError

    def requeue_running(self) -> int:
        """After a restart: RUNNING jobs back to QUEUED; returns how many."""
        raise NotImplementedError

    def jobs(self, consultation_id: str) -> list[Job]:
        raise NotImplementedError

    # --- audit ----------------------------------------------------------------------------------------
    def audit(self, event: AuditEvent) -> AuditEvent:
        """Append an event, chained to the previous one by sha256. Events are never updated."""
        raise NotImplementedError

    def audit_events(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        raise NotImplementedError

    def verify_audit(self) -> tuple[bool, int]:
        """(chain intact, events checked)."""
        raise NotImplementedError

    # --- retention and keys ---------------------------------------------------------------------------
    def consultations_for_retention(self) -> list[Consultation]:
        """Every consultation with the fields retention needs (status, metrics.approved_at, created_at)."""
        raise NotImplementedError

    def rotate_key(self, new_key: bytes) -> int:
        """Re-wrap every data key under ``new_key``; returns how many. The old key opens nothing after."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
