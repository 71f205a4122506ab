"""Sign-in, second factor, sessions, CSRF and security headers of the review app (TestClient, real store)."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

import fastapi.routing
import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from helpers.cli_runner import cli_environment, scribe
from helpers.review_app import (
    PASSWORD,
    add_user,
    csrf_from,
    fast_password_hashing,
    page_csrf,
    review_app,
    review_settings,
    secret_from,
    sign_in,
    signed_in_client,
    totp_secret,
)

from scribe.review.app import TEMPLATES_DIR
from scribe.review.security import CONTENT_SECURITY_POLICY
from scribe.rows import Role
from scribe.store.accounts import needs_rehash, verify_password

PUBLIC = {("/login", "GET"), ("/login", "POST")}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_password_hashing(monkeypatch)


@pytest.fixture
def setup(tmp_path: Path):
    app, store = review_app(review_settings(tmp_path))
    add_user(store, "alice")
    add_user(store, "root", Role.ADMIN, totp=True)
    yield app, store
    store.close()


def _routes(app) -> list[tuple[str, str]]:
    """(concrete path, method) for every route of the app and its included routers, path parameters filled."""
    # FastAPI 0.16x keeps included routers as such in app.routes; iter_route_contexts flattens them.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(iterate(app.routes)) if iterate else [r for r in app.routes if isinstance(r, APIRoute)]
    found = []
    for route in routes:
        if route.methods and route.path and not route.path.startswith("/static"):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            found += [(path, method) for method in sorted(route.methods)]
    return found


def _events(store, action: str) -> list:
    return store.audit.events(action=action)


# --- password sign-in ------------------------------------------------------------------------------------------


def test_sign_in_sets_a_strict_session_cookie_and_goes_to_next(setup) -> None:
    app, store = setup
    client = TestClient(app)
    response = sign_in(client, "alice", next_path="/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    session = cookie["scribe_session"]
    assert session["httponly"] is True
    assert session["samesite"].lower() == "strict"
    assert session["path"] == "/"
    assert session["max-age"] == str(10 * 3600)
    assert not session["secure"]
    page = client.get("/account")
    assert page.status_code == 200 and "Alice" in page.text
    (event,) = _events(store, "sign-in")
    assert (event.username, event.outcome, event.ip) == ("alice", "ok", "testclient")


def test_secure_cookie_when_configured(tmp_path: Path) -> None:
    app, store = review_app(review_settings(tmp_path, cookie_secure=True, session_hours=2))
    add_user(store, "alice")
    response = sign_in(TestClient(app, base_url="https://testserver"), "alice")
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith("scribe_session="))
    assert "Secure" in header and "Max-Age=7200" in header and "HttpOnly" in header
    store.close()


def test_bad_password_is_refused_and_audited_without_the_password(setup) -> None:
    app, store = setup
    client = TestClient(app)
    response = sign_in(client, "alice", "wrong password here")
    assert response.status_code == 401
    assert "do not match" in response.text
    assert "scribe_session" not in response.headers.get("set-cookie", "")
    response = sign_in(client, "nobody", "another guess 123")
    assert response.status_code == 401
    events = _events(store, "sign-in")
    assert [(e.username, e.outcome, e.detail) for e in events] == [
        ("nobody", "failed", "unknown username"),
        ("alice", "failed", "wrong password"),
    ]
    for event in events:
        assert "wrong password here" not in event.model_dump_json()
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_disabled_user_cannot_sign_in(setup) -> None:
    app, store = setup
    user = add_user(store, "bob")
    store.users.update(user.id, active=False)
    assert sign_in(TestClient(app), "bob").status_code == 401


def test_rate_limit_after_repeated_failures(tmp_path: Path) -> None:
    app, store = review_app(review_settings(tmp_path, login_max_failures=3, login_window_minutes=10))
    add_user(store, "alice")
    client = TestClient(app)
    for _ in range(3):
        assert sign_in(client, "alice", "not the password").status_code == 401
    response = sign_in(client, "alice")  # even the right password waits
    assert response.status_code == 429
    assert "Wait 10 minutes" in response.text
    # the address is limited too, whatever the username
    assert sign_in(client, "someone-else", "guess guess guess").status_code == 429
    assert [e.outcome for e in _events(store, "sign-in")][:2] == ["denied", "denied"]
    store.close()


def test_only_failures_count_towards_the_limit(tmp_path: Path) -> None:
    app, store = review_app(review_settings(tmp_path, login_max_failures=2))
    add_user(store, "alice")
    for _ in range(4):
        client = TestClient(app)
        assert sign_in(client, "alice").status_code == 303
    store.close()


def test_sign_in_replaces_the_session(setup) -> None:
    app, store = setup
    client = TestClient(app)
    sign_in(client, "alice")
    first = client.cookies.get("scribe_session")
    # sign in again from a sign-in form this browser still shows
    client.cookies.set("scribe_login_csrf", "form-token", domain="testserver.local", path="/login")
    data = {"username": "alice", "password": PASSWORD, "csrf_token": "form-token"}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    second = client.cookies.get("scribe_session")
    assert first and second and first != second
    assert store.users.get_session(first) is None
    assert store.users.get_session(second) is not None


def test_planted_session_token_is_not_adopted(setup) -> None:
    app, store = setup
    client = TestClient(app)
    client.cookies.set("scribe_session", "attacker-chosen-token", domain="testserver.local")
    response = sign_in(client, "alice")
    fresh = SimpleCookie(next(h for h in response.headers.get_list("set-cookie") if "scribe_session=" in h))
    assert fresh["scribe_session"].value not in ("", "attacker-chosen-token")
    assert store.users.get_session(fresh["scribe_session"].value) is not None


def test_htmx_requests_without_a_session_return_to_their_page(setup) -> None:
    app, _ = setup
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/account?tab=x"}
    response = TestClient(app).get("/account/totp", headers=headers)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/account%3Ftab%3Dx"


def test_next_never_leaves_the_site(setup) -> None:
    app, _ = setup
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = sign_in(TestClient(app), "alice", next_path=target)
        assert response.headers["location"] == "/"


def test_outdated_password_hash_is_upgraded_at_sign_in(setup) -> None:
    app, store = setup
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
    user = store.users.create("carol", "Carol", Role.CLINICIAN, weak, totp_required=False)
    assert sign_in(TestClient(app), "carol").status_code == 303
    _, stored = store.users.find("carol")
    assert stored != weak and not needs_rehash(stored) and verify_password(stored, PASSWORD)
    assert store.users.get(user.id).active


def test_sign_in_form_needs_its_csrf_cookie(setup) -> None:
    app, store = setup
    client = TestClient(app)
    data = {"username": "alice", "password": PASSWORD, "csrf_token": "made-up"}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 403
    assert _events(store, "csrf")[0].outcome == "denied"


# --- second factor -----------------------------------------------------------------------------------------------


def test_admin_must_enrol_totp_before_anything_else(setup) -> None:
    app, store = setup
    admin = add_user(store, "newadmin", Role.ADMIN)
    client = TestClient(app)
    response = sign_in(client, "newadmin", next_path="/admin/users")
    assert response.headers["location"] == "/account/totp?next=/admin/users"
    # the half-signed-in session opens nothing else
    blocked = client.get("/admin/users", follow_redirects=False)
    assert blocked.status_code == 303 and blocked.headers["location"].startswith("/account/totp")
    assert client.get("/account", headers={"HX-Request": "true"}).status_code == 401
    page = client.get("/account/totp?next=/admin/users")
    secret = secret_from(page.text)
    assert "otpauth://totp/" in page.text
    wrong = client.post("/account/totp", data={"secret": secret, "code": "000000", "csrf_token": csrf_from(page.text)})
    assert wrong.status_code == 400
    before = client.cookies.get("scribe_session")
    done = client.post(
        "/account/totp",
        data={"secret": secret, "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page.text), "next": "/x"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/x"
    assert client.cookies.get("scribe_session") != before
    assert store.users.get(admin.id).totp_enabled
    assert client.get("/admin/users").status_code == 200
    assert [e.outcome for e in _events(store, "totp-enrol")] == ["ok", "failed"]


def test_enrolled_admin_gives_a_code(setup) -> None:
    app, store = setup
    client = TestClient(app)
    response = sign_in(client, "root", next_path="/admin/audit")
    assert response.headers["location"] == "/login/totp?next=/admin/audit"
    assert client.get("/admin/audit", follow_redirects=False).headers["location"].startswith("/login/totp")
    page = client.get(response.headers["location"])
    token = csrf_from(page.text)
    bad = client.post("/login/totp", data={"code": "123456", "csrf_token": token, "next": "/admin/audit"})
    assert bad.status_code == 401 and "not right" in bad.text
    good = client.post(
        "/login/totp",
        data={"code": pyotp.TOTP(totp_secret("root")).now(), "csrf_token": token, "next": "/admin/audit"},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/admin/audit"
    assert client.get("/admin/audit").status_code == 200
    assert [e.outcome for e in _events(store, "sign-in-totp")] == ["ok", "failed"]


def test_totp_failures_count_towards_the_rate_limit(tmp_path: Path) -> None:
    app, store = review_app(review_settings(tmp_path, login_max_failures=2))
    add_user(store, "root", Role.ADMIN, totp=True)
    client = TestClient(app)
    sign_in(client, "root")
    token = csrf_from(client.get("/login/totp").text)
    for _ in range(2):
        assert client.post("/login/totp", data={"code": "000000", "csrf_token": token}).status_code == 401
    code = pyotp.TOTP(totp_secret("root")).now()
    assert client.post("/login/totp", data={"code": code, "csrf_token": token}).status_code == 429
    store.close()


def test_totp_for_all_applies_to_clinicians(tmp_path: Path) -> None:
    app, store = review_app(review_settings(tmp_path, totp_for_all=True))
    add_user(store, "alice")
    response = sign_in(TestClient(app), "alice")
    assert response.headers["location"] == "/account/totp"
    store.close()


def test_clinician_without_totp_requirement_signs_in_with_password_only(setup) -> None:
    app, _ = setup
    assert sign_in(TestClient(app), "alice").headers["location"] == "/"


# --- sign-out and account ------------------------------------------------------------------------------------


def test_logout_ends_the_session(setup) -> None:
    app, store = setup
    client = signed_in_client(app, store, "alice")
    token = client.cookies.get("scribe_session")
    assert client.post("/logout", follow_redirects=False).status_code == 403
    response = client.post("/logout", data={"csrf_token": page_csrf(client)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert store.users.get_session(token) is None
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login?next=/account"
    assert _events(store, "sign-out")[0].username == "alice"


def test_change_password(setup) -> None:
    app, store = setup
    client = signed_in_client(app, store, "alice")
    other = signed_in_client(app, store, "alice")
    token = page_csrf(client)
    new = "a different long passphrase"
    wrong = {"current_password": "nope nope nope", "new_password": new, "confirm_password": new, "csrf_token": token}
    assert client.post("/account/password", data=wrong).status_code == 400
    mismatch = {"current_password": PASSWORD, "new_password": new, "confirm_password": new + "x", "csrf_token": token}
    assert client.post("/account/password", data=mismatch).status_code == 400
    short = {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short", "csrf_token": token}
    assert "longer" in client.post("/account/password", data=short).text
    ok = {"current_password": PASSWORD, "new_password": new, "confirm_password": new, "csrf_token": token}
    response = client.post("/account/password", data=ok)
    assert response.status_code == 200 and "has been changed" in response.text
    assert other.get("/account", follow_redirects=False).status_code == 303  # other sessions ended
    assert sign_in(TestClient(app), "alice").status_code == 401
    assert sign_in(TestClient(app), "alice", new).status_code == 303


# --- every route: sign-in required, CSRF required --------------------------------------------------------------


def test_every_non_public_route_needs_a_session(setup) -> None:
    app, _ = setup
    client = TestClient(app)
    checked = 0
    for path, method in _routes(app):
        if (path, method) in PUBLIC:
            continue
        checked += 1
        if method in ("GET", "HEAD"):
            page = client.request(method, path, follow_redirects=False)
            assert page.status_code == 303, (method, path, page.status_code)
            assert page.headers["location"].startswith("/login"), (method, path)
            htmx = client.request(method, path, headers={"HX-Request": "true"}, follow_redirects=False)
            assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login"), (method, path)
            fetch = client.request(method, path, headers={"Accept": "application/json"}, follow_redirects=False)
            assert fetch.status_code == 401, (method, path)
        else:
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code == 401, (method, path, response.status_code)
    assert checked >= 10


def test_every_unsafe_route_needs_the_csrf_token(setup) -> None:
    app, store = setup
    client = signed_in_client(app, store, "root")
    unsafe = [(path, method) for path, method in _routes(app) if method in UNSAFE]
    assert len(unsafe) >= 8
    for path, method in unsafe:
        missing = client.request(method, path, follow_redirects=False)
        assert missing.status_code == 403, (method, path, missing.status_code)
        wrong_form = client.request(method, path, data={"csrf_token": "wrong"}, follow_redirects=False)
        assert wrong_form.status_code == 403, (method, path, wrong_form.status_code)
        wrong_header = client.request(method, path, headers={"X-CSRF-Token": "wrong"}, follow_redirects=False)
        assert wrong_header.status_code == 403, (method, path, wrong_header.status_code)
    denied = _events(store, "csrf")
    assert len(denied) == 3 * len(unsafe)
    assert {e.outcome for e in denied} == {"denied"}
    assert {e.target for e in denied if e.username != "root"} == {"/login"}  # the sign-in form has no user yet


def test_csrf_token_in_header_is_accepted(setup) -> None:
    app, store = setup
    client = signed_in_client(app, store, "alice")
    response = client.post("/logout", headers={"X-CSRF-Token": page_csrf(client)}, follow_redirects=False)
    assert response.status_code == 303


# --- headers and templates -------------------------------------------------------------------------------------


def test_security_headers_on_pages_errors_and_static(setup) -> None:
    app, store = setup
    client = signed_in_client(app, store, "alice")
    for response in (
        client.get("/account"),
        client.get("/login"),
        client.get("/no-such-page"),
        client.get("/account", headers={"Accept": "application/json", "Cookie": "scribe_session=x"}),
        client.get("/static/app.css"),
    ):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        assert "microphone=(self)" in response.headers["permissions-policy"]
    assert client.get("/account").headers["cache-control"] == "no-store"
    assert client.get("/static/app.js").headers.get("cache-control") != "no-store"
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "There is no page at this address" in missing.text


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle\s*=|<style\b|\son[a-z]+\s*=|javascript:", re.I)
    templates = sorted(TEMPLATES_DIR.rglob("*.html"))
    assert len(templates) >= 8
    for template in templates:
        found = inline.search(template.read_text())
        assert found is None, f"{template.name}: {found.group(0) if found else ''}"


def test_base_layout_loads_htmx_and_app_js_and_has_a_skip_link(setup) -> None:
    app, store = setup
    html = signed_in_client(app, store, "alice").get("/account").text
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in html
    assert '<script src="/static/app.js" defer></script>' in html
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    assert '"allowEval":false' in html and '<meta name="csrf-token"' in html
    assert 'action="/logout"' in html


# --- app life cycle and `scribe serve` -------------------------------------------------------------------------


def test_lifespan_starts_and_stops_the_job_runner(tmp_path: Path) -> None:
    from scribe.review.app import create_app

    settings = review_settings(tmp_path)
    app = create_app(settings)  # opens (and at shutdown closes) its own store
    with TestClient(app) as client:
        runner = app.state.runner
        assert runner is not None and runner._thread is not None and runner._thread.is_alive()
        assert client.get("/login").status_code == 200
    assert app.state.runner is None and not runner._thread


def test_is_loopback() -> None:
    from scribe.cli.serve import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.0.1.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.20", "::", "scribe.example.nhs.uk"))


def test_serve_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    result = scribe("serve", tmp_path=tmp_path, env={"SCRIBE_STORE_KEY_FILE": str(tmp_path / "missing.key")})
    assert result.returncode == 9
    assert "SCRIBE_STORE_KEY" in result.stderr and "init-key" in result.stderr


def test_serve_answers_on_loopback_and_warns_for_other_addresses(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_environment(tmp_path, {"SCRIBE_STORE_KEY": base64.b64encode(os.urandom(32)).decode()})
    command = [sys.executable, "-m", "scribe", "serve", "--no-worker", "--host", "0.0.0.0", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "scribe serve did not answer within 60 s"
                time.sleep(0.3)
        assert response.status_code == 200 and "Sign in" in response.text
        assert response.headers["x-frame-options"] == "DENY" and "server" not in response.headers
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "warning" in stderr and "reachable from the network" in stderr
