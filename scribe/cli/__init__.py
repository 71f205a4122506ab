"""`scribe`: the command line. Each area registers its commands from its own module."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from scribe.errors import ScribeError

app = typer.Typer(
    name="scribe",
    help="Ambient voice documentation for clinicians, entirely on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

stderr = Console(stderr=True)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _register() -> None:
    from scribe.cli import admin, evaluate, export, models, monitor, note, record, serve, transcribe, transparency

    for module in (transcribe, record, note, serve, export, evaluate, monitor, transparency, admin, models):
        module.register(app)


def main() -> None:
    """Entry point: run the app, turning any ScribeError into one line on stderr and its exit code.

    Click (standalone mode) already handles usage errors (exit 2) and Ctrl-C.
    """
    _register()
    try:
        app()
    except ScribeError as exc:
        stderr.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
