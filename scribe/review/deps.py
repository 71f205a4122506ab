"""FastAPI dependencies and helpers every page uses: the store, the signed-in user, CSRF, audit, rendering.

Usage in a router::

    @router.post("/consultations/{cid}/approve", dependencies=[Depends(deps.csrf)])
    def approve(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
        c = deps.consultation(request, cid, "approve")  # 404, or 403 (audited) without the right
        ...
        deps.audit(request, "approve", deps.target(cid))
        return deps.redirect(f"/consultations/{cid}")

``csrf`` itself depends on ``current_user``, so an unsigned request gets 401 (or the sign-in page)
before any CSRF check, and the user is on ``request.state.user`` for auditing.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from scribe.config import Settings
from scribe.errors import NotFoundError
from scribe.review import policy
from scribe.rows import AuditEvent, Consultation, Job, JobKind, Role, User
from scribe.store.store import Session, Store

if TYPE_CHECKING:
    from scribe.review.jobs import JobRunner

logger = logging.getLogger(__name__)

SESSION_COOKIE = "scribe_session"
LOGIN_CSRF_COOKIE = "scribe_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SPEAKER_LABELS = {"clinician": "Clinician", "patient": "Patient", "unknown": "Speaker"}
"""How transcript speakers are named on the live transcript and the review page."""
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NO_SESSION = object()


class SignInRequired(Exception):
    """The request needs a (complete) sign-in; ``location`` is the page that provides it."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass(frozen=True)
class SignedIn:
    """The browser's session: its cookie token, the stored session and its user."""

    token: str
    session: Session
    user: User


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    current: bool


# --- app state -------------------------------------------------------------------------------------


def store(request: Request) -> Store:
    """The app's Store."""
    return request.app.state.store


def settings(request: Request) -> Settings:
    """The app's Settings."""
    return request.app.state.settings


def templates(request: Request) -> Jinja2Templates:
    """The app's Jinja2 templates (autoescaping on)."""
    return request.app.state.templates


def runner(request: Request) -> JobRunner | None:
    """The app's JobRunner, or None when the app runs without a worker (tests, `scribe serve --no-worker`)."""
    return getattr(request.app.state, "runner", None)


def enqueuer(request: Request) -> Callable[[str, JobKind], Job]:
    """How this app queues a background job: the worker's ``submit``, which wakes it, when the app runs one;
    else the store's queue, where a later worker picks the job up."""
    worker = runner(request)
    return worker.submit if worker is not None else store(request).jobs.enqueue


def client_ip(request: Request) -> str:
    """The peer address. Proxy headers are not trusted: the app binds loopback or sits behind a known proxy."""
    return request.client.host if request.client else ""


# --- sessions --------------------------------------------------------------------------------------


def second_factor_required(user: User, config: Settings) -> bool:
    """Whether ``user`` must give a TOTP code at sign-in: always for admins, when asked, or for all by setting."""
    return user.role == Role.ADMIN or user.totp_required or config.totp_for_all


def signed_in(request: Request) -> SignedIn | None:
    """The request's session and user, complete or waiting for a second factor; None without one.

    Looked up once per request. Sessions of disabled or deleted users are removed on sight.
    """
    cached = getattr(request.state, "signed_in", _NO_SESSION)
    if cached is not _NO_SESSION:
        return cached  # type: ignore[return-value]
    result: SignedIn | None = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        db = store(request)
        session = db.users.get_session(token)
        if session is not None:
            try:
                user = db.users.get(session.user_id)
            except NotFoundError:
                user = None
            if user is None or not user.active:
                db.users.delete_session(token)
            else:
                result = SignedIn(token, session, user)
    request.state.signed_in = result
    return result


def second_factor_pending(request: Request, who: SignedIn) -> bool:
    """Whether this session still owes a second factor (or TOTP enrolment) before it may do anything else."""
    return not who.session.second_factor_done and second_factor_required(who.user, settings(request))


def _here(request: Request) -> str:
    """The page to come back to after signing in: this page, or for htmx the page the fragment was for."""
    if is_htmx(request):
        current = urlsplit(request.headers.get("hx-current-url", "/"))
        return f"{current.path}?{current.query}" if current.query else current.path or "/"
    if request.method not in ("GET", "HEAD"):
        return "/"
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else '/': sign-in never redirects off-site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 for c in target):
        return "/"
    return target


def next_query(target: str) -> str:
    """``?next=...`` for a redirect to a sign-in page (empty for the home page)."""
    target = safe_next(target)
    return "" if target == "/" else f"?next={quote(target, safe='/')}"


def current_user(request: Request) -> User:
    """The fully signed-in user (second factor given where required); puts it on ``request.state.user``.

    Without a session: HTML page requests are redirected (303) to /login?next=<path>; POSTs, htmx and
    JSON requests get 401. A session that still owes its second factor goes to /login/totp instead, or
    to TOTP enrolment (/account/totp) when the user has none enrolled yet.
    """
    who = signed_in(request)
    if who is None:
        raise SignInRequired(f"/login{next_query(_here(request))}")
    if second_factor_pending(request, who):
        page = "/login/totp" if who.user.totp_enabled else "/account/totp"
        raise SignInRequired(f"{page}{next_query(_here(request))}")
    request.state.user = who.user
    return who.user


def session_user(request: Request) -> User:
    """The user of any session, including one that still owes its second factor (for sign-in and enrolment)."""
    who = signed_in(request)
    if who is None:
        raise SignInRequired(f"/login{next_query(_here(request))}")
    request.state.user = who.user
    return who.user


def admin_user(request: Request, user: User = Depends(current_user)) -> User:
    """The signed-in user if an admin; 403 (audited) otherwise."""
    if user.role != Role.ADMIN:
        audit(request, "admin", request.url.path, outcome="denied")
        raise HTTPException(403, "Only administrators can open this page.")
    return user


