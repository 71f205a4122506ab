"""Exports of approved notes: every attempt, kept with who, when, where and how it went (``store.exports``)."""

from __future__ import annotations

from sqlalchemy import insert, select

from scribe.rows import ConsultationStatus, ExportRecord
from scribe.store.core import Database, aware, utc
from scribe.store.notes import version_row


class Exports:
    """The export attempts of the consultations."""

    def __init__(self, database: Database) -> None:
        """Work in ``database``."""
        self._db = database

    def record(self, export: ExportRecord) -> ExportRecord:
        """Keep the export; on success the consultation becomes EXPORTED."""
        exports = self._db.t["exports"]
        with self._db.write() as c:
            version_row(self._db, c, export.consultation_id, export.version)
            export_id = c.execute(
                insert(exports).values(
                    consultation_id=export.consultation_id,
                    version=export.version,
                    format=export.format,
                    user_id=export.user_id,
                    at=aware(export.at),
                    destination=export.destination,
                    ok=export.ok,
                    detail=export.detail,
                )
            ).inserted_primary_key[0]
            if export.ok:
                self._db.set_consultation(c, export.consultation_id, status=ConsultationStatus.EXPORTED.value)
        return export.model_copy(update={"id": export_id})

    def for_consultation(self, consultation_id: str) -> list[ExportRecord]:
        """Every export attempt, oldest first."""
        exports = self._db.t["exports"]
        with self._db.read() as c:
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
                at=utc(row.at),
                destination=row.destination,
                ok=bool(row.ok),
                detail=row.detail,
            )
            for row in rows
        ]
