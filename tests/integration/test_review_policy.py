"""Roles over HTTP: admin pages for admins only, user administration, the audit log, and deps.authorize."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient
from helpers.review_app import (
    PASSWORD,
    add_user,
    csrf_from,
    fast_password_hashing,
    page_csrf,
    review_app,
    review_settings,
    sign_in,
    signed_in_client,
)

from scribe.review import deps
from scribe.rows import AuditEvent, ConsultationStatus, PatientDetails, Role, User


def _probe_router() -> APIRouter:
    """GET /probe/{cid}/{action}: 200 when the signed-in user may do ``action`` on the consultation."""
    router = APIRouter()

    @router.get("/probe/{cid}/{action}")
    def probe(request: Request, cid: str, action: str, user: User = Depends(deps.current_user)) -> dict:
        deps.authorize(request, action, deps.store(request).consultations.get(cid))
        return {"ok": True}

    return router


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_password_hashing(monkeypatch)


@pytest.fixture
def site(tmp_path: Path):
    app, store = review_app(review_settings(tmp_path))
    app.include_router(_probe_router())
    users = {
        "root": add_user(store, "root", Role.ADMIN, totp=True),
        "alice": add_user(store, "alice"),
        "bob": add_user(store, "bob"),
        "ivy": add_user(store, "ivy", Role.INTEGRATOR),
    }
    yield app, store, users
    store.close()


def _clients(app, store, *names: str) -> dict[str, TestClient]:
    return {name: signed_in_client(app, store, name) for name in names}


# --- admin pages ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["alice", "ivy"])
def test_admin_pages_are_refused_to_other_roles(site, name: str) -> None:
    app, store, _ = site
    client = signed_in_client(app, store, name)
    for path in ("/admin/users", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 403 and "Only administrators" in response.text
    token = page_csrf(client)
    form = {"username": "mallory", "full_name": "Mallory", "role": "admin", "password": PASSWORD, "csrf_token": token}
    assert client.post("/admin/users", data=form).status_code == 403
    assert client.post("/admin/users/1/reset-totp", data={"csrf_token": token}).status_code == 403
    assert store.users.find("mallory") is None
    denied = store.audit.events(action="admin")
    assert len(denied) == 4 and {e.username for e in denied} == {name} and {e.outcome for e in denied} == {"denied"}


def test_admin_adds_users(site) -> None:
    app, store, _ = site
    client = signed_in_client(app, store, "root")
    token = page_csrf(client, "/admin/users")
    form = {"username": "carol", "full_name": "Dr Carol  Jones", "role": "clinician", "password": PASSWORD}
    response = client.post("/admin/users", data={**form, "csrf_token": token})
    assert response.status_code == 200 and "User added." in response.text and "Dr Carol Jones" in response.text
    carol, _ = store.users.find("carol")
    assert (carol.role, carol.totp_required, carol.full_name) == (Role.CLINICIAN, False, "Dr Carol Jones")
    assert client.post("/admin/users", data={**form, "csrf_token": token}).status_code == 409
    short = {**form, "username": "dave", "password": "short", "csrf_token": token}
    assert client.post("/admin/users", data=short).status_code == 400
    bad = {**form, "username": "<dave>", "csrf_token": token}
    assert client.post("/admin/users", data=bad).status_code == 400
    admin_form = {**form, "username": "eve", "role": "admin", "csrf_token": token}
    assert client.post("/admin/users", data=admin_form).status_code == 200
    assert store.users.find("eve")[0].totp_required  # admins always need the second factor
    (added,) = [e for e in store.audit.events(action="user-add") if e.target == f"user:{carol.id}"]
    assert added.username == "root" and PASSWORD not in added.model_dump_json()


def test_disable_and_enable(site) -> None:
    app, store, users = site
    clients = _clients(app, store, "root", "bob")
    token = page_csrf(clients["root"], "/admin/users")
    bob = users["bob"].id
    response = clients["root"].post(f"/admin/users/{bob}/active", data={"active": "false", "csrf_token": token})
    assert response.status_code == 200 and "disabled" in response.text
    assert clients["bob"].get("/account", follow_redirects=False).status_code == 303  # signed out everywhere
    assert sign_in(TestClient(app), "bob").status_code == 401
    clients["root"].post(f"/admin/users/{bob}/active", data={"active": "true", "csrf_token": token})
    assert sign_in(TestClient(app), "bob").status_code == 303
    own = clients["root"].post(f"/admin/users/{users['root'].id}/active", data={"active": "false", "csrf_token": token})
    assert own.status_code == 409 and store.users.get(users["root"].id).active
    changes = [e.action for e in store.audit.events(target=f"user:{bob}") if e.action.startswith("user-")]
    assert changes == ["user-enable", "user-disable"]


def test_require_and_reset_totp(site) -> None:
    app, store, users = site
    client = signed_in_client(app, store, "root")
    token = page_csrf(client, "/admin/users")
    bob = users["bob"].id
    client.post(f"/admin/users/{bob}/totp-required", data={"required": "true", "csrf_token": token})
    assert store.users.get(bob).totp_required
    response = sign_in(TestClient(app), "bob")
    assert response.headers["location"] == "/account/totp"  # enrolment before anything else
    store.users.set_totp_secret(bob, pyotp.random_base32())
    assert store.users.get(bob).totp_enabled
    client.post(f"/admin/users/{bob}/reset-totp", data={"csrf_token": token})
    assert not store.users.get(bob).totp_enabled and store.users.totp_secret(bob) is None
    root = users["root"].id
    refused = client.post(f"/admin/users/{root}/totp-required", data={"required": "false", "csrf_token": token})
    assert refused.status_code == 409


def test_admin_sets_a_password(site) -> None:
    app, store, users = site
    client = signed_in_client(app, store, "root")
    token = page_csrf(client, "/admin/users")
    new = "a brand new passphrase"
    response = client.post(f"/admin/users/{users['alice'].id}/password", data={"password": new, "csrf_token": token})
    assert response.status_code == 200
    assert sign_in(TestClient(app), "alice").status_code == 401
    assert sign_in(TestClient(app), "alice", new).status_code == 303


def test_unknown_user_is_404(site) -> None:
    app, store, _ = site
    client = signed_in_client(app, store, "root")
    token = page_csrf(client, "/admin/users")
    assert client.post("/admin/users/999/reset-totp", data={"csrf_token": token}).status_code == 404


# --- audit log ------------------------------------------------------------------------------------------------


def test_audit_log_filters_paginates_verifies_and_is_itself_audited(site) -> None:
    app, store, _ = site
    for i in range(60):
        store.audit.record(AuditEvent(username="alice", action="view", target=f"consultation:c{i:02d}", ip="10.0.0.1"))
    client = signed_in_client(app, store, "root")
    first = client.get("/admin/audit", params={"user": "alice", "action": "view"})
    assert first.status_code == 200
    assert "consultation:c59" in first.text and "consultation:c10" in first.text
    assert "consultation:c09" not in first.text and "Older events" in first.text
    second = client.get("/admin/audit", params={"user": "alice", "action": "view", "page": 2})
    assert "consultation:c09" in second.text and "consultation:c00" in second.text and "Older events" not in second.text
    one = client.get("/admin/audit", params={"target": "consultation:c07"})
    assert one.text.count('<td class="mono">consultation:') == 1
    assert "intact" in client.get("/admin/audit", params={"verify": "true"}).text
    bad = client.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text
    views = store.audit.events(action="view", target="audit-log")
    assert len(views) == 5 and {e.username for e in views} == {"root"}


def test_audit_log_dates(site) -> None:
    app, store, _ = site
    client = signed_in_client(app, store, "root")
    today = client.get("/admin/audit", params={"since": "2000-01-01", "until": "2999-12-31"})
    assert "sign-in" in today.text
    none = client.get("/admin/audit", params={"until": "2000-01-01"})
    assert "No events match." in none.text


def test_the_audit_log_cannot_be_changed_through_the_app(site) -> None:
    app, store, _ = site
    client = signed_in_client(app, store, "root")
    token = page_csrf(client, "/admin/users")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = client.request(method, "/admin/audit", headers={"X-CSRF-Token": token})
        assert response.status_code == 405
    assert store.audit.verify()[0]


# --- deps.authorize over the policy ------------------------------------------------------------------------------


def test_authorize_follows_the_policy_and_audits_refusals(site) -> None:
    app, store, users = site
    consultation = store.consultations.create(users["alice"].id, "gp", PatientDetails(name="Test Patient"))
    cid = consultation.id
    clients = _clients(app, store, "root", "alice", "bob", "ivy")

    def status(name: str, action: str) -> int:
        return clients[name].get(f"/probe/{cid}/{action}", headers={"Accept": "application/json"}).status_code

    assert [status("alice", a) for a in ("view", "note", "transcript", "edit", "approve", "grant", "delete")] == [
        200
    ] * 7
    assert [status("bob", a) for a in ("view", "note", "transcript")] == [403] * 3
    assert [status("ivy", a) for a in ("view", "note", "export", "transcript")] == [403] * 4
    assert [status("root", a) for a in ("view", "grant", "delete", "note", "transcript")] == [200, 200, 200, 403, 403]

    store.consultations.grant(cid, users["bob"].id)
    assert [status("bob", a) for a in ("view", "note", "transcript", "edit", "grant", "delete")] == [200] * 4 + [
        403
    ] * 2

    store.consultations.set_status(cid, ConsultationStatus.APPROVED)
    assert [status("ivy", a) for a in ("view", "note", "export", "transcript", "edit")] == [200] * 3 + [403] * 2

    denied = store.audit.events(target=f"consultation:{cid}")
    assert all(e.outcome == "denied" for e in denied)
    assert {(e.username, e.action) for e in denied} >= {("bob", "note"), ("ivy", "transcript"), ("root", "note")}
    assert csrf_from(clients["alice"].get("/account").text)  # still signed in after all the refusals
