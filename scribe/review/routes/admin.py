"""Administration: users (add, disable/enable, reset or require TOTP, set a password) and the audit log.

Admins only (403, audited, for anyone else). Every change is audited, and so is each view of the
audit log. The log is read-only here: the app has no way to edit or delete events.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response

from scribe.errors import StateError
from scribe.review import deps
from scribe.rows import Role, User
from scribe.store.accounts import MIN_PASSWORD_LENGTH, hash_password

router = APIRouter(prefix="/admin")

PAGE_SIZE = 50
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
_NOTICES = {
    "added": "User added.",
    "disabled": "User disabled and signed out everywhere.",
    "enabled": "User enabled.",
    "totp-reset": "Authenticator removed; the user enrols a new one at their next sign-in (if required).",
    "totp-required": "Sign-in for this user now needs an authenticator code.",
    "totp-optional": "An authenticator code is now optional for this user.",
    "password": "Password set; the user's sessions were ended.",
}


def _users_page(request: Request, *, notice: str = "", error: str = "", form: dict | None = None, status_code=200):
    context = {
        "users": deps.store(request).users.list_all(),
        "roles": list(Role),
        "notice": notice,
        "error": error,
        "form": form or {"username": "", "full_name": "", "role": Role.CLINICIAN.value, "totp_required": False},
        "min_length": MIN_PASSWORD_LENGTH,
    }
    return deps.render_page(request, "admin/users.html", context, status_code=status_code)


@router.get("/users")
def users(request: Request, notice: str = "", admin: User = Depends(deps.admin_user)) -> Response:
    """Every user, with the actions an admin can take, and the form to add one."""
    deps.audit(request, "view", "users")
    return _users_page(request, notice=_NOTICES.get(notice, ""))


@router.post("/users", dependencies=[Depends(deps.csrf)])
def add_user(
    request: Request,
    username: str = Form(""),
    full_name: str = Form(""),
    role: str = Form(Role.CLINICIAN.value),
    password: str = Form(""),
    totp_required: bool = Form(False),
    admin: User = Depends(deps.admin_user),
) -> Response:
    """Add a user with an initial password (admins always need TOTP)."""
    username, full_name = username.strip(), " ".join(full_name.split())
    form = {"username": username, "full_name": full_name, "role": role, "totp_required": totp_required}
    error = ""
    if not _USERNAME.match(username):
        error = "Usernames are 2 to 64 letters, digits or . _ @ - and start with a letter or digit."
    elif not full_name:
        error = "Give the person's full name; approvals are attested with it."
    elif role not in {r.value for r in Role}:
        error = "Choose a role: clinician, admin or integrator."
    if error:
        return _users_page(request, error=error, form=form, status_code=400)
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        return _users_page(request, error=f"Choose a longer initial password: {exc}.", form=form, status_code=400)
    try:
        user = deps.store(request).users.create(
            username, full_name, Role(role), password_hash, totp_required=totp_required or role == Role.ADMIN
        )
    except StateError:
        error = f"The username {username!r} is taken. Choose another."
        return _users_page(request, error=error, form=form, status_code=409)
    deps.audit(request, "user-add", f"user:{user.id}", detail=f"role {user.role}")
    return deps.redirect("/admin/users?notice=added")


def _target(request: Request, user_id: int) -> User:
    return deps.store(request).users.get(user_id)  # NotFoundError -> 404 page


@router.post("/users/{user_id}/active", dependencies=[Depends(deps.csrf)])
def set_active(
    request: Request, user_id: int, active: bool = Form(...), admin: User = Depends(deps.admin_user)
) -> Response:
    """Disable (and sign out everywhere) or re-enable a user."""
    target = _target(request, user_id)
    if target.id == admin.id and not active:
        raise HTTPException(409, "You cannot disable your own account; ask another administrator.")
    db = deps.store(request)
    db.users.update(target.id, active=active)
    if not active:
        db.users.delete_user_sessions(target.id)
    deps.audit(request, "user-enable" if active else "user-disable", f"user:{target.id}")
    return deps.redirect(f"/admin/users?notice={'enabled' if active else 'disabled'}")


@router.post("/users/{user_id}/reset-totp", dependencies=[Depends(deps.csrf)])
def reset_totp(request: Request, user_id: int, admin: User = Depends(deps.admin_user)) -> Response:
    """Remove the user's authenticator (lost phone); their sessions end."""
    target = _target(request, user_id)
    db = deps.store(request)
    db.users.set_totp_secret(target.id, None)
    db.users.delete_user_sessions(target.id)
    deps.audit(request, "totp-reset", f"user:{target.id}")
    return deps.redirect("/admin/users?notice=totp-reset")


