"""The store's keys: per-consultation data keys wrapped by the site key, and the system key.

Patient data is sealed with AES-GCM under a per-consultation data key (one for the record, one
for the audio) that is wrapped by the site's key (see crypto.py); deleting a consultation's keys
and rows makes its data unrecoverable. The system data key seals what belongs to no
consultation (TOTP secrets). Unwrapped data keys are cached in memory until the store closes.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, insert, select, update

from scribe.errors import KeyMissingError, NotFoundError, StateError
from scribe.store import crypto
from scribe.store.core import AUDIO, SYSTEM, Database, now


class KeyRing:
    """The site key, the system key and a cache of unwrapped data keys (``store.keys``)."""

    def __init__(self, database: Database, key: bytes) -> None:
        """Open with the site key ``key``.

        Raises KeyMissingError when ``key`` is not the key this store's data keys are wrapped with.
        """
        self._db = database
        self._kek = key
        self._keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self.system_key = self._open_system_key()

    def _open_system_key(self) -> bytes:
        keys = self._db.t["data_keys"]
        ours = crypto.key_id(self._kek)
        head = self._db.t["audit_head"]
        with self._db.write() as c:
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
                        created_at=now(),
                    )
                )
                return data_key
        if row.kek_id != ours:
            raise KeyMissingError(
                f"this key does not open the store (key id {ours}, store wrapped with {row.kek_id}); "
                "set SCRIBE_STORE_KEY or SCRIBE_STORE_KEY_FILE to the key this store was created or rotated with"
            )
        return crypto.unwrap_key(self._kek, row.wrapped, scope=SYSTEM, purpose=SYSTEM)

    def new_data_key(self, c: Connection, consultation_id: str, purpose: str) -> bytes:
        """Make, wrap and keep (in transaction ``c``) a fresh data key for the consultation."""
        keys = self._db.t["data_keys"]
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
            insert(keys).values(
                consultation_id=consultation_id,
                purpose=purpose,
                kek_id=crypto.key_id(self._kek),
                wrapped=crypto.wrap_key(self._kek, data_key, scope=consultation_id, purpose=purpose),
                created_at=now(),
            )
        )
        return data_key

    def data_key(self, c: Connection, consultation_id: str, purpose: str) -> bytes:
        """The consultation's unwrapped data key for ``purpose`` (cached).

        StateError when the audio key was deleted, NotFoundError when the consultation was.
        """
        with self._lock:
            cached = self._keys.get((consultation_id, purpose))
        if cached is not None:
            return cached
        keys = self._db.t["data_keys"]
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

    def forget(self, consultation_id: str, *purposes: str) -> None:
        """Drop the consultation's cached data keys."""
        with self._lock:
            for purpose in purposes:
                self._keys.pop((consultation_id, purpose), None)

    def seal(self, c: Connection, cid: str, purpose: str, data: bytes, table: str, row: str, kind: str) -> bytes:
        """``data`` sealed under the consultation's data key, bound to where it is stored."""
        return crypto.seal(self.data_key(c, cid, purpose), data, crypto.aad(table, row, cid, kind))

    def unseal(self, c: Connection, cid: str, purpose: str, blob: bytes, table: str, row: str, kind: str) -> bytes:
        """The plain bytes of a blob :meth:`seal` made for the same place."""
        what = f"the {kind} of consultation {cid} ({table} {row})"
        return crypto.unseal(self.data_key(c, cid, purpose), blob, crypto.aad(table, row, cid, kind), what=what)

    def key_id(self) -> str:
        """The id of the site key this store is open with."""
        return crypto.key_id(self._kek)

    def rotate(self, new_key: bytes) -> int:
        """Re-wrap every data key under ``new_key``; returns how many. The old key opens nothing after."""
        keys = self._db.t["data_keys"]
        new_id = crypto.key_id(new_key)
        with self._db.write() as c:
            rows = c.execute(select(keys)).all()
            for row in rows:
                scope = row.consultation_id or SYSTEM
                data_key = crypto.unwrap_key(self._kek, row.wrapped, scope=scope, purpose=row.purpose)
                wrapped = crypto.wrap_key(new_key, data_key, scope=scope, purpose=row.purpose)
                c.execute(update(keys).where(keys.c.id == row.id).values(wrapped=wrapped, kek_id=new_id))
        self._kek = new_key
        self._db.checkpoint()
        return len(rows)

    def clear(self) -> None:
        """Forget every cached data key (on close)."""
        with self._lock:
            self._keys.clear()
