"""The database: a SQLAlchemy engine (SQLite by default, PostgreSQL by URL) and its migrations.

SQLite runs in WAL mode with foreign keys on, a busy timeout, ``secure_delete`` (deleted
content is overwritten with zeros) and a file readable by its owner only. Write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of failing.
Migrations are alembic scripts inside this package, run programmatically: no ``alembic.ini``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from scribe.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 15_000
IMMEDIATE = "scribe_immediate"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for in-memory or other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _prepare_sqlite_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for sibling in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if sibling.exists():
            sibling.chmod(0o600)


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` with scribe's connection settings; StoreError when it cannot connect."""
    path = sqlite_path(url)
    if path is not None:
        _prepare_sqlite_file(path)
    try:
        if make_url(url).get_backend_name() == "sqlite":
            engine = create_engine(
                url,
                hide_parameters=True,
                connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            )
            _sqlite_events(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store at {make_url(url).render_as_string()}: {exc}") from None
    return engine


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        # Let SQLAlchemy's events issue BEGIN (the driver's own implicit transactions would not be IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            "secure_delete=ON",
            "synchronous=FULL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # noqa: ANN001
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock at once (no-op elsewhere)."""
    return engine.execution_options(**{IMMEDIATE: True})


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the WAL into the database and truncate it, so no old page stays in the WAL file."""
    if not is_sqlite(engine):
        return
    with engine.connect() as connection:
        busy, _log, _done = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        log.warning("WAL checkpoint could not finish while other connections were reading; it runs again later")
    path = sqlite_path(str(engine.url))
    if path is not None:
        _prepare_sqlite_file(path)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this version of scribe knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the database to the newest migration; returns (revision before, revision after)."""
    before = current_revision(engine)
    script = ScriptDirectory.from_config(_alembic_config())
    if before is not None and before not in {rev.revision for rev in script.walk_revisions()}:
        raise StoreError(
            f"the store is at migration {before}, which this version of scribe does not know; "
            "upgrade scribe before opening this store"
        )
    config = _alembic_config()
    try:
        with writer(engine).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"migrating the store failed: {exc}") from None
    return before, head_revision()


def reflect(engine: Engine) -> MetaData:
    """The tables as the migrations made them: the one definition of the schema."""
    metadata = MetaData()
    metadata.reflect(bind=engine)
    return metadata
