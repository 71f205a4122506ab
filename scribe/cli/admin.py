"""`scribe store`, `scribe users`, `scribe audit`: the store's keys and schema, local accounts, the audit log.

Every change made here (accounts, retention, key rotation) is itself audited, with no user id
and the username ``cli:<operating-system user>``.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scribe.config import load_settings
from scribe.errors import ConfigError, NotFoundError, StoreError, TamperedError
from scribe.rows import AuditEvent, Role, User
from scribe.store import Store, crypto, db, open_store
from scribe.store.accounts import hash_password, new_totp_secret, totp_uri
from scribe.store.retention import apply_retention

store_app = typer.Typer(
    help="The encrypted store: key, schema migrations, key rotation, retention.", no_args_is_help=True
)
users_app = typer.Typer(
    help="Local accounts: add, list, disable or enable, reset a second factor.", no_args_is_help=True
)

console = Console()


def register(app: typer.Typer) -> None:
    """Add the ``store``, ``users`` and ``audit`` commands to the root app."""
    app.add_typer(store_app, name="store")
    app.add_typer(users_app, name="users")
    app.command("audit")(audit)


def actor_name() -> str:
    """The audit name of whoever runs the command line: ``cli:<operating-system user>``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = str(os.getuid())
    return f"cli:{name}"


def _audit(store: Store, action: str, target: str, detail: str = "") -> None:
    store.audit.record(AuditEvent(user_id=None, username=actor_name(), action=action, target=target, detail=detail))


# --- scribe store ---------------------------------------------------------------------------------
@store_app.command("init-key")
def init_key(
    key_file: Path | None = typer.Option(None, "--key-file", help="Where to write it; default the configured path."),
) -> None:
    """Make a new random store key in a file readable only by you (never overwrites one)."""
    settings = load_settings()
    path = (key_file or settings.store_key_file).expanduser()
    key = crypto.new_key()
    crypto.write_key_file(path, key)
    console.print(f"wrote a new store key to {path} (key id {crypto.key_id(key)}, mode 0600)", highlight=False)
    if path != settings.store_key_file.expanduser():
        console.print(f"point scribe at it: export SCRIBE_STORE_KEY_FILE={path}", highlight=False)
    console.print(
        "Keep a copy of this key somewhere safe and apart from the data: without it the store cannot be read."
    )


