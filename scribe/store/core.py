"""What every part of the store shares: the engine, the reflected tables, transactions, time helpers.

Each part of :class:`scribe.store.Store` (users, consultations, audio, notes, exports, jobs,
audit, keys) receives one :class:`Database` and opens its own transactions on it: reads with
:meth:`Database.read`, writes with :meth:`Database.write` (writes take SQLite's write lock at
once, so concurrent writers queue instead of failing). Timestamps are UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine, Row, Table, select, update
from sqlalchemy.exc import SQLAlchemyError

from scribe.errors import NotFoundError, StoreError
from scribe.records import StageTiming
from scribe.store import db

# Data key purposes: a consultation's record (transcript, notes, letters, ...), its audio, the site's own.
RECORD, AUDIO, SYSTEM = "record", "audio", "system"
TIMINGS = TypeAdapter(list[StageTiming])


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC from the database (SQLite hands back naive UTC, PostgreSQL aware)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def aware(value: datetime) -> datetime:
    """A datetime to store: UTC; naive input is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database:
    """The engine (and its writer), the tables reflected from the migrated schema, and transactions."""

    def __init__(self, engine: Engine) -> None:
        """Use an engine whose database is migrated to head."""
        self.engine = engine
        self._writer = db.writer(engine)
        self.t: dict[str, Table] = dict(db.reflect(engine).tables)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; StoreError when the database fails."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"the store could not be read ({exc.__class__.__name__}: {exc}); is the disk full?"
            ) from None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (IMMEDIATE on SQLite); StoreError when the database fails."""
        try:
            with self._writer.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"the store could not be written ({exc.__class__.__name__}: {exc}); is the disk full or read-only?"
            ) from None

    def checkpoint(self) -> None:
        """Fold SQLite's WAL into the database file, so deleted content leaves no copy there."""
        db.checkpoint(self.engine)

    def consultation_row(self, c: Connection, consultation_id: str) -> Row:
        """The consultation's row; in a write transaction also locked (PostgreSQL), so that
        read-modify-write changes to one consultation (versions, metrics, states) run one at a time."""
        t = self.t["consultations"]
        query = select(t).where(t.c.id == consultation_id)
        if c.get_execution_options().get(db.IMMEDIATE):
            query = query.with_for_update()
        row = c.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"consultation {consultation_id} does not exist (or was deleted under retention)")
        return row

    def set_consultation(self, c: Connection, consultation_id: str, **values: object) -> None:
        """Update columns of the consultation's row in transaction ``c``."""
        t = self.t["consultations"]
        c.execute(update(t).where(t.c.id == consultation_id).values(**values))

    def dispose(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
