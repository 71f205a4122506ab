"""A consultation's audio: the recording's chunks as they arrive, the whole recording and its
playback copy, and their real deletion (``store.audio``).

Every blob is sealed under the consultation's audio key, which deletion destroys with the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from scribe.errors import StateError
from scribe.rows import Consent, ConsultationStatus
from scribe.store.core import AUDIO, Database, now
from scribe.store.keys import KeyRing

AUDIO_KINDS = ("original", "playback")


@dataclass(frozen=True)
class Audio:
    """Decrypted audio with its media type (e.g. 'audio/flac', 'audio/webm')."""

    data: bytes
    media_type: str


class AudioRecords:
    """Chunks and whole recordings of the consultations."""

    def __init__(self, database: Database, keys: KeyRing) -> None:
        """Work in ``database``; seal with the consultations' audio keys in ``keys``."""
        self._db = database
        self._keys = keys

    def append_chunk(self, consultation_id: str, seq: int, data: bytes) -> bool:
        """Keep one uploaded recording chunk; idempotent per ``seq`` (False when already held).

        Raises StateError unless the consultation has consent and is RECORDING.
        """
        if seq < 0:
            raise ValueError("chunk sequence numbers start at 0")
        chunks = self._db.t["chunks"]
        with self._db.write() as c:
            row = self._db.consultation_row(c, consultation_id)
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
            sealed = self._keys.seal(
                c, consultation_id, AUDIO, bytes(data), "chunks", f"{consultation_id}/{seq}", "chunk"
            )
            c.execute(insert(chunks).values(consultation_id=consultation_id, seq=seq, data=sealed, created_at=now()))
        return True

    def chunks(self, consultation_id: str) -> bytes:
        """All chunks so far, in sequence order, concatenated."""
        chunks = self._db.t["chunks"]
        with self._db.read() as c:
            self._db.consultation_row(c, consultation_id)
            rows = c.execute(
                select(chunks.c.seq, chunks.c.data)
                .where(chunks.c.consultation_id == consultation_id)
                .order_by(chunks.c.seq)
            ).all()
            return b"".join(
                self._keys.unseal(c, consultation_id, AUDIO, r.data, "chunks", f"{consultation_id}/{r.seq}", "chunk")
                for r in rows
            )

    def put(self, consultation_id: str, kind: str, audio: Audio) -> None:
        """Keep the whole recording ('original') or the playback copy ('playback'); replaces the same kind.

        The 'original' supersedes the recording's chunks, which are deleted in the same transaction
        (one copy of the audio, not two). StateError when the patient did not agree to recording or
        the audio was already deleted.
        """
        if kind not in AUDIO_KINDS:
            raise ValueError(f"audio kind must be one of {', '.join(AUDIO_KINDS)}, not {kind!r}")
        table = self._db.t["audio"]
        with self._db.write() as c:
            row = self._db.consultation_row(c, consultation_id)
            consent = Consent.model_validate_json(row.consent) if row.consent else None
            if consent is None or not consent.agreed:
                raise StateError(f"consultation {consultation_id} has no recording consent; no audio is kept")
            if row.audio_deleted_at is not None:
                raise StateError(f"the audio of consultation {consultation_id} was deleted; it cannot be added again")
            sealed = self._keys.seal(
                c, consultation_id, AUDIO, bytes(audio.data), "audio", f"{consultation_id}/{kind}", kind
            )
            c.execute(delete(table).where(table.c.consultation_id == consultation_id, table.c.kind == kind))
            if kind == "original":
                chunks = self._db.t["chunks"]
                c.execute(delete(chunks).where(chunks.c.consultation_id == consultation_id))
            c.execute(
                insert(table).values(
                    consultation_id=consultation_id,
                    kind=kind,
                    media_type=audio.media_type,
                    data=sealed,
                    created_at=now(),
                )
            )
        if kind == "original":
            self._db.checkpoint()  # no copy of the deleted chunks stays in the WAL

    def get(self, consultation_id: str, kind: str) -> Audio | None:
        """The decrypted audio of ``kind``, or None when there is none (or it was deleted)."""
        table = self._db.t["audio"]
        with self._db.read() as c:
            row = c.execute(
                select(table).where(table.c.consultation_id == consultation_id, table.c.kind == kind)
            ).one_or_none()
            if row is None:
                return None
            data = self._keys.unseal(c, consultation_id, AUDIO, row.data, "audio", f"{consultation_id}/{kind}", kind)
        return Audio(data=data, media_type=row.media_type)

    def delete(self, consultation_id: str) -> None:
        """Real deletion of every audio blob and chunk and the audio data key; sets audio_deleted_at."""
        keys = self._db.t["data_keys"]
        with self._db.write() as c:
            row = self._db.consultation_row(c, consultation_id)
            for name in ("audio", "chunks"):
                table = self._db.t[name]
                c.execute(delete(table).where(table.c.consultation_id == consultation_id))
            c.execute(delete(keys).where(keys.c.consultation_id == consultation_id, keys.c.purpose == AUDIO))
            if row.audio_deleted_at is None:
                self._db.set_consultation(c, consultation_id, audio_deleted_at=now())
        self._keys.forget(consultation_id, AUDIO)
        self._db.checkpoint()

    def held(self, consultation_id: str) -> bool:
        """Whether any audio or chunk of the consultation is still held."""
        with self._db.read() as c:
            for name in ("audio", "chunks"):
                table = self._db.t[name]
                query = select(table.c.consultation_id).where(table.c.consultation_id == consultation_id).limit(1)
                if c.execute(query).first() is not None:
                    return True
        return False
