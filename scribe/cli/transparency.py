"""`scribe transparency`: the deployment's ATRS record and model card, for a trust to complete and publish."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from scribe.config import load_settings

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``transparency`` to the root app."""
    app.command("transparency")(transparency_command)


def transparency_command(
    evaluation: Path | None = typer.Option(
        None, "--evaluation", metavar="RUN.json", help="An evaluation run from `scribe evaluate`: its headline numbers."
    ),
    out: Path = typer.Option(Path("transparency"), "--out", metavar="DIR", help="Folder for the three files."),
    organisation: str | None = typer.Option(
        None, "--organisation", help="Organisation named in the record (default SCRIBE_TRANSPARENCY_ORGANISATION)."
    ),
) -> None:
    """Write the UK Algorithmic Transparency Recording Standard record (atrs.json, atrs.md) and a model card.

    Filled from this deployment's settings, model catalogue and, with --evaluation, measured results. Fields
    only the organisation can know are marked TO BE COMPLETED BY THE DEPLOYING ORGANISATION.

    A missing or malformed evaluation file exits 2.
    """
    from scribe.evaluate.transparency import TO_COMPLETE, write_transparency  # not loaded for other commands

    settings = load_settings()
    paths = write_transparency(settings, out, evaluation=evaluation, organisation=organisation)
    for path in paths:
        console.print(f"wrote {path}", highlight=False)
    record = json.loads((out / "atrs.json").read_text(encoding="utf-8"))
    todo = len(record["metadata"]["fields_to_complete"])
    if todo:
        console.print(
            f"{todo} fields of atrs.json are marked '{TO_COMPLETE}': complete them before publishing "
            "(see docs/transparency.md)",
            highlight=False,
        )
