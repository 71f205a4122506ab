"""Sign-in (password, then TOTP where required), sign-out, and the account page (password, TOTP enrolment).

Every sign-in success or failure, TOTP failure and sign-out is audited; failures record the username
as typed, never the password. Failed passwords and TOTP codes count against one rate limit per
username or address. A new session is started at each step up (no session fixation).
"""

from __future__ import annotations

import contextlib
import math
import re
from datetime import UTC, datetime, timedelta
from functools import cache

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from scribe.review import deps
from scribe.rows import User
from scribe.store.accounts import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    new_totp_secret,
    totp_uri,
    verify_password,
    verify_totp,
)

router = APIRouter()

_NOTICES = {
    "password": "Your password has been changed. Other sessions were signed out.",
    "totp": "Your authenticator app is enrolled. Sign-in will ask for its code.",
}
_BASE32 = re.compile(r"^[A-Z2-7]{16,64}$")
_MAX_USERNAME = 150


@cache
def _dummy_hash() -> str:
    # Verifying against this when the username is unknown keeps the response time the same.
    return hash_password("not-a-real-password-" + new_totp_secret())


def _rate_limited(request: Request, username: str) -> str | None:
    """The message to show when this username or address has failed too often in the window, else None."""
    config = deps.settings(request)
    since = datetime.now(UTC) - timedelta(minutes=config.login_window_minutes)
    if deps.store(request).users.login_failures(username, deps.client_ip(request), since) < config.login_max_failures:
        return None
    minutes = math.ceil(config.login_window_minutes)
    return f"Too many failed attempts. Wait {minutes} minutes, then try again, or ask an administrator for help."


def _start_session(request: Request, response: Response, user: User, *, second_factor_done: bool) -> None:
    """Replace any session this browser has with a new one for ``user`` (the cookie gets a fresh token)."""
    db, config = deps.store(request), deps.settings(request)
    if old := request.cookies.get(deps.SESSION_COOKIE):
        db.users.delete_session(old)
    ttl = int(config.session_hours * 3600)
    token = db.users.create_session(user.id, deps.client_ip(request), ttl, second_factor_done=second_factor_done)
    deps.set_session_cookie(response, token, config)


# --- password step -----------------------------------------------------------------------------------------


def _login_form(
    request: Request, next_path: str, *, error: str = "", username: str = "", status_code: int = 200
) -> Response:
    config = deps.settings(request)
    token = request.cookies.get(deps.LOGIN_CSRF_COOKIE) or deps.new_login_csrf()
    request.state.csrf_token = token
    context = {"next": deps.safe_next(next_path), "error": error, "username": username}
    response = deps.render_page(request, "login.html", context, status_code=status_code)
    response.set_cookie(
        deps.LOGIN_CSRF_COOKIE, token, path="/login", httponly=True, samesite="strict", secure=config.cookie_secure
    )
    return response


@router.get("/login")
def login_page(request: Request, next_path: str = Query("/", alias="next")) -> Response:
    """The sign-in form (or straight on when already signed in)."""
    who = deps.signed_in(request)
    if who is not None and not deps.second_factor_pending(request, who):
        return deps.redirect(deps.safe_next(next_path))
    return _login_form(request, next_path)


