"""The consultation store: every record of a consultation, encrypted at rest, in SQLite or PostgreSQL.

All methods are thread-safe: each opens its own transaction on the shared engine (writes take
SQLite's write lock at once, so concurrent writers queue instead of failing). Patient data
(audio, transcripts, notes, letters, edits' text, disputes, patient details, rejection reasons,
TOTP secrets) is sealed with AES-GCM under a per-consultation data key that is wrapped by the
site's key (see crypto.py); deleting a consultation's keys and rows makes its data
unrecoverable. Metadata (ids, states, times, review metrics, stage timings, audit events) is
stored in the clear so it can be queried. Timestamps are UTC.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine, Row, Table, delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from scribe.errors import KeyMissingError, NotFoundError, StateError, StoreError
from scribe.records import AudioInfo, Letter, LetterKind, NoteDraft, StageTiming, Transcript
from scribe.rows import (
    Approval,
    AuditEvent,
    Consent,
    Consultation,
    ConsultationStatus,
    Dispute,
    Edit,
    EditAction,
    ExportRecord,
    Job,
    JobKind,
    JobState,
    NoteState,
    NoteVersion,
    PatientDetails,
    ReviewMetrics,
    Role,
    User,
)
from scribe.store import crypto, db


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


AUDIO_KINDS = ("original", "playback")
RECORD, AUDIO, SYSTEM = "record", "audio", "system"
_TIMINGS = TypeAdapter(list[StageTiming])
# Statuses that mean audio is being taken or processed: never for a patient who objected.
_AUDIO_STATUSES = {ConsultationStatus.RECORDING, ConsultationStatus.TRANSCRIBING, ConsultationStatus.DRAFTING}
_FAILURE_KEEP = timedelta(days=7)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC from the database (SQLite hands back naive UTC, PostgreSQL aware)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware(value: datetime) -> datetime:
    """A datetime to store: UTC; naive input is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _canonical(event: AuditEvent, prev_hash: str) -> str:
    fields = event.model_dump(mode="json", exclude={"hash"})
    fields["at"] = _aware(event.at).isoformat()
    return prev_hash + json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_hash(event: AuditEvent, prev_hash: str) -> str:
    """sha256 over the previous event's hash and this event's canonical JSON (without its own hash)."""
    return hashlib.sha256(_canonical(event, prev_hash).encode()).hexdigest()


