"""`scribe store`, `scribe users` and `scribe audit` in a subprocess, with a private data folder and key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli_runner import cli_environment, scribe

from scribe.config import load_settings
from scribe.store import open_store

PASSWORD = "correct horse battery staple"


def env(tmp_path: Path, key: str = "store.key") -> dict[str, str]:
    # COLUMNS: rich wraps tables at 80 columns when there is no terminal.
    return {"SCRIBE_STORE_KEY_FILE": str(tmp_path / "keys" / key), "COLUMNS": "200"}


def run(tmp_path: Path, *args: str, key: str = "store.key", stdin: str | None = None) -> subprocess.CompletedProcess:
    if stdin is None:
        return scribe(*args, tmp_path=tmp_path, env=env(tmp_path, key))
    # The shared runner has no stdin; the same command line with input.
    environment = cli_environment(tmp_path, env(tmp_path, key))
    return subprocess.run(
        [sys.executable, "-m", "scribe", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


@pytest.fixture
def keyed(tmp_path: Path) -> Path:
    result = run(tmp_path, "store", "init-key")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_init_key_makes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    result = run(tmp_path, "store", "init-key")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "keys" / "store.key"
    assert (path.stat().st_mode & 0o777) == 0o600 and "key id" in result.stdout
    before = path.read_text()
    again = run(tmp_path, "store", "init-key")
    assert again.returncode == 9 and "never overwritten" in again.stderr and path.read_text() == before
    other = tmp_path / "elsewhere.key"
    result = run(tmp_path, "store", "init-key", "--key-file", str(other))
    assert result.returncode == 0 and other.exists() and "SCRIBE_STORE_KEY_FILE" in result.stdout


def test_commands_without_a_key_say_how_to_make_one(tmp_path: Path) -> None:
    result = run(tmp_path, "users", "list")
    assert result.returncode == 9
    assert "scribe store init-key" in result.stderr and "SCRIBE_STORE_KEY_FILE" in result.stderr


def test_migrate_is_idempotent(keyed: Path) -> None:
    first = run(keyed, "store", "migrate")
    assert first.returncode == 0 and "from empty to 0001" in first.stdout
    second = run(keyed, "store", "migrate")
    assert second.returncode == 0 and "up to date" in second.stdout


def test_users_and_audit(keyed: Path) -> None:
    admin = run(
        keyed, "users", "add", "root", "--name", "Ada Admin", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert admin.returncode == 0, admin.stderr
    assert "otpauth://totp/scribe:root?secret=" in admin.stdout and "secret:" in admin.stdout
    clinician = run(
        keyed,
        "users",
        "add",
        "alice",
        "--name",
        "Dr Alice Smith",
        "--role",
        "clinician",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert clinician.returncode == 0, clinician.stderr
    assert "otpauth" not in clinician.stdout
    short = run(keyed, "users", "add", "bob", "--name", "Bob", "--role", "clinician", "--password-stdin", stdin="short")
    assert short.returncode == 2 and "12 characters" in short.stderr
    taken = run(
        keyed, "users", "add", "alice", "--name", "A", "--role", "clinician", "--password-stdin", stdin=PASSWORD
    )
    assert taken.returncode == 9 and "taken" in taken.stderr
    assert run(keyed, "users", "disable", "alice").returncode == 0
    assert run(keyed, "users", "reset-totp", "root").returncode == 0
    missing = run(keyed, "users", "disable", "nobody")
    assert missing.returncode == 9 and "scribe users list" in missing.stderr
    listing = run(keyed, "users", "list")
    assert listing.returncode == 0
    assert "Dr Alice Smith" in listing.stdout and "disabled" in listing.stdout and "required, not" in listing.stdout

    settings = load_settings(data_dir=keyed / "data", store_key_file=keyed / "keys" / "store.key")
    store = open_store(settings)
    users = {u.username: u for u in store.users.list_all()}
    assert users["root"].totp_required and not users["root"].totp_enabled and not users["alice"].active
    store.close()
    assert run(keyed, "users", "enable", "alice").returncode == 0
    store = open_store(settings)
    assert store.users.find("alice")[0].active  # type: ignore[index]
    store.close()

    table = run(keyed, "audit", "--verify")
    assert table.returncode == 0 and "audit chain intact (5 events)" in table.stdout
    data = json.loads(run(keyed, "audit", "--format", "json", "--action", "user-add").stdout)
    assert [e["target"] for e in data["events"]] == ["user:2", "user:1"]
    assert all(e["username"].startswith("cli:") and e["user_id"] is None for e in data["events"])
    data = json.loads(run(keyed, "audit", "--format", "json", "--target", "user:1", "--verify").stdout)
    assert [e["action"] for e in data["events"]] == ["totp-reset", "user-add"] and data["verified"]["intact"]
    assert json.loads(run(keyed, "audit", "--format", "json", "--until", "2000-01-01").stdout)["events"] == []
    assert run(keyed, "audit", "--since", "yesterday").returncode == 2

    # An edited event breaks the chain: --verify exits 9.
    import sqlite3

    connection = sqlite3.connect(keyed / "data" / "scribe.db")
    connection.execute("UPDATE audit SET detail = 'role clinician' WHERE id = 1")
    connection.commit()
    connection.close()
    broken = run(keyed, "audit", "--verify")
    assert broken.returncode == 9 and "audit chain is broken" in broken.stderr


def test_rotate_key_then_retention(keyed: Path) -> None:
    assert (
        run(
            keyed, "users", "add", "alice", "--name", "A", "--role", "clinician", "--password-stdin", stdin=PASSWORD
        ).returncode
        == 0
    )
    rotated = run(keyed, "store", "rotate-key", "--new-key-file", str(keyed / "keys" / "new.key"))
    assert rotated.returncode == 0, rotated.stderr
    assert "SCRIBE_STORE_KEY_FILE=" in rotated.stdout and "re-wrapped 1 data keys" in rotated.stdout
    assert (keyed / "keys" / "new.key").stat().st_mode & 0o777 == 0o600
    old = run(keyed, "users", "list")
    assert old.returncode == 9 and "does not open the store" in old.stderr
    assert run(keyed, "users", "list", key="new.key").returncode == 0
    same = run(keyed, "store", "rotate-key", "--new-key-file", str(keyed / "keys" / "new.key"), key="new.key")
    assert same.returncode == 2 and "already uses" in same.stderr

    dry = run(keyed, "store", "retention", "--dry-run", key="new.key")
    assert dry.returncode == 0 and "0 audio recordings and 0 consultations due for deletion" in dry.stdout
    done = run(keyed, "store", "retention", key="new.key")
    assert done.returncode == 0 and "deleted" in done.stdout
    events = json.loads(run(keyed, "audit", "--format", "json", "--action", "rotate-key", key="new.key").stdout)
    assert len(events["events"]) == 1 and "->" in events["events"][0]["detail"]