@router.post("/login", dependencies=[Depends(deps.csrf_login)])
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next_path: str = Form("/", alias="next"),
) -> Response:
    """Check the password; start a session, complete or waiting for the second factor."""
    db, config = deps.store(request), deps.settings(request)
    username = username.strip()[:_MAX_USERNAME]
    request.state.username = username
    if message := _rate_limited(request, username):
        deps.audit(request, "sign-in", outcome="denied", detail="rate limited")
        return _login_form(request, next_path, error=message, username=username, status_code=429)
    found = db.users.find(username) if username else None
    if found is None:
        verify_password(_dummy_hash(), password)
        ok, why = False, "unknown username"
    else:
        user, password_hash = found
        ok = verify_password(password_hash, password)
        why = "wrong password" if not ok else ""
        if ok and not user.active:
            ok, why = False, "account disabled"
    if not ok:
        db.users.record_login_failure(username, deps.client_ip(request))
        deps.audit(request, "sign-in", outcome="failed", detail=why)
        error = "That username and password do not match an active account. Check them and try again."
        return _login_form(request, next_path, error=error, username=username, status_code=401)

    if needs_rehash(password_hash):
        # A password shorter than today's minimum keeps its old hash; the user can change it.
        with contextlib.suppress(ValueError):
            db.users.update(user.id, password_hash=hash_password(password))
    request.state.user = user
    pending = deps.second_factor_required(user, config)
    target = deps.safe_next(next_path)
    if pending:
        target = ("/login/totp" if user.totp_enabled else "/account/totp") + deps.next_query(target)
    response = deps.redirect(target)
    _start_session(request, response, user, second_factor_done=not pending)
    response.delete_cookie(deps.LOGIN_CSRF_COOKIE, path="/login")
    deps.audit(request, "sign-in", f"user:{user.id}", detail="password ok, second factor next" if pending else "")
    return response


# --- second factor -------------------------------------------------------------------------------------------


@router.get("/login/totp")
def totp_page(
    request: Request, next_path: str = Query("/", alias="next"), user: User = Depends(deps.session_user)
) -> Response:
    """Ask for the authenticator code."""
    who = request.state.signed_in
    if not deps.second_factor_pending(request, who):
        return deps.redirect(deps.safe_next(next_path))
    if not user.totp_enabled:
        return deps.redirect("/account/totp" + deps.next_query(next_path))
    return deps.render_page(request, "login_totp.html", {"next": deps.safe_next(next_path), "error": ""})


@router.post("/login/totp", dependencies=[Depends(deps.csrf_session)])
def totp_submit(
    request: Request,
    code: str = Form(""),
    next_path: str = Form("/", alias="next"),
    user: User = Depends(deps.session_user),
) -> Response:
    """Check the code; on success the session is replaced by a complete one."""
    db = deps.store(request)
    if not deps.second_factor_pending(request, request.state.signed_in):
        return deps.redirect(deps.safe_next(next_path))
    context = {"next": deps.safe_next(next_path)}
    if message := _rate_limited(request, user.username):
        deps.audit(request, "sign-in-totp", f"user:{user.id}", outcome="denied", detail="rate limited")
        return deps.render_page(request, "login_totp.html", {**context, "error": message}, status_code=429)
    secret = db.users.totp_secret(user.id)
    if secret is None:
        return deps.redirect("/account/totp" + deps.next_query(next_path))
    if not verify_totp(secret, code):
        db.users.record_login_failure(user.username, deps.client_ip(request))
        deps.audit(request, "sign-in-totp", f"user:{user.id}", outcome="failed", detail="wrong code")
        error = "That code is not right. Enter the 6-digit code your authenticator app shows now."
        return deps.render_page(request, "login_totp.html", {**context, "error": error}, status_code=401)
    response = deps.redirect(deps.safe_next(next_path))
    _start_session(request, response, user, second_factor_done=True)
    deps.audit(request, "sign-in-totp", f"user:{user.id}")
    return response


@router.post("/logout", dependencies=[Depends(deps.csrf_session)])
def logout(request: Request, user: User = Depends(deps.session_user)) -> Response:
    """End this session."""
    deps.store(request).users.delete_session(request.state.signed_in.token)
    deps.audit(request, "sign-out", f"user:{user.id}")
    response = deps.redirect("/login")
    deps.clear_session_cookie(response, deps.settings(request))
    return response


# --- account -----------------------------------------------------------------------------------------------


def _account(request: Request, *, notice: str = "", error: str = "", status_code: int = 200) -> Response:
    context = {"notice": notice, "error": error, "min_length": MIN_PASSWORD_LENGTH}
    return deps.render_page(request, "account.html", context, status_code=status_code)


@router.get("/account")
def account(request: Request, notice: str = "", user: User = Depends(deps.current_user)) -> Response:
    """The user's own account: details, password change, authenticator enrolment."""
    return _account(request, notice=_NOTICES.get(notice, ""))


