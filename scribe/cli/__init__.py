"""`scribe`: the command line. Each area registers its commands from its own module."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from scribe.errors import ScribeError


class _Root(TyperGroup):
    """The root group: any ScribeError becomes one line on stderr and its exit code, never a traceback.

    Click (standalone mode) already handles usage errors (exit 2) and Ctrl-C. Handling the error
    here rather than around ``app()`` gives tests that invoke the app in-process the same outcome
    as a user at a terminal.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ScribeError as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            ctx.exit(exc.exit_code)


def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@functools.cache
def cli_app() -> typer.Typer:
    """The ``scribe`` app with every area's commands registered (built once per process)."""
    from scribe.cli import admin, evaluate, export, models, monitor, note, record, serve, transcribe, transparency

    app = typer.Typer(
        name="scribe",
        help="Ambient voice documentation for clinicians, entirely on this machine.",
        cls=_Root,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(_root)
    for module in (transcribe, record, note, serve, export, evaluate, monitor, transparency, admin, models):
        module.register(app)
    return app


def main() -> None:
    """Entry point of the ``scribe`` console script and ``python -m scribe``."""
    cli_app()()
