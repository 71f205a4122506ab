"""Consultations: creation, patient details, consent, status, metrics, timings, grants, deletion
(``store.consultations``).

The patient's details and the decoded audio's description are sealed under the consultation's
record key; status, consent, review metrics and stage timings are kept in the clear so that
they can be queried.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Row, delete, insert, or_, select

from scribe.errors import StateError
from scribe.records import AudioInfo, StageTiming
from scribe.rows import Consent, Consultation, ConsultationStatus, PatientDetails, ReviewMetrics
from scribe.store import crypto
from scribe.store.core import AUDIO, RECORD, TIMINGS, Database, now, utc
from scribe.store.keys import KeyRing

# Statuses that mean audio is being taken or processed: never for a patient who objected.
_AUDIO_STATUSES = {ConsultationStatus.RECORDING, ConsultationStatus.TRANSCRIBING, ConsultationStatus.DRAFTING}


class Consultations:
    """The consultations and what is kept on their own row."""

    def __init__(self, database: Database, keys: KeyRing) -> None:
        """Work in ``database``; seal with the consultations' data keys in ``keys``."""
        self._db = database
        self._keys = keys

    def _consultation(self, c: Connection, row: Row) -> Consultation:
        audio = None
        if row.audio_info is not None:
            plain = self._keys.unseal(c, row.id, RECORD, row.audio_info, "consultations", row.id, "audio_info")
            audio = AudioInfo.model_validate_json(plain)
        return Consultation(
            id=row.id,
            owner_id=row.owner_id,
            created_at=utc(row.created_at),
            status=ConsultationStatus(row.status),
            template=row.template,
            consent=Consent.model_validate_json(row.consent) if row.consent else None,
            audio=audio,
            audio_deleted_at=utc(row.audio_deleted_at),
            current_version=row.current_version,
            error=row.error,
            metrics=ReviewMetrics.model_validate_json(row.metrics),
            timings=TIMINGS.validate_json(row.timings),
        )

    def create(self, owner_id: int, template: str, patient: PatientDetails) -> Consultation:
        """New consultation in status CONSENT with its data keys."""
        consultation = Consultation(owner_id=owner_id, template=template)
        cid = consultation.id
        with self._db.write() as c:
            c.execute(
                insert(self._db.t["consultations"]).values(
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
            record_key = self._keys.new_data_key(c, cid, RECORD)
            self._keys.new_data_key(c, cid, AUDIO)
            sealed = crypto.seal(
                record_key, patient.model_dump_json().encode(), crypto.aad("consultations", cid, cid, "patient")
            )
            self._db.set_consultation(c, cid, patient=sealed)
        self._keys.forget(cid, RECORD, AUDIO)
        return consultation

    def get(self, consultation_id: str) -> Consultation:
        """Raises NotFoundError."""
        with self._db.read() as c:
            return self._consultation(c, self._db.consultation_row(c, consultation_id))

    def list_all(self, *, user_id: int | None = None) -> list[Consultation]:
        """Newest first; with ``user_id``, those the user owns or was granted; without, all."""
        t, grants = self._db.t["consultations"], self._db.t["grants"]
        query = select(t).order_by(t.c.created_at.desc(), t.c.id)
        if user_id is not None:
            granted = select(grants.c.consultation_id).where(grants.c.user_id == user_id)
            query = query.where(or_(t.c.owner_id == user_id, t.c.id.in_(granted)))
        with self._db.read() as c:
            return [self._consultation(c, row) for row in c.execute(query).all()]

    def patient(self, consultation_id: str) -> PatientDetails:
        """The patient's details (decrypted)."""
        with self._db.read() as c:
            row = self._db.consultation_row(c, consultation_id)
            plain = self._keys.unseal(c, row.id, RECORD, row.patient, "consultations", row.id, "patient")
        return PatientDetails.model_validate_json(plain)

    def set_consent(self, consultation_id: str, consent: Consent) -> Consultation:
        """Record consent once; an objection moves the consultation to NOT_RECORDED for good.

        A patient who was told and agreed moves the consultation to RECORDING (ready to record or
        upload); anything else is an objection. StateError when consent was already recorded.
        """
        agreed = consent.informed and consent.agreed
        with self._db.write() as c:
            row = self._db.consultation_row(c, consultation_id)
            if row.consent is not None or row.status != ConsultationStatus.CONSENT:
                raise StateError(f"consent for consultation {consultation_id} was already recorded; it is kept as is")
            status = ConsultationStatus.RECORDING if agreed else ConsultationStatus.NOT_RECORDED
            self._db.set_consultation(c, consultation_id, consent=consent.model_dump_json(), status=status.value)
            return self._consultation(c, self._db.consultation_row(c, consultation_id))

    def set_status(self, consultation_id: str, status: ConsultationStatus, *, error: str = "") -> None:
        """Move the consultation to ``status`` (``error`` says why for FAILED; never patient data).

        StateError for a recording status when the patient objected.
        """
        status = ConsultationStatus(status)
        with self._db.write() as c:
            row = self._db.consultation_row(c, consultation_id)
            if status in _AUDIO_STATUSES and row.status == ConsultationStatus.NOT_RECORDED:
                raise StateError(f"consultation {consultation_id}: the patient objected, so nothing is recorded")
            self._db.set_consultation(c, consultation_id, status=status.value, error=error)

    def update_metrics(self, consultation_id: str, change: Callable[[ReviewMetrics], None]) -> ReviewMetrics:
        """Read-modify-write the review metrics in one transaction."""
        with self._db.write() as c:
            row = self._db.consultation_row(c, consultation_id)
            metrics = ReviewMetrics.model_validate_json(row.metrics)
            change(metrics)
            metrics = ReviewMetrics.model_validate(metrics.model_dump())
            self._db.set_consultation(c, consultation_id, metrics=metrics.model_dump_json())
        return metrics

    def add_timings(self, consultation_id: str, timings: list) -> None:
        """Append StageTimings (no patient data) to the consultation."""
        with self._db.write() as c:
            row = self._db.consultation_row(c, consultation_id)
            kept = TIMINGS.validate_json(row.timings) + [StageTiming.model_validate(t) for t in timings]
            self._db.set_consultation(c, consultation_id, timings=TIMINGS.dump_json(kept).decode())

    def set_audio_info(self, consultation_id: str, info: AudioInfo | None) -> None:
        """Keep what was decoded from the recording (sealed: it may name the uploaded file)."""
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            sealed = None
            if info is not None:
                data = info.model_dump_json().encode()
                sealed = self._keys.seal(
                    c, consultation_id, RECORD, data, "consultations", consultation_id, "audio_info"
                )
            self._db.set_consultation(c, consultation_id, audio_info=sealed)

    def grant(self, consultation_id: str, user_id: int) -> None:
        """Let another user see this consultation."""
        grants = self._db.t["grants"]
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            held = c.execute(
                select(grants.c.user_id).where(grants.c.consultation_id == consultation_id, grants.c.user_id == user_id)
            ).first()
            if held is None:
                c.execute(insert(grants).values(consultation_id=consultation_id, user_id=user_id, created_at=now()))

    def granted(self, consultation_id: str) -> list[int]:
        """User ids granted access (the owner is not listed)."""
        grants = self._db.t["grants"]
        with self._db.read() as c:
            query = select(grants.c.user_id).where(grants.c.consultation_id == consultation_id)
            return list(c.execute(query.order_by(grants.c.user_id)).scalars())

    def delete(self, consultation_id: str) -> None:
        """Real deletion: every row and the data keys (the caller audits a tombstone)."""
        children = ("jobs", "exports", "disputes", "letters", "edits", "versions", "transcripts", "audio", "chunks")
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            for name in (*children, "grants", "data_keys"):
                table = self._db.t[name]
                c.execute(delete(table).where(table.c.consultation_id == consultation_id))
            consultations = self._db.t["consultations"]
            c.execute(delete(consultations).where(consultations.c.id == consultation_id))
        self._keys.forget(consultation_id, RECORD, AUDIO)
        self._db.checkpoint()

    def for_retention(self) -> list[Consultation]:
        """Every consultation with the fields retention needs (status, metrics.approved_at, created_at)."""
        t = self._db.t["consultations"]
        columns = (t.c.id, t.c.owner_id, t.c.created_at, t.c.status, t.c.template, t.c.audio_deleted_at, t.c.metrics)
        with self._db.read() as c:
            rows = c.execute(select(*columns).order_by(t.c.created_at)).all()
        return [
            Consultation(
                id=row.id,
                owner_id=row.owner_id,
                created_at=utc(row.created_at),
                status=ConsultationStatus(row.status),
                template=row.template,
                audio_deleted_at=utc(row.audio_deleted_at),
                metrics=ReviewMetrics.model_validate_json(row.metrics),
            )
            for row in rows
        ]
