"""Helpers for tests of the review web app: a private store, users, and signed-in TestClients."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from scribe.config import Settings
from scribe.rows import Role, User
from scribe.store import Store, accounts, open_store
from scribe.store.accounts import hash_password

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_SECRET = re.compile(r'name="secret" value="([A-Z2-7]+)"')


def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny parameters, so each sign-in in a test costs milliseconds, not half a second."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def review_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings with a private data folder and a random store key."""
    key = base64.b64encode(os.urandom(32)).decode()
    return Settings(data_dir=tmp_path / "data", store_key=key, **overrides)


def review_app(settings: Settings) -> tuple[FastAPI, Store]:
    """The app over a fresh store, without the background worker."""
    from scribe.review.app import create_app

    store = open_store(settings)
    return create_app(settings, store, worker=False), store


def add_user(store: Store, username: str, role: Role = Role.CLINICIAN, *, totp: bool = False) -> User:
    """A user with :data:`PASSWORD`; with ``totp`` an enrolled authenticator (secret: :func:`totp_secret`)."""
    user = store.users.create(
        username, username.title(), role, hash_password(PASSWORD), totp_required=totp or role == Role.ADMIN
    )
    if totp:
        store.users.set_totp_secret(user.id, totp_secret(username))
    return store.users.get(user.id)


def totp_secret(username: str) -> str:
    """A fixed TOTP secret per username, so tests can compute codes."""
    return base64.b32encode(username.encode().ljust(20, b"-")[:20]).decode()


def csrf_from(html: str) -> str:
    """The CSRF token a page carries (form field or meta tag)."""
    found = _CSRF.search(html) or _META.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


def secret_from(html: str) -> str:
    found = _SECRET.search(html)
    assert found, "enrolment page shows no secret"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, *, next_path: str = "/") -> object:
    """Post the sign-in form the way a browser does (GET for the form's token, then POST); returns the response."""
    page = client.get("/login")
    data = {"username": username, "password": password, "csrf_token": csrf_from(page.text), "next": next_path}
    return client.post("/login", data=data, follow_redirects=False)


def signed_in_client(app: FastAPI, store: Store, username: str) -> TestClient:
    """A client fully signed in as ``username`` (giving the TOTP code when the account has one enrolled)."""
    client = TestClient(app)
    response = sign_in(client, username)
    assert response.status_code == 303, response.text
    if response.headers["location"].startswith("/login/totp"):
        page = client.get(response.headers["location"])
        code = pyotp.TOTP(totp_secret(username)).now()
        response = client.post(
            "/login/totp", data={"code": code, "csrf_token": csrf_from(page.text)}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
    return client


def page_csrf(client: TestClient, path: str = "/account") -> str:
    """The session's CSRF token, read from a page."""
    return csrf_from(client.get(path).text)