class Store:
    """Repository over the database. Construct with :func:`scribe.store.open_store`."""

    def __init__(self, engine: Engine, key: bytes) -> None:
        """Use an engine whose database is migrated to head, with the site key ``key``.

        Raises KeyMissingError when ``key`` is not the key this store's data keys are wrapped with.
        """
        self._engine = engine
        self._writer = db.writer(engine)
        self._kek = key
        self._keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self._t: dict[str, Table] = dict(db.reflect(engine).tables)
        self._system_key = self._open_system_key()

    # --- plumbing -----------------------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"the store could not be read ({exc.__class__.__name__}: {exc}); is the disk full?"
            ) from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._writer.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"the store could not be written ({exc.__class__.__name__}: {exc}); is the disk full or read-only?"
            ) from None

    def _open_system_key(self) -> bytes:
        keys = self._t["data_keys"]
        ours = crypto.key_id(self._kek)
        head = self._t["audit_head"]
        with self._write() as c:
            # Serialise first opens (PostgreSQL), so that two processes cannot both make a system key.
            c.execute(select(head.c.id).where(head.c.id == 1).with_for_update())
            row = c.execute(
                select(keys).where(keys.c.consultation_id.is_(None), keys.c.purpose == SYSTEM)
            ).one_or_none()
            if row is None:
                data_key = crypto.new_key()
                c.execute(
                    insert(keys).values(
                        consultation_id=None,
                        purpose=SYSTEM,
                        kek_id=ours,
                        wrapped=crypto.wrap_key(self._kek, data_key, scope=SYSTEM, purpose=SYSTEM),
                        created_at=_now(),
                    )
                )
                return data_key
        if row.kek_id != ours:
            raise KeyMissingError(
                f"this key does not open the store (key id {ours}, store wrapped with {row.kek_id}); "
                "set SCRIBE_STORE_KEY or SCRIBE_STORE_KEY_FILE to the key this store was created or rotated with"
            )
        return crypto.unwrap_key(self._kek, row.wrapped, scope=SYSTEM, purpose=SYSTEM)

    def _new_data_key(self, c: Connection, consultation_id: str, purpose: str) -> bytes:
        keys = self._t["data_keys"]
        current = c.execute(
            select(keys.c.kek_id).where(keys.c.consultation_id.is_(None), keys.c.purpose == SYSTEM)
        ).scalar_one()
        if current != crypto.key_id(self._kek):
            # Another process rotated the key: wrapping with ours would make this record unreadable.
            raise KeyMissingError(
                f"the store key was rotated (now key id {current}) while scribe ran with key id "
                f"{crypto.key_id(self._kek)}; restart scribe with the new key"
            )
        data_key = crypto.new_key()
        c.execute(
            insert(self._t["data_keys"]).values(
                consultation_id=consultation_id,
                purpose=purpose,
                kek_id=crypto.key_id(self._kek),
                wrapped=crypto.wrap_key(self._kek, data_key, scope=consultation_id, purpose=purpose),
                created_at=_now(),
            )
        )
        return data_key

    def _data_key(self, c: Connection, consultation_id: str, purpose: str) -> bytes:
        with self._lock:
            cached = self._keys.get((consultation_id, purpose))
        if cached is not None:
            return cached
        keys = self._t["data_keys"]
        row = c.execute(
            select(keys.c.wrapped, keys.c.kek_id).where(
                keys.c.consultation_id == consultation_id, keys.c.purpose == purpose
            )
        ).one_or_none()
        if row is None:
            if purpose == AUDIO:
                raise StateError(f"the audio of consultation {consultation_id} was deleted")
            raise NotFoundError(f"consultation {consultation_id} has no data key; it was deleted")
        if row.kek_id != crypto.key_id(self._kek):
            raise KeyMissingError(
                f"this key does not open consultation {consultation_id} "
                f"(key id {crypto.key_id(self._kek)}, wrapped with {row.kek_id})"
            )
        data_key = crypto.unwrap_key(self._kek, row.wrapped, scope=consultation_id, purpose=purpose)
        with self._lock:
            self._keys[(consultation_id, purpose)] = data_key
        return data_key

    def _forget_keys(self, consultation_id: str, *purposes: str) -> None:
        with self._lock:
            for purpose in purposes:
                self._keys.pop((consultation_id, purpose), None)

    def _seal(self, c: Connection, cid: str, purpose: str, data: bytes, table: str, row: str, kind: str) -> bytes:
        return crypto.seal(self._data_key(c, cid, purpose), data, crypto.aad(table, row, cid, kind))

    def _unseal(self, c: Connection, cid: str, purpose: str, blob: bytes, table: str, row: str, kind: str) -> bytes:
        what = f"the {kind} of consultation {cid} ({table} {row})"
        return crypto.unseal(self._data_key(c, cid, purpose), blob, crypto.aad(table, row, cid, kind), what=what)

    def _consultation_row(self, c: Connection, consultation_id: str) -> Row:
        """The consultation's row; in a write transaction also locked (PostgreSQL), so that
        read-modify-write changes to one consultation (versions, metrics, states) run one at a time."""
        t = self._t["consultations"]
        query = select(t).where(t.c.id == consultation_id)
        if c.get_execution_options().get(db.IMMEDIATE):
            query = query.with_for_update()
        row = c.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"consultation {consultation_id} does not exist (or was deleted under retention)")
        return row

    def _consultation(self, c: Connection, row: Row) -> Consultation:
        audio = None
        if row.audio_info is not None:
            plain = self._unseal(c, row.id, RECORD, row.audio_info, "consultations", row.id, "audio_info")
            audio = AudioInfo.model_validate_json(plain)
        return Consultation(
            id=row.id,
            owner_id=row.owner_id,
            created_at=_utc(row.created_at),
            status=ConsultationStatus(row.status),
            template=row.template,
            consent=Consent.model_validate_json(row.consent) if row.consent else None,
            audio=audio,
            audio_deleted_at=_utc(row.audio_deleted_at),
            current_version=row.current_version,
            error=row.error,
            metrics=ReviewMetrics.model_validate_json(row.metrics),
            timings=_TIMINGS.validate_json(row.timings),
        )

    def _set_consultation(self, c: Connection, consultation_id: str, **values: object) -> None:
        t = self._t["consultations"]
        c.execute(update(t).where(t.c.id == consultation_id).values(**values))

    # --- users, sessions, sign-in attempts ---------------------------------------------------------
    @staticmethod
    def _user(row: Row) -> User:
        return User(
            id=row.id,
            username=row.username,
            full_name=row.full_name,
            role=Role(row.role),
            active=bool(row.active),
            totp_enabled=row.totp_secret is not None,
            totp_required=bool(row.totp_required),
            created_at=_utc(row.created_at),
        )

    def create_user(
        self, username: str, full_name: str, role: Role, password_hash: str, *, totp_required: bool
    ) -> User:
        """Add a user; raises StateError if the username is taken."""
        users = self._t["users"]
        username = username.strip()
        if not username:
            raise StateError("a username cannot be empty")
        with self._write() as c:
            if c.execute(select(users.c.id).where(users.c.username == username)).first() is not None:
                raise StateError(f"the username {username!r} is taken; choose another")
            result = c.execute(
                insert(users).values(
                    username=username,
                    full_name=full_name,
                    role=Role(role).value,
                    password_hash=password_hash,
                    active=True,
                    totp_required=totp_required,
                    totp_secret=None,
                    created_at=_now(),
                )
            )
            row = c.execute(select(users).where(users.c.id == result.inserted_primary_key[0])).one()
            return self._user(row)

    def get_user(self, user_id: int) -> User:
        """Raises NotFoundError."""
        users = self._t["users"]
        with self._read() as c:
            row = c.execute(select(users).where(users.c.id == user_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"user {user_id} does not exist")
        return self._user(row)

    def find_user(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, or None."""
        users = self._t["users"]
        with self._read() as c:
            row = c.execute(select(users).where(users.c.username == username.strip())).one_or_none()
        return None if row is None else (self._user(row), row.password_hash)

    def list_users(self) -> list[User]:
        """Every user, by username."""
        users = self._t["users"]
        with self._read() as c:
            return [self._user(row) for row in c.execute(select(users).order_by(users.c.username))]

    def update_user(
        self,
        user_id: int,
        *,
        password_hash: str | None = None,
        active: bool | None = None,
        totp_required: bool | None = None,
        full_name: str | None = None,
    ) -> User:
        """Change the given fields; NotFoundError for an unknown user."""
        users = self._t["users"]
        values = {
            name: value
            for name, value in (
                ("password_hash", password_hash),
                ("active", active),
                ("totp_required", totp_required),
                ("full_name", full_name),
            )
            if value is not None
        }
        with self._write() as c:
            if values:
                c.execute(update(users).where(users.c.id == user_id).values(**values))
            row = c.execute(select(users).where(users.c.id == user_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"user {user_id} does not exist")
        return self._user(row)

    def set_totp_secret(self, user_id: int, secret: str | None) -> None:
        """Enrol (sealed at rest) or remove a user's TOTP secret."""
        users = self._t["users"]
        sealed = None
        if secret is not None:
            sealed = crypto.seal(self._system_key, secret.encode(), crypto.aad("users", str(user_id), SYSTEM, "totp"))
        with self._write() as c:
            if c.execute(update(users).where(users.c.id == user_id).values(totp_secret=sealed)).rowcount == 0:
                raise NotFoundError(f"user {user_id} does not exist")

    def totp_secret(self, user_id: int) -> str | None:
        """The user's TOTP secret, or None when none is enrolled."""
        users = self._t["users"]
        with self._read() as c:
            blob = c.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar_one_or_none()
        if blob is None:
            return None
        associated = crypto.aad("users", str(user_id), SYSTEM, "totp")
        return crypto.unseal(self._system_key, blob, associated, what=f"the TOTP secret of user {user_id}").decode()

    def create_session(self, user_id: int, ip: str, ttl_seconds: int, *, second_factor_done: bool) -> str:
        """Start a session; returns the random token for the cookie (store keeps only its sha256)."""
        token = secrets.token_urlsafe(32)
        now = _now()
        with self._write() as c:
            c.execute(
                insert(self._t["sessions"]).values(
                    token_hash=_token_hash(token),
                    user_id=user_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                    second_factor_done=second_factor_done,
                    ip=ip,
                )
            )
        return token

    def get_session(self, token: str) -> Session | None:
        """The live session for ``token``; None when unknown or expired (expired ones are deleted)."""
        sessions = self._t["sessions"]
        key = _token_hash(token)
        with self._read() as c:
            row = c.execute(select(sessions).where(sessions.c.token_hash == key)).one_or_none()
        if row is None:
            return None
        if _utc(row.expires_at) <= _now():
            self.delete_session(token)
            return None
        return Session(
            user_id=row.user_id,
            csrf_token=row.csrf_token,
            created_at=_utc(row.created_at),
            expires_at=_utc(row.expires_at),
            second_factor_done=bool(row.second_factor_done),
            ip=row.ip,
        )

    def complete_second_factor(self, token: str) -> None:
        """Mark the session's second factor as given."""
        sessions = self._t["sessions"]
        with self._write() as c:
            c.execute(
                update(sessions).where(sessions.c.token_hash == _token_hash(token)).values(second_factor_done=True)
            )

    def delete_session(self, token: str) -> None:
        """Sign out one session (no error when it is already gone)."""
        sessions = self._t["sessions"]
        with self._write() as c:
            c.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))

    def delete_user_sessions(self, user_id: int) -> None:
        """Sign the user out everywhere."""
        sessions = self._t["sessions"]
        with self._write() as c:
            c.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def record_login_failure(self, username: str, ip: str) -> None:
        """Count one failed sign-in (old failures are pruned after a week)."""
        failures = self._t["login_failures"]
        now = _now()
        with self._write() as c:
            c.execute(insert(failures).values(username=username.strip()[:150], ip=ip, at=now))
            c.execute(delete(failures).where(failures.c.at < now - _FAILURE_KEEP))

    def login_failures(self, username: str, ip: str, since: datetime) -> int:
        """Failures for this username OR from this address since ``since``."""
        failures = self._t["login_failures"]
        with self._read() as c:
            return c.execute(
                select(func.count())
                .select_from(failures)
                .where(
                    failures.c.at >= _aware(since),
                    or_(failures.c.username == username.strip()[:150], failures.c.ip == ip),
                )
            ).scalar_one()

    # --- consultations -----------------------------------------------------------------------------
    def create_consultation(self, owner_id: int, template: str, patient: PatientDetails) -> Consultation:
        """New consultation in status CONSENT with its data keys."""
        consultation = Consultation(owner_id=owner_id, template=template)
        cid = consultation.id
        with self._write() as c:
            c.execute(
                insert(self._t["consultations"]).values(
                    id=cid,
                    owner_id=owner_id,
                    created_at=consultation.created_at,
                    status=consultation.status.value,
                    template=template,
                    patient=b"",
                    consent=None,
                    audio_info=None,
                    audio_deleted_at=None,
                    current_version=0,
                    error="",
                    metrics=consultation.metrics.model_dump_json(),
                    timings="[]",
                )
            )
            record_key = self._new_data_key(c, cid, RECORD)
            self._new_data_key(c, cid, AUDIO)
            sealed = crypto.seal(
                record_key, patient.model_dump_json().encode(), crypto.aad("consultations", cid, cid, "patient")
            )
            self._set_consultation(c, cid, patient=sealed)
        self._forget_keys(cid, RECORD, AUDIO)
        return consultation

    def get_consultation(self, consultation_id: str) -> Consultation:
        """Raises NotFoundError."""
        with self._read() as c:
            return self._consultation(c, self._consultation_row(c, consultation_id))

    def list_consultations(self, *, user_id: int | None = None) -> list[Consultation]:
        """Newest first; with ``user_id``, those the user owns or was granted; without, all."""
        t, grants = self._t["consultations"], self._t["grants"]
        query = select(t).order_by(t.c.created_at.desc(), t.c.id)
        if user_id is not None:
            granted = select(grants.c.consultation_id).where(grants.c.user_id == user_id)
            query = query.where(or_(t.c.owner_id == user_id, t.c.id.in_(granted)))
        with self._read() as c:
            return [self._consultation(c, row) for row in c.execute(query).all()]

    def patient(self, consultation_id: str) -> PatientDetails:
        """The patient's details (decrypted)."""
        with self._read() as c:
            row = self._consultation_row(c, consultation_id)
            plain = self._unseal(c, row.id, RECORD, row.patient, "consultations", row.id, "patient")
        return PatientDetails.model_validate_json(plain)

    def set_consent(self, consultation_id: str, consent: Consent) -> Consultation:
        """Record consent once; an objection moves the consultation to NOT_RECORDED for good.

        A patient who was told and agreed moves the consultation to RECORDING (ready to record or
        upload); anything else is an objection. StateError when consent was already recorded.
        """
        agreed = consent.informed and consent.agreed
        with self._write() as c:
            row = self._consultation_row(c, consultation_id)
            if row.consent is not None or row.status != ConsultationStatus.CONSENT:
                raise StateError(f"consent for consultation {consultation_id} was already recorded; it is kept as is")
            status = ConsultationStatus.RECORDING if agreed else ConsultationStatus.NOT_RECORDED
            self._set_consultation(c, consultation_id, consent=consent.model_dump_json(), status=status.value)
            return self._consultation(c, self._consultation_row(c, consultation_id))

    def set_status(self, consultation_id: str, status: ConsultationStatus, *, error: str = "") -> None:
        """Move the consultation to ``status`` (``error`` says why for FAILED; never patient data).

        StateError for a recording status when the patient objected.
        """
        status = ConsultationStatus(status)
        with self._write() as c:
            row = self._consultation_row(c, consultation_id)
            if status in _AUDIO_STATUSES and row.status == ConsultationStatus.NOT_RECORDED:
                raise StateError(f"consultation {consultation_id}: the patient objected, so nothing is recorded")
            self._set_consultation(c, consultation_id, status=status.value, error=error)

    def update_metrics(self, consultation_id: str, change: Callable[[ReviewMetrics], None]) -> ReviewMetrics:
        """Read-modify-write the review metrics in one transaction."""
        with self._write() as c:
            row = self._consultation_row(c, consultation_id)
            metrics = ReviewMetrics.model_validate_json(row.metrics)
            change(metrics)
            metrics = ReviewMetrics.model_validate(metrics.model_dump())
            self._set_consultation(c, consultation_id, metrics=metrics.model_dump_json())
        return metrics

    def add_timings(self, consultation_id: str, timings: list) -> None:
        """Append StageTimings (no patient data) to the consultation."""
        with self._write() as c:
            row = self._consultation_row(c, consultation_id)
            kept = _TIMINGS.validate_json(row.timings) + [StageTiming.model_validate(t) for t in timings]
            self._set_consultation(c, consultation_id, timings=_TIMINGS.dump_json(kept).decode())

    def set_audio_info(self, consultation_id: str, info: AudioInfo | None) -> None:
        """Keep what was decoded from the recording (sealed: it may name the uploaded file)."""
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            sealed = None
            if info is not None:
                data = info.model_dump_json().encode()
                sealed = self._seal(c, consultation_id, RECORD, data, "consultations", consultation_id, "audio_info")
            self._set_consultation(c, consultation_id, audio_info=sealed)

    def grant(self, consultation_id: str, user_id: int) -> None:
        """Let another user see this consultation."""
        grants = self._t["grants"]
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            held = c.execute(
                select(grants.c.user_id).where(grants.c.consultation_id == consultation_id, grants.c.user_id == user_id)
            ).first()
            if held is None:
                c.execute(insert(grants).values(consultation_id=consultation_id, user_id=user_id, created_at=_now()))

    def granted(self, consultation_id: str) -> list[int]:
        """User ids granted access (the owner is not listed)."""
        grants = self._t["grants"]
        with self._read() as c:
            query = select(grants.c.user_id).where(grants.c.consultation_id == consultation_id)
            return list(c.execute(query.order_by(grants.c.user_id)).scalars())

    # --- audio --------------------------------------------------------------------------------------
    def append_chunk(self, consultation_id: str, seq: int, data: bytes) -> bool:
        """Keep one uploaded recording chunk; idempotent per ``seq`` (False when already held).

        Raises StateError unless the consultation has consent and is RECORDING.
        """
        if seq < 0:
            raise ValueError("chunk sequence numbers start at 0")
        chunks = self._t["chunks"]
        with self._write() as c:
            row = self._consultation_row(c, consultation_id)
            consent = Consent.model_validate_json(row.consent) if row.consent else None
            if consent is None or not consent.agreed or row.status != ConsultationStatus.RECORDING:
                raise StateError(
                    f"consultation {consultation_id} is not recording (status {row.status}); "
                    "record only after the patient agreed and before stopping"
                )
            held = c.execute(
                select(chunks.c.seq).where(chunks.c.consultation_id == consultation_id, chunks.c.seq == seq)
            ).first()
            if held is not None:
                return False
            sealed = self._seal(c, consultation_id, AUDIO, bytes(data), "chunks", f"{consultation_id}/{seq}", "chunk")
            c.execute(insert(chunks).values(consultation_id=consultation_id, seq=seq, data=sealed, created_at=_now()))
        return True

    def chunks(self, consultation_id: str) -> bytes:
        """All chunks so far, in sequence order, concatenated."""
        chunks = self._t["chunks"]
        with self._read() as c:
            self._consultation_row(c, consultation_id)
            rows = c.execute(
                select(chunks.c.seq, chunks.c.data)
                .where(chunks.c.consultation_id == consultation_id)
                .order_by(chunks.c.seq)
            ).all()
            return b"".join(
                self._unseal(c, consultation_id, AUDIO, r.data, "chunks", f"{consultation_id}/{r.seq}", "chunk")
                for r in rows
            )

    def put_audio(self, consultation_id: str, kind: str, audio: Audio) -> None:
        """Keep the whole recording ('original') or the playback copy ('playback'); replaces the same kind.

        The 'original' supersedes the recording's chunks, which are deleted in the same transaction
        (one copy of the audio, not two). StateError when the patient did not agree to recording or
        the audio was already deleted.
        """
        if kind not in AUDIO_KINDS:
            raise ValueError(f"audio kind must be one of {', '.join(AUDIO_KINDS)}, not {kind!r}")
        table = self._t["audio"]
        with self._write() as c:
            row = self._consultation_row(c, consultation_id)
            consent = Consent.model_validate_json(row.consent) if row.consent else None
            if consent is None or not consent.agreed:
                raise StateError(f"consultation {consultation_id} has no recording consent; no audio is kept")
            if row.audio_deleted_at is not None:
                raise StateError(f"the audio of consultation {consultation_id} was deleted; it cannot be added again")
            sealed = self._seal(
                c, consultation_id, AUDIO, bytes(audio.data), "audio", f"{consultation_id}/{kind}", kind
            )
            c.execute(delete(table).where(table.c.consultation_id == consultation_id, table.c.kind == kind))
            if kind == "original":
                chunks = self._t["chunks"]
                c.execute(delete(chunks).where(chunks.c.consultation_id == consultation_id))
            c.execute(
                insert(table).values(
                    consultation_id=consultation_id,
                    kind=kind,
                    media_type=audio.media_type,
                    data=sealed,
                    created_at=_now(),
                )
            )
        if kind == "original":
            db.checkpoint(self._engine)  # no copy of the deleted chunks stays in the WAL

    def get_audio(self, consultation_id: str, kind: str) -> Audio | None:
        """The decrypted audio of ``kind``, or None when there is none (or it was deleted)."""
        table = self._t["audio"]
        with self._read() as c:
            row = c.execute(
                select(table).where(table.c.consultation_id == consultation_id, table.c.kind == kind)
            ).one_or_none()
            if row is None:
                return None
            data = self._unseal(c, consultation_id, AUDIO, row.data, "audio", f"{consultation_id}/{kind}", kind)
        return Audio(data=data, media_type=row.media_type)

    def delete_audio(self, consultation_id: str) -> None:
        """Real deletion of every audio blob and chunk and the audio data key; sets audio_deleted_at."""
        keys = self._t["data_keys"]
        with self._write() as c:
            row = self._consultation_row(c, consultation_id)
            for name in ("audio", "chunks"):
                table = self._t[name]
                c.execute(delete(table).where(table.c.consultation_id == consultation_id))
            c.execute(delete(keys).where(keys.c.consultation_id == consultation_id, keys.c.purpose == AUDIO))
            if row.audio_deleted_at is None:
                self._set_consultation(c, consultation_id, audio_deleted_at=_now())
        self._forget_keys(consultation_id, AUDIO)
        db.checkpoint(self._engine)

    # --- transcript, notes, letters ----------------------------------------------------------------
    def put_transcript(self, consultation_id: str, transcript: Transcript) -> None:
        """Keep (or replace) the consultation's transcript."""
        table = self._t["transcripts"]
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            data = transcript.model_dump_json().encode()
            sealed = self._seal(c, consultation_id, RECORD, data, "transcripts", consultation_id, "transcript")
            c.execute(delete(table).where(table.c.consultation_id == consultation_id))
            c.execute(insert(table).values(consultation_id=consultation_id, data=sealed, created_at=_now()))

    def get_transcript(self, consultation_id: str) -> Transcript | None:
        """The transcript, or None when there is none yet."""
        table = self._t["transcripts"]
        with self._read() as c:
            blob = c.execute(
                select(table.c.data).where(table.c.consultation_id == consultation_id)
            ).scalar_one_or_none()
            if blob is None:
                return None
            plain = self._unseal(c, consultation_id, RECORD, blob, "transcripts", consultation_id, "transcript")
        return Transcript.model_validate_json(plain)

    def _seal_note(self, c: Connection, cid: str, version: int, note: NoteDraft) -> bytes:
        return self._seal(c, cid, RECORD, note.model_dump_json().encode(), "versions", f"{cid}/{version}", "note")

    def _version(self, c: Connection, row: Row) -> NoteVersion:
        cid, number = row.consultation_id, row.version
        note = NoteDraft.model_validate_json(
            self._unseal(c, cid, RECORD, row.note, "versions", f"{cid}/{number}", "note")
        )
        reason = ""
        if row.rejected_reason is not None:
            blob = row.rejected_reason
            reason = self._unseal(c, cid, RECORD, blob, "versions", f"{cid}/{number}", "rejected_reason").decode()
        return NoteVersion(
            consultation_id=cid,
            version=number,
            note=note,
            state=NoteState(row.state),
            based_on=row.based_on,
            created_by=row.created_by,
            created_at=_utc(row.created_at),
            approval=Approval.model_validate_json(row.approval) if row.approval else None,
            rejected_reason=reason,
        )

    def _version_row(self, c: Connection, consultation_id: str, version: int | None) -> Row:
        if version is None:
            version = self._consultation_row(c, consultation_id).current_version
            if version == 0:
                raise NotFoundError(f"consultation {consultation_id} has no note yet")
        versions = self._t["versions"]
        row = c.execute(
            select(versions).where(versions.c.consultation_id == consultation_id, versions.c.version == version)
        ).one_or_none()
        if row is None:
            self._consultation_row(c, consultation_id)
            raise NotFoundError(f"consultation {consultation_id} has no note version {version}")
        return row

    def add_version(
        self, consultation_id: str, note: NoteDraft, *, created_by: int | None, based_on: int | None = None
    ) -> NoteVersion:
        """A new DRAFT version (number = last + 1), which becomes the consultation's current version.

        The consultation's status is the caller's to set (DRAFTED for a draft, as it fits for a correction).
        """
        versions = self._t["versions"]
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            last = c.execute(
                select(func.max(versions.c.version)).where(versions.c.consultation_id == consultation_id)
            ).scalar_one()
            number = (last or 0) + 1
            if based_on is not None:
                self._version_row(c, consultation_id, based_on)
            c.execute(
                insert(versions).values(
                    consultation_id=consultation_id,
                    version=number,
                    state=NoteState.DRAFT.value,
                    based_on=based_on,
                    created_by=created_by,
                    created_at=_now(),
                    note=self._seal_note(c, consultation_id, number, note),
                    approval=None,
                    rejected_reason=None,
                    rejected_by=None,
                )
            )
            self._set_consultation(c, consultation_id, current_version=number)
            return self._version(c, self._version_row(c, consultation_id, number))

    def get_version(self, consultation_id: str, version: int | None = None) -> NoteVersion:
        """``version`` None means the current one. Raises NotFoundError."""
        with self._read() as c:
            return self._version(c, self._version_row(c, consultation_id, version))

    def list_versions(self, consultation_id: str) -> list[NoteVersion]:
        """Every version, oldest first."""
        versions = self._t["versions"]
        with self._read() as c:
            rows = c.execute(
                select(versions).where(versions.c.consultation_id == consultation_id).order_by(versions.c.version)
            ).all()
            return [self._version(c, row) for row in rows]

    def save_note(self, consultation_id: str, version: int, note: NoteDraft, edit: Edit) -> NoteVersion:
        """Replace a DRAFT version's note and record the edit, in one transaction; StateError otherwise."""
        if edit.consultation_id != consultation_id or edit.version != version:
            raise ValueError("the edit belongs to another consultation or version")
        versions, edits = self._t["versions"], self._t["edits"]
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            row = self._version_row(c, consultation_id, version)
            if row.state != NoteState.DRAFT:
                raise StateError(
                    f"note version {version} of consultation {consultation_id} is {row.state} and cannot be edited; "
                    "make a correction instead"
                )
            c.execute(
                update(versions)
                .where(versions.c.consultation_id == consultation_id, versions.c.version == version)
                .values(note=self._seal_note(c, consultation_id, version, note))
            )
            edit_id = c.execute(
                insert(edits).values(
                    consultation_id=consultation_id,
                    version=version,
                    user_id=edit.user_id,
                    at=_aware(edit.at),
                    section=edit.section,
                    idx=edit.index,
                    action=EditAction(edit.action).value,
                    body=b"",
                )
            ).inserted_primary_key[0]
            body = json.dumps({"before": edit.before, "after": edit.after}).encode()
            sealed = self._seal(c, consultation_id, RECORD, body, "edits", str(edit_id), "edit")
            c.execute(update(edits).where(edits.c.id == edit_id).values(body=sealed))
            return self._version(c, self._version_row(c, consultation_id, version))

    def edits(self, consultation_id: str, version: int | None = None) -> list[Edit]:
        """The recorded edits, oldest first; of one version when ``version`` is given."""
        edits = self._t["edits"]
        query = select(edits).where(edits.c.consultation_id == consultation_id)
        if version is not None:
            query = query.where(edits.c.version == version)
        with self._read() as c:
            result = []
            for row in c.execute(query.order_by(edits.c.id)).all():
                body = json.loads(self._unseal(c, consultation_id, RECORD, row.body, "edits", str(row.id), "edit"))
                result.append(
                    Edit(
                        consultation_id=consultation_id,
                        version=row.version,
                        user_id=row.user_id,
                        at=_utc(row.at),
                        section=row.section,
                        index=row.idx,
                        action=EditAction(row.action),
                        before=body["before"],
                        after=body["after"],
                    )
                )
            return result

    def approve(self, consultation_id: str, version: int, approval: Approval) -> NoteVersion:
        """DRAFT -> APPROVED (earlier approved versions -> SUPERSEDED); status APPROVED. StateError otherwise.

        Also sets the consultation's current version to ``version`` and ``metrics.approved_at`` to the
        approval time, which retention counts from.
        """
        versions = self._t["versions"]
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            row = self._version_row(c, consultation_id, version)
            if row.state != NoteState.DRAFT:
                raise StateError(
                    f"note version {version} of consultation {consultation_id} is {row.state}, not a draft"
                )
            of_consultation = versions.c.consultation_id == consultation_id
            c.execute(
                update(versions)
                .where(of_consultation, versions.c.state == NoteState.APPROVED.value)
                .values(state=NoteState.SUPERSEDED.value)
            )
            c.execute(
                update(versions)
                .where(of_consultation, versions.c.version == version)
                .values(state=NoteState.APPROVED.value, approval=approval.model_dump_json())
            )
            consultation = self._consultation_row(c, consultation_id)
            metrics = ReviewMetrics.model_validate_json(consultation.metrics)
            metrics.approved_at = approval.at
            self._set_consultation(
                c,
                consultation_id,
                status=ConsultationStatus.APPROVED.value,
                current_version=version,
                metrics=metrics.model_dump_json(),
                error="",
            )
            return self._version(c, self._version_row(c, consultation_id, version))

    def reject(self, consultation_id: str, version: int, reason: str, user_id: int) -> NoteVersion:
        """DRAFT -> REJECTED with the reason (sealed). StateError otherwise.

        The consultation becomes REJECTED, unless an earlier version is approved: then that version
        becomes current again and the status stays as it was (APPROVED or EXPORTED).
        """
        versions = self._t["versions"]
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            row = self._version_row(c, consultation_id, version)
            if row.state != NoteState.DRAFT:
                raise StateError(
                    f"note version {version} of consultation {consultation_id} is {row.state}, not a draft"
                )
            sealed = self._seal(
                c,
                consultation_id,
                RECORD,
                reason.encode(),
                "versions",
                f"{consultation_id}/{version}",
                "rejected_reason",
            )
            of_consultation = versions.c.consultation_id == consultation_id
            c.execute(
                update(versions)
                .where(of_consultation, versions.c.version == version)
                .values(state=NoteState.REJECTED.value, rejected_reason=sealed, rejected_by=user_id)
            )
            approved = c.execute(
                select(versions.c.version).where(of_consultation, versions.c.state == NoteState.APPROVED.value)
            ).scalar_one_or_none()
            if approved is not None:
                self._set_consultation(c, consultation_id, current_version=approved)
            else:
                self._set_consultation(c, consultation_id, status=ConsultationStatus.REJECTED.value)
            return self._version(c, self._version_row(c, consultation_id, version))

    def put_letter(self, consultation_id: str, version: int, letter: Letter) -> None:
        """Keep the letter of ``letter.kind`` drafted from note ``version`` (replaces the same kind/version)."""
        letters = self._t["letters"]
        kind = LetterKind(letter.kind).value
        with self._write() as c:
            self._version_row(c, consultation_id, version)
            row_id = f"{consultation_id}/{version}/{kind}"
            sealed = self._seal(
                c, consultation_id, RECORD, letter.model_dump_json().encode(), "letters", row_id, "letter"
            )
            c.execute(
                delete(letters).where(
                    letters.c.consultation_id == consultation_id, letters.c.version == version, letters.c.kind == kind
                )
            )
            c.execute(
                insert(letters).values(
                    consultation_id=consultation_id, version=version, kind=kind, data=sealed, created_at=_now()
                )
            )

    def get_letter(self, consultation_id: str, kind: LetterKind, version: int | None = None) -> Letter | None:
        """The letter for ``version`` (default current), falling back to the newest earlier one."""
        letters = self._t["letters"]
        kind = LetterKind(kind).value
        with self._read() as c:
            if version is None:
                version = self._consultation_row(c, consultation_id).current_version
            row = c.execute(
                select(letters)
                .where(
                    letters.c.consultation_id == consultation_id,
                    letters.c.kind == kind,
                    letters.c.version <= version,
                )
                .order_by(letters.c.version.desc())
                .limit(1)
            ).one_or_none()
            if row is None:
                return None
            row_id = f"{consultation_id}/{row.version}/{kind}"
            plain = self._unseal(c, consultation_id, RECORD, row.data, "letters", row_id, "letter")
        return Letter.model_validate_json(plain)

    def add_dispute(self, consultation_id: str, version: int, text: str, recorded_by: int) -> Dispute:
        """Record a patient's dispute of note ``version`` (sealed), as told to ``recorded_by``."""
        disputes = self._t["disputes"]
        now = _now()
        with self._write() as c:
            self._version_row(c, consultation_id, version)
            dispute_id = c.execute(
                insert(disputes).values(
                    consultation_id=consultation_id, version=version, text=b"", recorded_by=recorded_by, recorded_at=now
                )
            ).inserted_primary_key[0]
            sealed = self._seal(c, consultation_id, RECORD, text.encode(), "disputes", str(dispute_id), "dispute")
            c.execute(update(disputes).where(disputes.c.id == dispute_id).values(text=sealed))
        return Dispute(
            id=dispute_id,
            consultation_id=consultation_id,
            version=version,
            text=text,
            recorded_by=recorded_by,
            recorded_at=now,
        )

    def disputes(self, consultation_id: str) -> list[Dispute]:
        """Every dispute, oldest first."""
        disputes = self._t["disputes"]
        with self._read() as c:
            rows = c.execute(
                select(disputes).where(disputes.c.consultation_id == consultation_id).order_by(disputes.c.id)
            ).all()
            return [
                Dispute(
                    id=row.id,
                    consultation_id=consultation_id,
                    version=row.version,
                    text=self._unseal(
                        c, consultation_id, RECORD, row.text, "disputes", str(row.id), "dispute"
                    ).decode(),
                    recorded_by=row.recorded_by,
                    recorded_at=_utc(row.recorded_at),
                )
                for row in rows
            ]

    def record_export(self, export: ExportRecord) -> ExportRecord:
        """Keep the export; on success the consultation becomes EXPORTED."""
        exports = self._t["exports"]
        with self._write() as c:
            self._version_row(c, export.consultation_id, export.version)
            export_id = c.execute(
                insert(exports).values(
                    consultation_id=export.consultation_id,
                    version=export.version,
                    format=export.format,
                    user_id=export.user_id,
                    at=_aware(export.at),
                    destination=export.destination,
                    ok=export.ok,
                    detail=export.detail,
                )
            ).inserted_primary_key[0]
            if export.ok:
                self._set_consultation(c, export.consultation_id, status=ConsultationStatus.EXPORTED.value)
        return export.model_copy(update={"id": export_id})

    def exports(self, consultation_id: str) -> list[ExportRecord]:
        """Every export attempt, oldest first."""
        exports = self._t["exports"]
        with self._read() as c:
            rows = c.execute(
                select(exports).where(exports.c.consultation_id == consultation_id).order_by(exports.c.id)
            ).all()
        return [
            ExportRecord(
                id=row.id,
                consultation_id=row.consultation_id,
                version=row.version,
                format=row.format,
                user_id=row.user_id,
                at=_utc(row.at),
                destination=row.destination,
                ok=bool(row.ok),
                detail=row.detail,
            )
            for row in rows
        ]

    def delete_consultation(self, consultation_id: str) -> None:
        """Real deletion: every row and the data keys (the caller audits a tombstone)."""
        children = ("jobs", "exports", "disputes", "letters", "edits", "versions", "transcripts", "audio", "chunks")
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            for name in (*children, "grants", "data_keys"):
                table = self._t[name]
                c.execute(delete(table).where(table.c.consultation_id == consultation_id))
            consultations = self._t["consultations"]
            c.execute(delete(consultations).where(consultations.c.id == consultation_id))
        self._forget_keys(consultation_id, RECORD, AUDIO)
        db.checkpoint(self._engine)

    # --- jobs ---------------------------------------------------------------------------------------
    @staticmethod
    def _job(row: Row) -> Job:
        return Job(
            id=row.id,
            consultation_id=row.consultation_id,
            kind=JobKind(row.kind),
            state=JobState(row.state),
            attempts=row.attempts,
            error=row.error,
            created_at=_utc(row.created_at),
            started_at=_utc(row.started_at),
            finished_at=_utc(row.finished_at),
        )

    def enqueue(self, consultation_id: str, kind: JobKind) -> Job:
        """Queue background work on the consultation."""
        jobs = self._t["jobs"]
        with self._write() as c:
            self._consultation_row(c, consultation_id)
            job_id = c.execute(
                insert(jobs).values(
                    consultation_id=consultation_id,
                    kind=JobKind(kind).value,
                    state=JobState.QUEUED.value,
                    attempts=0,
                    error="",
                    created_at=_now(),
                )
            ).inserted_primary_key[0]
            return self._job(c.execute(select(jobs).where(jobs.c.id == job_id)).one())

    def claim_job(self) -> Job | None:
        """The oldest QUEUED job, now RUNNING with attempts + 1; None when idle."""
        jobs = self._t["jobs"]
        with self._write() as c:
            while True:
                row = c.execute(
                    select(jobs).where(jobs.c.state == JobState.QUEUED.value).order_by(jobs.c.id).limit(1)
                ).one_or_none()
                if row is None:
                    return None
                claimed = c.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.state == JobState.QUEUED.value)
                    .values(state=JobState.RUNNING.value, attempts=row.attempts + 1, started_at=_now(), error="")
                ).rowcount
                if claimed:
                    return self._job(c.execute(select(jobs).where(jobs.c.id == row.id)).one())

    def finish_job(self, job_id: int, *, error: str = "") -> None:
        """DONE, or FAILED with ``error`` (no patient data)."""
        jobs = self._t["jobs"]
        state = JobState.FAILED if error else JobState.DONE
        with self._write() as c:
            done = c.execute(
                update(jobs).where(jobs.c.id == job_id).values(state=state.value, error=error, finished_at=_now())
            ).rowcount
        if not done:
            raise NotFoundError(f"job {job_id} does not exist")

    def requeue_running(self) -> int:
        """After a restart: RUNNING jobs back to QUEUED; returns how many."""
        jobs = self._t["jobs"]
        with self._write() as c:
            return c.execute(
                update(jobs).where(jobs.c.state == JobState.RUNNING.value).values(state=JobState.QUEUED.value)
            ).rowcount

    def jobs(self, consultation_id: str) -> list[Job]:
        """The consultation's jobs, oldest first."""
        jobs = self._t["jobs"]
        with self._read() as c:
            rows = c.execute(select(jobs).where(jobs.c.consultation_id == consultation_id).order_by(jobs.c.id))
            return [self._job(row) for row in rows]

    # --- audit ----------------------------------------------------------------------------------------
    @staticmethod
    def _event(row: Row) -> AuditEvent:
        return AuditEvent(
            id=row.id,
            at=_utc(row.at),
            user_id=row.user_id,
            username=row.username,
            action=row.action,
            target=row.target,
            ip=row.ip,
            outcome=row.outcome,
            detail=row.detail,
            hash=row.hash,
        )

    def audit(self, event: AuditEvent) -> AuditEvent:
        """Append an event, chained to the previous one by sha256. Events are never updated."""
        audit, head = self._t["audit"], self._t["audit_head"]
        with self._write() as c:
            # FOR UPDATE locks the head row on PostgreSQL; SQLite's IMMEDIATE transaction already holds the lock.
            last = c.execute(select(head).where(head.c.id == 1).with_for_update()).one()
            stored = event.model_copy(update={"id": last.last_id + 1, "at": _aware(event.at), "hash": ""})
            digest = audit_hash(stored, last.hash)
            c.execute(
                insert(audit).values(
                    id=stored.id,
                    at=stored.at,
                    user_id=stored.user_id,
                    username=stored.username,
                    action=stored.action,
                    target=stored.target,
                    ip=stored.ip,
                    outcome=stored.outcome,
                    detail=stored.detail,
                    prev_hash=last.hash,
                    hash=digest,
                )
            )
            c.execute(update(head).where(head.c.id == 1).values(last_id=stored.id, hash=digest))
        return stored.model_copy(update={"hash": digest})

    def audit_events(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Events newest first. ``user`` matches the username (or the user id when all digits);
        ``target`` matches exactly, or as a prefix when it ends with '*'; ``until`` is exclusive."""
        audit = self._t["audit"]
        conditions = []
        if user:
            by_name = audit.c.username == user
            conditions.append(or_(by_name, audit.c.user_id == int(user)) if user.isdigit() else by_name)
        if action:
            conditions.append(audit.c.action == action)
        if target:
            if target.endswith("*"):
                conditions.append(audit.c.target.startswith(target[:-1], autoescape=True))
            else:
                conditions.append(audit.c.target == target)
        if since is not None:
            conditions.append(audit.c.at >= _aware(since))
        if until is not None:
            conditions.append(audit.c.at < _aware(until))
        query = select(audit).where(*conditions).order_by(audit.c.id.desc()).limit(limit).offset(offset)
        with self._read() as c:
            return [self._event(row) for row in c.execute(query)]

    def verify_audit(self) -> tuple[bool, int]:
        """(chain intact, events checked)."""
        audit, head = self._t["audit"], self._t["audit_head"]
        prev, expected_id, checked = "", 1, 0
        with self._read() as c:
            last = c.execute(select(head).where(head.c.id == 1)).one()
            for row in c.execute(select(audit).order_by(audit.c.id)):
                event = self._event(row)
                if row.id != expected_id or row.prev_hash != prev or audit_hash(event, prev) != row.hash:
                    return False, checked
                prev, expected_id, checked = row.hash, expected_id + 1, checked + 1
        return (last.last_id == checked and last.hash == prev), checked

    # --- retention and keys ---------------------------------------------------------------------------
    def consultations_for_retention(self) -> list[Consultation]:
        """Every consultation with the fields retention needs (status, metrics.approved_at, created_at)."""
        t = self._t["consultations"]
        columns = (t.c.id, t.c.owner_id, t.c.created_at, t.c.status, t.c.template, t.c.audio_deleted_at, t.c.metrics)
        with self._read() as c:
            rows = c.execute(select(*columns).order_by(t.c.created_at)).all()
        return [
            Consultation(
                id=row.id,
                owner_id=row.owner_id,
                created_at=_utc(row.created_at),
                status=ConsultationStatus(row.status),
                template=row.template,
                audio_deleted_at=_utc(row.audio_deleted_at),
                metrics=ReviewMetrics.model_validate_json(row.metrics),
            )
            for row in rows
        ]

    def has_audio(self, consultation_id: str) -> bool:
        """Whether any audio or chunk of the consultation is still held."""
        with self._read() as c:
            for name in ("audio", "chunks"):
                table = self._t[name]
                query = select(table.c.consultation_id).where(table.c.consultation_id == consultation_id).limit(1)
                if c.execute(query).first() is not None:
                    return True
        return False

    def key_id(self) -> str:
        """The id of the site key this store is open with."""
        return crypto.key_id(self._kek)

    def rotate_key(self, new_key: bytes) -> int:
        """Re-wrap every data key under ``new_key``; returns how many. The old key opens nothing after."""
        keys = self._t["data_keys"]
        new_id = crypto.key_id(new_key)
        with self._write() as c:
            rows = c.execute(select(keys)).all()
            for row in rows:
                scope = row.consultation_id or SYSTEM
                data_key = crypto.unwrap_key(self._kek, row.wrapped, scope=scope, purpose=row.purpose)
                wrapped = crypto.wrap_key(new_key, data_key, scope=scope, purpose=row.purpose)
                c.execute(update(keys).where(keys.c.id == row.id).values(wrapped=wrapped, kek_id=new_id))
        self._kek = new_key
        db.checkpoint(self._engine)
        return len(rows)

    def close(self) -> None:
        """Release the database connections."""
        with self._lock:
            self._keys.clear()
        self._engine.dispose()
