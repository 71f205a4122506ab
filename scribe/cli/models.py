"""`scribe models`: list the catalogue, verify checksums, print a model's folder."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from scribe import catalogue
from scribe.catalogue import Availability
from scribe.config import load_settings
from scribe.errors import ModelError

models_app = typer.Typer(help="The embedded models: list, verify, locate.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``models`` commands to the root app."""
    app.add_typer(models_app, name="models")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    raise AssertionError


@models_app.command("list")
def list_models() -> None:
    """Show every catalogue model: kind, size, licence, whether it is installed and the default."""
    settings = load_settings()
    path = catalogue.catalogue_path(settings)
    entries = catalogue.load_catalogue(path).models
    table = Table(title="scribe models", caption=f"catalogue {path}; cache {settings.model_cache}")
    for column in ("name", "kind", "size", "licence", "installed", "default"):
        table.add_column(column, justify="right" if column == "size" else "left", no_wrap=column != "installed")
    problems = []
    for entry in entries:
        state = catalogue.status(entry, settings)
        installed = {
            Availability.READY: "[green]yes[/]",
            Availability.TO_JOIN: "[yellow]yes, joined on first use[/]",
            Availability.MISSING: "[red]no[/]",
        }[state.availability]
        if state.availability is Availability.MISSING:
            problems.append(f"{entry.name}: {state.detail}")
        default = "yes" if state.default else ""
        table.add_row(entry.name, entry.kind, _size(entry.size), entry.licence, installed, default)
    console = Console()
    console.print(table)
    for problem in problems:
        console.print(f"[red]✗[/] {problem}", highlight=False, soft_wrap=True)


@models_app.command("verify")
def verify_models(
    names: list[str] | None = typer.Argument(None, help="Catalogue names; default: every model."),  # noqa: B008
) -> None:
    """Re-hash every package file, part and joined file; exit non-zero when any check fails."""
    settings = load_settings()
    wanted = names or catalogue.load_catalogue(catalogue.catalogue_path(settings)).names
    console = Console()
    failed = 0
    for name in wanted:
        for check in catalogue.verify(name, settings):
            mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
            failed += not check.ok
            detail = f" ({check.detail})" if check.detail else ""
            console.print(
                f"{mark} {check.model} {check.file}: {check.status.value} — {check.location}{detail}",
                highlight=False,
                soft_wrap=True,
            )
    if failed:  # the CLI turns this into one line on stderr and exit code 5
        raise ModelError(f"{failed} model check(s) failed; follow the advice on each line above")
    console.print("all checks passed", highlight=False)


@models_app.command("path")
def model_path(
    name: str | None = typer.Argument(None, help="Catalogue name or CTranslate2 folder; default: the ASR model."),
) -> None:
    """Print the folder holding the model, joining its parts into the cache first if needed."""
    settings = load_settings()
    typer.echo(str(catalogue.resolve(name or settings.asr_model, settings)))