@store_app.command("migrate")
def migrate() -> None:
    """Bring the database schema up to date (opening the store does this too)."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = db.create_db_engine(settings.database_url)
    try:
        before, after = db.migrate(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"the store is up to date (migration {after})")
    else:
        console.print(f"migrated the store from {before or 'empty'} to {after}")


@store_app.command("rotate-key")
def rotate_key(
    new_key_file: Path = typer.Option(
        ..., "--new-key-file", help="The new key; made (mode 0600) when the file does not exist yet."
    ),
) -> None:
    """Re-wrap every data key under a new store key. Stop `scribe serve` first."""
    settings = load_settings()
    path = new_key_file.expanduser()
    if path.exists():
        new_key = crypto.decode_key(path.read_text(encoding="ascii"), source=f"key file {path}")
    else:
        new_key = crypto.new_key()
        crypto.write_key_file(path, new_key)
    store = open_store(settings)
    try:
        old_id, new_id = store.keys.key_id(), crypto.key_id(new_key)
        if old_id == new_id:
            raise ConfigError(f"{path} holds the key the store already uses (key id {old_id}); give a new key")
        count = store.keys.rotate(new_key)
        _audit(store, "rotate-key", "store", detail=f"{count} data keys re-wrapped, key id {old_id} -> {new_id}")
    finally:
        store.close()
    console.print(f"re-wrapped {count} data keys: key id {old_id} -> {new_id}", highlight=False)
    console.print(
        f"Now change the configuration: set SCRIBE_STORE_KEY_FILE={path} (or store_key_file in scribe.toml)"
        + (" and remove SCRIBE_STORE_KEY" if settings.store_key is not None else "")
        + ", then start scribe again. The old key no longer opens this store; it still opens backups made "
        "before now, so keep or destroy it according to your backup policy (see docs/privacy.md).",
        highlight=False,
        soft_wrap=True,
    )


@store_app.command("retention")
def retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what is due without deleting anything."),
) -> None:
    """Delete audio and consultations past their retention time now (the server also does this hourly)."""
    settings = load_settings()
    store = open_store(settings)
    try:
        report = apply_retention(store, settings, dry_run=dry_run, actor=actor_name())
    finally:
        store.close()
    verb = "due for deletion" if dry_run else "deleted"
    table = Table(title=f"retention: {verb}")
    table.add_column("consultation")
    table.add_column("what")
    for cid in report.audio:
        table.add_row(cid, "audio")
    for cid in report.consultations:
        table.add_row(cid, "whole consultation")
    if report.deleted:
        console.print(table)
    console.print(
        f"{len(report.audio)} audio recordings and {len(report.consultations)} consultations {verb} "
        f"(audio {settings.audio_retention_hours:g} h after approval, consultations after "
        f"{settings.retention_days:g} days)",
        highlight=False,
    )
    for error in report.errors:
        console.print(f"[red]✗[/] {error}", highlight=False, soft_wrap=True)
    if report.errors:
        raise StoreError(f"retention could not delete {len(report.errors)} consultations; see above")


# --- scribe users ---------------------------------------------------------------------------------
def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return hash_password(password)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="password") from None


def _find(store: Store, username: str) -> User:
    found = store.users.find(username)
    if found is None:
        raise NotFoundError(f"no user is called {username!r}; `scribe users list` shows them")
    return found[0]


@users_app.command("add")
def add_user(
    username: str = typer.Argument(..., help="Sign-in name."),
    name: str = typer.Option(..., "--name", help="Full name, as approvals will show it."),
    role: Role = typer.Option(..., "--role", help="clinician, admin or integrator."),
    totp: bool = typer.Option(False, "--totp", help="Require a second factor (always for admins)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Add a user. Admins (and anyone when totp_for_all is set) get a TOTP secret to enrol now."""
    settings = load_settings()
    password_hash = _read_password(password_stdin)
    required = totp or role is Role.ADMIN or settings.totp_for_all
    store = open_store(settings)
    try:
        user = store.users.create(username, name, role, password_hash, totp_required=required)
        secret = None
        if required:
            secret = new_totp_secret()
            store.users.set_totp_secret(user.id, secret)
        _audit(store, "user-add", f"user:{user.id}", detail=f"role {user.role}")
    finally:
        store.close()
    console.print(f"added {user.username} ({user.full_name}, {user.role}), user id {user.id}", highlight=False)
    if secret is not None:
        console.print("This account needs a second factor. Enrol it in an authenticator app with:")
        console.print(f"  secret: {secret}", highlight=False)
        console.print(f"  URI:    {totp_uri(secret, user.username)}", highlight=False, soft_wrap=True)


