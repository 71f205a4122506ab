"""The review app: FastAPI with server-rendered Jinja2 pages and htmx, no build step.

``create_app`` wires the store, templates, security headers, routers, error pages and (unless
``worker=False``) the background job runner. ``scribe serve`` runs it with uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from scribe.config import Settings
from scribe.errors import KeyMissingError, NotFoundError, StateError, TamperedError
from scribe.notes.render import LETTER_TITLES
from scribe.review import deps
from scribe.review.routes import routers
from scribe.review.security import SecurityHeadersMiddleware
from scribe.store.retention import apply_retention
from scribe.store.store import Store

if TYPE_CHECKING:
    from scribe.review.jobs import JobRunner

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

_TITLES = {
    400: "Something in the form needs fixing",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible now",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
}


def create_app(settings: Settings, store: Store | None = None, *, worker: bool = True) -> FastAPI:
    """The review app over ``store`` (opened from ``settings`` when not given, and then closed at shutdown).

    With ``worker`` the background JobRunner (transcription, drafting, letters, hourly retention)
    runs for the app's lifetime; tests pass ``worker=False`` and drive jobs themselves.
    """
    owns_store = store is None
    if store is None:
        from scribe.store import open_store

        store = open_store(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(apply_retention, store, settings)
        if worker:
            app.state.runner = _start_runner(store, settings)
        try:
            yield
        finally:
            if app.state.runner is not None:
                await asyncio.to_thread(app.state.runner.stop)  # finishes the job in hand
                app.state.runner = None
            if owns_store:
                store.close()

    app = FastAPI(title="scribe review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.templates = make_templates()
    app.state.runner = None
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in routers():
        app.include_router(router)
    _install_error_pages(app)
    return app


def make_templates() -> Jinja2Templates:
    """Jinja2 templates from scribe/review/templates with autoescaping on, the app's filters and the letter titles."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_when
    env.globals["letter_titles"] = {kind.value: title for kind, title in LETTER_TITLES.items()}
    return Jinja2Templates(env=env)


def format_when(value: datetime | None, empty: str = "") -> str:
    """A timestamp in the server's local time, e.g. '3 May 2025, 14:05'."""
    if value is None:
        return empty
    local = value.astimezone()
    return f"{local.day} {local:%b %Y, %H:%M}"


def _start_runner(store: Store, settings: Settings) -> JobRunner:
    """The background worker, started; imported here so an app without one never loads the speech and model stack."""
    from scribe.review.jobs import JobRunner

    runner = JobRunner(store, settings)
    runner.start()
    return runner


# --- errors ------------------------------------------------------------------------------------------


def _json_client(request: Request) -> bool:
    """A fetch that asked for JSON and not HTML."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _wants_page(request: Request) -> bool:
    """A browser navigation (not htmx, not a JSON client)."""
    return not _json_client(request) and not deps.is_htmx(request)


def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if _json_client(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    try:
        who = deps.signed_in(request) if getattr(request.state, "user", None) is None else None
        if who is not None and not deps.second_factor_pending(request, who):
            request.state.user = who.user
    except Exception:  # an error page must render even when the store is the problem
        logger.debug("no session for the error page", exc_info=True)
    context = {"status": status, "title": _TITLES.get(status, "Error"), "message": message}
    return deps.render_page(request, "error.html", context, status_code=status, headers=headers)


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(deps.SignInRequired)
    async def sign_in_required(request: Request, exc: deps.SignInRequired) -> Response:
        if request.method in ("GET", "HEAD") and _wants_page(request):
            return deps.redirect(exc.location)
        headers = {"HX-Redirect": exc.location} if deps.is_htmx(request) else None
        return _error(request, 401, "Your session has ended or you are not signed in. Please sign in.", headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = "There is no page at this address. Check the link, or start from the consultation list."
        return _error(request, exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        what = f" ({', '.join(fields)})" if fields else ""
        return _error(request, 400, f"Some of what was sent is missing or not valid{what}. Go back and check the form.")

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(StateError)
    async def wrong_state(request: Request, exc: StateError) -> Response:
        return _error(request, 409, str(exc))

    @app.exception_handler(TamperedError)
    async def tampered(request: Request, exc: TamperedError) -> Response:
        logger.error("store integrity check failed: %s", exc)
        deps.audit(request, "integrity", request.url.path, outcome="failed", detail=str(exc)[:200])
        return _error(request, 500, f"{exc} Tell your administrator; the record was not shown.")

    @app.exception_handler(KeyMissingError)
    async def key_missing(request: Request, exc: KeyMissingError) -> Response:
        logger.error("store key problem: %s", exc)
        return _error(request, 500, f"{exc} Tell your administrator.")