@router.post("/users/{user_id}/totp-required", dependencies=[Depends(deps.csrf)])
def require_totp(
    request: Request, user_id: int, required: bool = Form(...), admin: User = Depends(deps.admin_user)
) -> Response:
    """Require (or stop requiring) a TOTP code at this user's sign-in; admins always need one."""
    target = _target(request, user_id)
    if target.role == Role.ADMIN and not required:
        raise HTTPException(409, "Administrators always sign in with an authenticator code.")
    deps.store(request).users.update(target.id, totp_required=required)
    deps.audit(request, "totp-require" if required else "totp-optional", f"user:{target.id}")
    return deps.redirect(f"/admin/users?notice={'totp-required' if required else 'totp-optional'}")


@router.post("/users/{user_id}/password", dependencies=[Depends(deps.csrf)])
def set_password(
    request: Request, user_id: int, password: str = Form(""), admin: User = Depends(deps.admin_user)
) -> Response:
    """Set a new password for a user who lost theirs; their sessions end."""
    target = _target(request, user_id)
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        return _users_page(request, error=f"Choose a longer password: {exc}.", status_code=400)
    db = deps.store(request)
    db.users.update(target.id, password_hash=password_hash)
    db.users.delete_user_sessions(target.id)
    deps.audit(request, "password-reset", f"user:{target.id}")
    return deps.redirect("/admin/users?notice=password")


# --- audit log ------------------------------------------------------------------------------------------------


def parse_when(value: str, *, end_of_day: bool = False) -> datetime | None:
    """A date ('2025-05-03') or local date and time ('2025-05-03T14:05') from the filter form, as aware local time.

    A bare date in ``until`` means the end of that day. Raises ValueError for anything else.
    """
    value = value.strip()
    if not value:
        return None
    if len(value) == 10:
        day = datetime.fromisoformat(value).date()
        moment = datetime.combine(day + timedelta(days=1), time()) if end_of_day else datetime.combine(day, time())
    else:
        moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.astimezone()


@router.get("/audit")
def audit_log(
    request: Request,
    user: str = "",
    action: str = "",
    target: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    verify: bool = False,
    admin: User = Depends(deps.admin_user),
) -> Response:
    """The audit log, newest first, filtered and paginated; read-only. Viewing it is itself audited.

    ``user`` is a username (or a user id); ``target`` matches exactly, or as a prefix ending in '*'.
    """
    filters = {"user": user.strip(), "action": action.strip(), "target": target.strip(), "since": since, "until": until}
    page = max(1, min(page, 1000))
    error = ""
    try:
        since_at, until_at = parse_when(since), parse_when(until, end_of_day=True)
    except ValueError:
        since_at = until_at = None
        error = "Dates are YYYY-MM-DD, optionally with a time (YYYY-MM-DDTHH:MM). Showing the log without them."
    db = deps.store(request)
    events = db.audit.events(
        user=filters["user"] or None,
        action=filters["action"] or None,
        target=filters["target"] or None,
        since=since_at,
        until=until_at,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    shown = events[:PAGE_SIZE]
    query = {k: v for k, v in filters.items() if v}
    context = {
        "events": shown,
        "filters": filters,
        "page": page,
        "error": error,
        "newer": f"?{urlencode({**query, 'page': page - 1})}" if page > 1 else "",
        "older": f"?{urlencode({**query, 'page': page + 1})}" if len(events) > PAGE_SIZE else "",
        "verified": db.audit.verify() if verify else None,
    }
    deps.audit(request, "view", "audit-log", detail="verify" if verify else "")
    return deps.render_page(request, "admin/audit.html", context)
