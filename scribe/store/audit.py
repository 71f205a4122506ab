"""The audit trail: append-only events, each chained to the one before by sha256 (``store.audit``).

Events are kept in the clear (no patient data) so they can be queried; the chain's head row
holds the last id and hash, so a deleted, changed or reordered event breaks :meth:`AuditLog.verify`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import Row, insert, or_, select, update

from scribe.rows import AuditEvent
from scribe.store.core import Database, aware, utc


def _canonical(event: AuditEvent, prev_hash: str) -> str:
    fields = event.model_dump(mode="json", exclude={"hash"})
    fields["at"] = aware(event.at).isoformat()
    return prev_hash + json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_hash(event: AuditEvent, prev_hash: str) -> str:
    """sha256 over the previous event's hash and this event's canonical JSON (without its own hash)."""
    return hashlib.sha256(_canonical(event, prev_hash).encode()).hexdigest()


class AuditLog:
    """The audit events."""

    def __init__(self, database: Database) -> None:
        """Work in ``database``."""
        self._db = database

    @staticmethod
    def _event(row: Row) -> AuditEvent:
        return AuditEvent(
            id=row.id,
            at=utc(row.at),
            user_id=row.user_id,
            username=row.username,
            action=row.action,
            target=row.target,
            ip=row.ip,
            outcome=row.outcome,
            detail=row.detail,
            hash=row.hash,
        )

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append an event, chained to the previous one by sha256. Events are never updated."""
        audit, head = self._db.t["audit"], self._db.t["audit_head"]
        with self._db.write() as c:
            # FOR UPDATE locks the head row on PostgreSQL; SQLite's IMMEDIATE transaction already holds the lock.
            last = c.execute(select(head).where(head.c.id == 1).with_for_update()).one()
            stored = event.model_copy(update={"id": last.last_id + 1, "at": aware(event.at), "hash": ""})
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

    def events(
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
        audit = self._db.t["audit"]
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
            conditions.append(audit.c.at >= aware(since))
        if until is not None:
            conditions.append(audit.c.at < aware(until))
        query = select(audit).where(*conditions).order_by(audit.c.id.desc()).limit(limit).offset(offset)
        with self._db.read() as c:
            return [self._event(row) for row in c.execute(query)]

    def verify(self) -> tuple[bool, int]:
        """(chain intact, events checked)."""
        audit, head = self._db.t["audit"], self._db.t["audit_head"]
        prev, expected_id, checked = "", 1, 0
        with self._db.read() as c:
            last = c.execute(select(head).where(head.c.id == 1)).one()
            for row in c.execute(select(audit).order_by(audit.c.id)):
                event = self._event(row)
                if row.id != expected_id or row.prev_hash != prev or audit_hash(event, prev) != row.hash:
                    return False, checked
                prev, expected_id, checked = row.hash, expected_id + 1, checked + 1
        return (last.last_id == checked and last.hash == prev), checked
