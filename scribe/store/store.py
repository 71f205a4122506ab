"""The consultation store: every record of a consultation, encrypted at rest, in SQLite or PostgreSQL.

:class:`Store` opens the database and composes one part per responsibility, each in its own
module: ``store.users`` (accounts, sessions, TOTP, sign-in attempts), ``store.consultations``
(consultations, consent, status, metrics, grants, deletion), ``store.audio`` (chunks and
recordings), ``store.notes`` (transcripts, note versions, edits, approvals, letters, disputes),
``store.exports``, ``store.jobs`` (job queue), ``store.audit`` (audit chain) and ``store.keys``
(site key id, rotation). All parts are thread-safe: each method opens its own transaction on the
shared engine. Patient data (audio, transcripts, notes, letters, edits' text, disputes, patient
details, rejection reasons, TOTP secrets) is sealed with AES-GCM under a per-consultation data
key wrapped by the site's key (see keys.py and crypto.py); metadata (ids, states, times, review
metrics, stage timings, audit events) is stored in the clear so it can be queried.
"""

from __future__ import annotations

from sqlalchemy import Engine

from scribe.store.audio import Audio, AudioRecords
from scribe.store.audit import AuditLog, audit_hash
from scribe.store.consultations import Consultations
from scribe.store.core import Database
from scribe.store.exports import Exports
from scribe.store.jobs import Jobs
from scribe.store.keys import KeyRing
from scribe.store.notes import Notes
from scribe.store.users import Session, Users

__all__ = ["Audio", "Session", "Store", "audit_hash"]


class Store:
    """The database and its parts. Construct with :func:`scribe.store.open_store`."""

    def __init__(self, engine: Engine, key: bytes) -> None:
        """Use an engine whose database is migrated to head, with the site key ``key``.

        Raises KeyMissingError when ``key`` is not the key this store's data keys are wrapped with.
        """
        self._db = Database(engine)
        self.keys = KeyRing(self._db, key)
        self.users = Users(self._db, self.keys)
        self.consultations = Consultations(self._db, self.keys)
        self.audio = AudioRecords(self._db, self.keys)
        self.notes = Notes(self._db, self.keys)
        self.exports = Exports(self._db)
        self.jobs = Jobs(self._db)
        self.audit = AuditLog(self._db)

    def close(self) -> None:
        """Release the database connections."""
        self.keys.clear()
        self._db.dispose()