# --- CSRF ------------------------------------------------------------------------------------------


async def _check_csrf(request: Request, expected: str | None) -> None:
    supplied: Any = request.headers.get(CSRF_HEADER)
    if supplied is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        supplied = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(supplied, str) or not hmac.compare_digest(supplied, expected):
        audit(request, "csrf", request.url.path, outcome="denied", detail="missing" if not supplied else "mismatch")
        raise HTTPException(403, "This form has expired or did not come from this site. Reload the page and try again.")


async def csrf(request: Request, user: User = Depends(current_user)) -> None:
    """Refuse (403, audited) an unsafe request whose CSRF token does not match the session's.

    The token comes from the 'X-CSRF-Token' header (htmx and fetch; app.js sets it) or the form
    field 'csrf_token'. The header is checked first, so a large upload that sends it is not parsed here.
    """
    await _check_csrf(request, request.state.signed_in.session.csrf_token)


async def csrf_session(request: Request, user: User = Depends(session_user)) -> None:
    """As :func:`csrf`, for the pages a session may use before its second factor (TOTP, enrolment)."""
    await _check_csrf(request, request.state.signed_in.session.csrf_token)


async def csrf_login(request: Request) -> None:
    """As :func:`csrf`, for the sign-in form: a double-submit token from the sign-in page's own cookie."""
    await _check_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE))


def new_login_csrf() -> str:
    """A fresh token for the sign-in form's cookie."""
    return secrets.token_urlsafe(32)


def set_session_cookie(response: Response, token: str, config: Settings) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when configured, for ``session_hours``."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(config.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=config.cookie_secure,
    )


def clear_session_cookie(response: Response, config: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=config.cookie_secure)


# --- audit and authorisation -------------------------------------------------------------------------


def audit(request: Request, action: str, target: str = "", outcome: str = "ok", detail: str = "") -> AuditEvent:
    """Write an audit event for this request: the signed-in user (if any), the peer address, what and how.

    Never pass patient data in ``target`` or ``detail``: ids, actions and outcomes only.
    """
    user: User | None = getattr(request.state, "user", None)
    if user is None and (who := getattr(request.state, "signed_in", None)) is not None:
        user = who.user
    username = user.username if user else getattr(request.state, "username", "")
    event = AuditEvent(
        user_id=user.id if user else None,
        username=username,
        action=action,
        target=target,
        ip=client_ip(request),
        outcome=outcome,
        detail=detail,
    )
    return store(request).audit.record(event)


def allowed(request: Request, action: str, consultation: Consultation) -> bool:
    """Whether the signed-in user may do ``action`` on ``consultation`` (no audit; for showing buttons)."""
    user: User = request.state.user
    return policy.allowed(user, action, consultation, _granted(request, consultation))


def _granted(request: Request, consultation: Consultation) -> list[int]:
    cache: dict[str, list[int]] | None = getattr(request.state, "granted", None)
    if cache is None:
        cache = request.state.granted = {}
    if consultation.id not in cache:
        cache[consultation.id] = store(request).consultations.granted(consultation.id)
    return cache[consultation.id]


def authorize(request: Request, action: str, consultation: Consultation) -> None:
    """Raise 403 (after auditing outcome 'denied') unless the signed-in user may do ``action`` (see policy.py)."""
    if not allowed(request, action, consultation):
        audit(request, action, target(consultation.id), outcome="denied")
        raise HTTPException(403, "You do not have access to this for that consultation. Ask its clinician to grant it.")


def target(cid: str) -> str:
    """The audit target of a consultation."""
    return f"consultation:{cid}"


def consultation(request: Request, cid: str, action: str) -> Consultation:
    """The consultation ``cid`` if the signed-in user may do ``action`` on it; 404 or 403 (audited) otherwise."""
    found = store(request).consultations.get(cid)
    authorize(request, action, found)
    return found


# --- requests and responses ----------------------------------------------------------------------------


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it wants a fragment, not a page)."""
    return "hx-request" in request.headers


def wants_json(request: Request) -> bool:
    """Whether the client asked for JSON (the recorder's fetch calls do)."""
    return "application/json" in request.headers.get("accept", "")


def redirect(url: str) -> RedirectResponse:
    """303 See Other to ``url``: after a form post the browser loads the page with GET."""
    return RedirectResponse(url, status_code=303)


def one_line(form: FormData, name: str) -> str:
    """A form field as one line of text: whitespace runs collapsed to one space, ends trimmed, '' when absent."""
    return " ".join(str(form.get(name, "")).split())


# --- rendering -----------------------------------------------------------------------------------------


def nav(request: Request, user: User | None) -> list[NavItem]:
    """The header's links for ``user`` (none before a complete sign-in)."""
    who = getattr(request.state, "signed_in", None)
    if user is None or who is None or second_factor_pending(request, who):
        return []
    path = request.url.path
    items = [("Consultations", "/", path == "/" or path.startswith("/consultations"))]
    if user.role == Role.ADMIN:
        items.append(("Admin", "/admin/users", path.startswith("/admin")))
    items.append(("Account", "/account", path.startswith("/account")))
    return [NavItem(label, href, current) for label, href, current in items]


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render ``template`` with ``user``, ``csrf_token`` and ``nav`` added to ``context``."""
    who: SignedIn | None = getattr(request.state, "signed_in", None)
    user: User | None = getattr(request.state, "user", None)
    token = getattr(request.state, "csrf_token", None) or (who.session.csrf_token if who else "")
    full = {"user": user, "csrf_token": token, "nav": nav(request, user), **(context or {})}
    return templates(request).TemplateResponse(request, template, full, status_code=status_code, headers=headers)