@users_app.command("list")
def list_users() -> None:
    """Every account with its role and state."""
    store = open_store(load_settings())
    try:
        users = store.users.list_all()
    finally:
        store.close()
    table = Table(title="scribe users")
    for column in ("id", "username", "name", "role", "active", "second factor", "created"):
        table.add_column(column)
    for user in users:
        factor = "enrolled" if user.totp_enabled else ("required, not enrolled" if user.totp_required else "off")
        table.add_row(
            str(user.id),
            escape(user.username),
            escape(user.full_name),
            user.role.value,
            "yes" if user.active else "[red]disabled[/]",
            factor,
            f"{user.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@users_app.command("disable")
def disable_user(username: str = typer.Argument(..., help="Sign-in name.")) -> None:
    """Stop a user signing in, and end their sessions (their records stay)."""
    store = open_store(load_settings())
    try:
        user = _find(store, username)
        store.users.update(user.id, active=False)
        store.users.delete_user_sessions(user.id)
        _audit(store, "user-disable", f"user:{user.id}")
    finally:
        store.close()
    console.print(f"disabled {user.username}; their sessions are ended", highlight=False)


@users_app.command("enable")
def enable_user(username: str = typer.Argument(..., help="Sign-in name.")) -> None:
    """Let a disabled user sign in again."""
    store = open_store(load_settings())
    try:
        user = _find(store, username)
        store.users.update(user.id, active=True)
        _audit(store, "user-enable", f"user:{user.id}")
    finally:
        store.close()
    console.print(f"enabled {user.username}", highlight=False)


@users_app.command("reset-totp")
def reset_totp(username: str = typer.Argument(..., help="Sign-in name.")) -> None:
    """Remove a user's second factor (lost phone); they enrol a new one at their next sign-in."""
    store = open_store(load_settings())
    try:
        user = _find(store, username)
        store.users.set_totp_secret(user.id, None)
        store.users.delete_user_sessions(user.id)
        _audit(store, "totp-reset", f"user:{user.id}")
    finally:
        store.close()
    then = "enrols a new one at the next sign-in" if user.totp_required else "may enrol one again"
    console.print(f"removed the second factor of {user.username}; the user {then}", highlight=False)


# --- scribe audit ---------------------------------------------------------------------------------
def _when(value: str | None, option: str, *, end: bool = False) -> datetime | None:
    """ISO date or date-time (UTC unless it says otherwise); a bare date as ``--until`` includes that day."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or date-time", param_hint=option) from None
    if end and len(value) <= 10:
        parsed += timedelta(days=1)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def audit(
    user: str | None = typer.Option(None, "--user", help="Username (or user id)."),
    action: str | None = typer.Option(None, "--action", help="e.g. sign-in, view, edit, approve, export, delete."),
    target: str | None = typer.Option(None, "--target", help="e.g. consultation:<id>; a trailing * matches a prefix."),
    since: str | None = typer.Option(None, "--since", help="From this date or date-time (UTC)."),
    until: str | None = typer.Option(None, "--until", help="Up to this date (inclusive) or date-time (exclusive)."),
    limit: int = typer.Option(100, "--limit", min=1, help="Most events shown, newest first."),
    verify: bool = typer.Option(False, "--verify", help="Check the whole hash chain; exit 9 when it is broken."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """List and filter the audit log, newest first; --verify checks that no event was altered or removed."""
    if output not in ("table", "json"):
        raise typer.BadParameter("use table or json", param_hint="--format")
    store = open_store(load_settings())
    try:
        events = store.audit.events(
            user=user,
            action=action,
            target=target,
            since=_when(since, "--since"),
            until=_when(until, "--until", end=True),
            limit=limit,
        )
        verified = store.audit.verify() if verify else None
    finally:
        store.close()
    if output == "json":
        payload: dict = {"events": [e.model_dump(mode="json") for e in events]}
        if verified is not None:
            payload["verified"] = {"intact": verified[0], "checked": verified[1]}
        print(json.dumps(payload, indent=2))
    else:
        table = Table(title="scribe audit log", caption=f"{len(events)} events, newest first")
        for column in ("id", "when (UTC)", "user", "action", "target", "from", "outcome", "detail"):
            table.add_column(column, overflow="fold")
        for e in events:
            outcome = e.outcome if e.outcome == "ok" else f"[red]{escape(e.outcome)}[/]"
            who = e.username or (str(e.user_id) if e.user_id is not None else "")
            when = f"{e.at:%Y-%m-%d %H:%M:%S}"
            cells = (who, e.action, e.target, e.ip)
            table.add_row(str(e.id), when, *map(escape, cells), outcome, escape(e.detail))
        console.print(table)
    if verified is not None:
        intact, checked = verified
        if not intact:
            raise TamperedError(
                f"the audit chain is broken after {checked} intact events: an event was altered or removed; "
                "compare with a backup"
            )
        if output == "table":
            console.print(f"[green]✓[/] audit chain intact ({checked} events)")
