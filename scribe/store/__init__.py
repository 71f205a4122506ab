"""The consultation store: encrypted records in SQLite (default) or PostgreSQL, with an audit trail.

``open_store(settings)`` is the one way in: it loads the site key, creates the data folder,
migrates the database to the newest schema and returns a :class:`Store`.
"""

from __future__ import annotations

import logging

from scribe.config import Settings
from scribe.store import db
from scribe.store.crypto import load_key, new_key
from scribe.store.store import Audio, Session, Store

__all__ = ["Audio", "Session", "Store", "load_key", "new_key", "open_store"]

log = logging.getLogger(__name__)


def open_store(settings: Settings, *, key: bytes | None = None) -> Store:
    """Open (creating and migrating as needed) the store ``settings`` points at.

    ``key`` overrides the configured site key. Raises KeyMissingError when there is no key or it
    does not open this store, StoreError when the database cannot be opened or migrated.
    """
    site_key = key if key is not None else load_key(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = db.create_db_engine(settings.database_url)
    try:
        before, after = db.migrate(engine)
        if before != after:
            log.info("store migrated from %s to %s", before or "empty", after)
        return Store(engine, site_key)
    except BaseException:
        engine.dispose()
        raise
