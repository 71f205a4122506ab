"""`scribe serve`: the clinician review web app on this machine (127.0.0.1 by default)."""

from __future__ import annotations

import ipaddress
import logging

import typer
from rich.console import Console

from scribe.config import load_settings

logger = logging.getLogger(__name__)
stderr = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or 'localhost' (anything else is reachable from the network)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str | None = typer.Option(None, "--host", help="Address to bind (default: the configured one, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port (default: the configured one, 8400)."),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Serve pages only; do not transcribe or draft in the background."
    ),
) -> None:
    """Serve the review app: sign in, record or upload, review, correct, approve and export notes."""
    import uvicorn

    from scribe.review.app import create_app
    from scribe.store import open_store

    settings = load_settings(host=host, port=port)
    if not is_loopback(settings.host):
        stderr.print(
            f"[bold yellow]warning:[/] binding {settings.host}: the app is reachable from the network. "
            "Serve it only behind TLS (set SCRIBE_COOKIE_SECURE=true) on a network you trust.",
            highlight=False,
        )
    store = open_store(settings)  # KeyMissingError (exit 9) names the variables and `scribe store init-key`
    try:
        app = create_app(settings, store, worker=not no_worker)
        stderr.print(f"scribe review app on http://{settings.host}:{settings.port}/ (Ctrl-C to stop)", highlight=False)
        uvicorn.run(app, host=settings.host, port=settings.port, server_header=False, log_level="info")
    finally:
        store.close()
