"""Accounts, browser sessions, TOTP secrets and failed sign-ins (``store.users``).

Passwords are stored as the Argon2id hashes callers pass in (see accounts.py); TOTP secrets are
sealed under the system data key; a session's token is only ever in the cookie, the store
keeps its sha256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, delete, func, insert, or_, select, update

from scribe.errors import NotFoundError, StateError
from scribe.rows import Role, User
from scribe.store import crypto
from scribe.store.core import SYSTEM, Database, aware, now, utc
from scribe.store.keys import KeyRing

_FAILURE_KEEP = timedelta(days=7)


@dataclass(frozen=True)
class Session:
    """A signed-in browser session. The token itself is only ever in the cookie; the store keeps its hash."""

    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    second_factor_done: bool
    ip: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    """Users, sessions and sign-in attempts."""

    def __init__(self, database: Database, keys: KeyRing) -> None:
        """Work in ``database``; seal TOTP secrets with the system key of ``keys``."""
        self._db = database
        self._keys = keys

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
            created_at=utc(row.created_at),
        )

    def create(self, username: str, full_name: str, role: Role, password_hash: str, *, totp_required: bool) -> User:
        """Add a user; raises StateError if the username is taken."""
        users = self._db.t["users"]
        username = username.strip()
        if not username:
            raise StateError("a username cannot be empty")
        with self._db.write() as c:
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
                    created_at=now(),
                )
            )
            row = c.execute(select(users).where(users.c.id == result.inserted_primary_key[0])).one()
            return self._user(row)

    def get(self, user_id: int) -> User:
        """Raises NotFoundError."""
        users = self._db.t["users"]
        with self._db.read() as c:
            row = c.execute(select(users).where(users.c.id == user_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"user {user_id} does not exist")
        return self._user(row)

    def find(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, or None."""
        users = self._db.t["users"]
        with self._db.read() as c:
            row = c.execute(select(users).where(users.c.username == username.strip())).one_or_none()
        return None if row is None else (self._user(row), row.password_hash)

    def list_all(self) -> list[User]:
        """Every user, by username."""
        users = self._db.t["users"]
        with self._db.read() as c:
            return [self._user(row) for row in c.execute(select(users).order_by(users.c.username))]

    def update(
        self,
        user_id: int,
        *,
        password_hash: str | None = None,
        active: bool | None = None,
        totp_required: bool | None = None,
        full_name: str | None = None,
    ) -> User:
        """Change the given fields; NotFoundError for an unknown user."""
        users = self._db.t["users"]
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
        with self._db.write() as c:
            if values:
                c.execute(update(users).where(users.c.id == user_id).values(**values))
            row = c.execute(select(users).where(users.c.id == user_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"user {user_id} does not exist")
        return self._user(row)

    def set_totp_secret(self, user_id: int, secret: str | None) -> None:
        """Enrol (sealed at rest) or remove a user's TOTP secret."""
        users = self._db.t["users"]
        sealed = None
        if secret is not None:
            sealed = crypto.seal(
                self._keys.system_key, secret.encode(), crypto.aad("users", str(user_id), SYSTEM, "totp")
            )
        with self._db.write() as c:
            if c.execute(update(users).where(users.c.id == user_id).values(totp_secret=sealed)).rowcount == 0:
                raise NotFoundError(f"user {user_id} does not exist")

    def totp_secret(self, user_id: int) -> str | None:
        """The user's TOTP secret, or None when none is enrolled."""
        users = self._db.t["users"]
        with self._db.read() as c:
            blob = c.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar_one_or_none()
        if blob is None:
            return None
        associated = crypto.aad("users", str(user_id), SYSTEM, "totp")
        return crypto.unseal(
            self._keys.system_key, blob, associated, what=f"the TOTP secret of user {user_id}"
        ).decode()

    def create_session(self, user_id: int, ip: str, ttl_seconds: int, *, second_factor_done: bool) -> str:
        """Start a session; returns the random token for the cookie (store keeps only its sha256)."""
        token = secrets.token_urlsafe(32)
        started = now()
        with self._db.write() as c:
            c.execute(
                insert(self._db.t["sessions"]).values(
                    token_hash=_token_hash(token),
                    user_id=user_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=started,
                    expires_at=started + timedelta(seconds=ttl_seconds),
                    second_factor_done=second_factor_done,
                    ip=ip,
                )
            )
        return token

    def get_session(self, token: str) -> Session | None:
        """The live session for ``token``; None when unknown or expired (expired ones are deleted)."""
        sessions = self._db.t["sessions"]
        key = _token_hash(token)
        with self._db.read() as c:
            row = c.execute(select(sessions).where(sessions.c.token_hash == key)).one_or_none()
        if row is None:
            return None
        if utc(row.expires_at) <= now():
            self.delete_session(token)
            return None
        return Session(
            user_id=row.user_id,
            csrf_token=row.csrf_token,
            created_at=utc(row.created_at),
            expires_at=utc(row.expires_at),
            second_factor_done=bool(row.second_factor_done),
            ip=row.ip,
        )

    def complete_second_factor(self, token: str) -> None:
        """Mark the session's second factor as given."""
        sessions = self._db.t["sessions"]
        with self._db.write() as c:
            c.execute(
                update(sessions).where(sessions.c.token_hash == _token_hash(token)).values(second_factor_done=True)
            )

    def delete_session(self, token: str) -> None:
        """Sign out one session (no error when it is already gone)."""
        sessions = self._db.t["sessions"]
        with self._db.write() as c:
            c.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))

    def delete_user_sessions(self, user_id: int) -> None:
        """Sign the user out everywhere."""
        sessions = self._db.t["sessions"]
        with self._db.write() as c:
            c.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def record_login_failure(self, username: str, ip: str) -> None:
        """Count one failed sign-in (old failures are pruned after a week)."""
        failures = self._db.t["login_failures"]
        at = now()
        with self._db.write() as c:
            c.execute(insert(failures).values(username=username.strip()[:150], ip=ip, at=at))
            c.execute(delete(failures).where(failures.c.at < at - _FAILURE_KEEP))

    def login_failures(self, username: str, ip: str, since: datetime) -> int:
        """Failures for this username OR from this address since ``since``."""
        failures = self._db.t["login_failures"]
        with self._db.read() as c:
            return c.execute(
                select(func.count())
                .select_from(failures)
                .where(
                    failures.c.at >= aware(since),
                    or_(failures.c.username == username.strip()[:150], failures.c.ip == ip),
                )
            ).scalar_one()