@router.post("/account/password", dependencies=[Depends(deps.csrf)])
def change_password(
    request: Request,
    current_password: str = Form(""),
    new_password: str = Form(""),
    confirm_password: str = Form(""),
    user: User = Depends(deps.current_user),
) -> Response:
    """Change the password after checking the current one; every other session of the user ends."""
    db = deps.store(request)
    if message := _rate_limited(request, user.username):
        deps.audit(request, "password-change", f"user:{user.id}", outcome="denied", detail="rate limited")
        return _account(request, error=message, status_code=429)
    found = db.users.find(user.username)
    if found is None or not verify_password(found[1], current_password):
        db.users.record_login_failure(user.username, deps.client_ip(request))
        deps.audit(request, "password-change", f"user:{user.id}", outcome="failed", detail="wrong current password")
        return _account(request, error="Your current password is not right.", status_code=400)
    if new_password != confirm_password:
        return _account(request, error="The new password and its confirmation differ.", status_code=400)
    if new_password == current_password:
        return _account(request, error="Choose a new password different from the current one.", status_code=400)
    try:
        new_hash = hash_password(new_password)
    except ValueError as exc:
        return _account(request, error=f"Choose a longer password: {exc}.", status_code=400)
    db.users.update(user.id, password_hash=new_hash)
    db.users.delete_user_sessions(user.id)
    response = deps.redirect("/account?notice=password")
    _start_session(request, response, user, second_factor_done=True)
    deps.audit(request, "password-change", f"user:{user.id}")
    return response


def _enrol_page(
    request: Request, user: User, secret: str, next_path: str, *, error: str = "", status_code: int = 200
) -> Response:
    context = {
        "secret": secret,
        "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "uri": totp_uri(secret, user.username),
        "next": deps.safe_next(next_path),
        "error": error,
        "enrolled": False,
        "pending": deps.second_factor_pending(request, request.state.signed_in),
    }
    return deps.render_page(request, "account_totp.html", context, status_code=status_code)


@router.get("/account/totp")
def totp_enrol_page(
    request: Request, next_path: str = Query("/", alias="next"), user: User = Depends(deps.session_user)
) -> Response:
    """Show a new TOTP secret (text and otpauth URI) to add to an authenticator app, with a code to confirm."""
    pending = deps.second_factor_pending(request, request.state.signed_in)
    if user.totp_enabled:
        if pending:
            return deps.redirect("/login/totp" + deps.next_query(next_path))
        context = {"enrolled": True, "pending": False, "error": "", "next": "/"}
        return deps.render_page(request, "account_totp.html", context)
    return _enrol_page(request, user, new_totp_secret(), next_path)


@router.post("/account/totp", dependencies=[Depends(deps.csrf_session)])
def totp_enrol(
    request: Request,
    secret: str = Form(""),
    code: str = Form(""),
    next_path: str = Form("/", alias="next"),
    user: User = Depends(deps.session_user),
) -> Response:
    """Enrol the secret once the user proves their app has it; completes a sign-in that was waiting for it."""
    db = deps.store(request)
    pending = deps.second_factor_pending(request, request.state.signed_in)
    if user.totp_enabled:
        return deps.redirect(("/login/totp" + deps.next_query(next_path)) if pending else "/account/totp")
    if not _BASE32.match(secret):
        return _enrol_page(request, user, new_totp_secret(), next_path, error="Start again with this new secret.")
    if message := _rate_limited(request, user.username):
        deps.audit(request, "totp-enrol", f"user:{user.id}", outcome="denied", detail="rate limited")
        return _enrol_page(request, user, secret, next_path, error=message, status_code=429)
    if not verify_totp(secret, code):
        db.users.record_login_failure(user.username, deps.client_ip(request))
        deps.audit(request, "totp-enrol", f"user:{user.id}", outcome="failed", detail="wrong code")
        error = "That code does not match. Check the secret was entered correctly and type the current code."
        return _enrol_page(request, user, secret, next_path, error=error, status_code=400)
    db.users.set_totp_secret(user.id, secret)
    response = deps.redirect(deps.safe_next(next_path) if pending else "/account?notice=totp")
    if pending:
        _start_session(request, response, user, second_factor_done=True)
    deps.audit(request, "totp-enrol", f"user:{user.id}")
    return response
