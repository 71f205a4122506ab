"""`scribe export`: an approved note from the store as a FHIR R4 Bundle, to a file or to the EPR's FHIR server."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from scribe.cli.admin import actor_name
from scribe.config import load_settings
from scribe.export.fhir import Actor, fhir_bundle, record_export, send_approved
from scribe.fileio import write_text_atomic
from scribe.store import open_store

console = Console(stderr=True)


class BundleChoice(StrEnum):
    """The two Bundles scribe builds."""

    document = "document"
    transaction = "transaction"


def register(app: typer.Typer) -> None:
    """Add ``export`` to the root app."""
    app.command("export")(export_command)


def export_command(
    consultation: str = typer.Argument(..., help="Consultation id (as the review app and `scribe audit` show it)."),
    bundle: BundleChoice | None = typer.Option(
        None,
        "--bundle",
        help="document (a signed-off FHIR document) or transaction (conditional writes an EPR stores). "
        "Default: transaction with --to, document otherwise.",
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the Bundle JSON here ('-' for stdout)."),
    to: str | None = typer.Option(
        None,
        "--to",
        metavar="FHIR_BASE_URL",
        help="Send it to this FHIR R4 server (auth, timeout and retries from SCRIBE_FHIR_* settings).",
    ),
    version: int | None = typer.Option(
        None, "--version", min=1, help="An earlier approved version (default: current)."
    ),
) -> None:
    """Export an approved note as a FHIR R4 Bundle (UK Core): to a file, stdout, or an EPR's FHIR server.

    Only a clinician-approved note leaves: anything else is refused (exit 9).

    Sending retries timeouts, 429 and 5xx with backoff; a refusal or no answer exits 10.

    A re-send updates what the first one stored, never duplicates it: an interrupted export can be run again.

    Every attempt is recorded with the consultation and in the audit log.
    """
    kind = (bundle or (BundleChoice.transaction if to else BundleChoice.document)).value
    settings = load_settings()
    store = open_store(settings)
    actor = Actor(user_id=None, username=actor_name())
    try:
        if to is None or output is not None:
            note, built = fhir_bundle(store, consultation, kind, settings, version=version)
            text = json.dumps(built, indent=2, ensure_ascii=False) + "\n"
            if output is None or str(output) == "-":
                sys.stdout.write(text)
                destination = "stdout"
            else:
                write_text_atomic(output, text)
                destination = "file"
                console.print(f"wrote the {kind} Bundle of version {note.version} to {output}", highlight=False)
            record_export(store, note, f"fhir-{kind}", actor, destination=destination)
        if to is not None:
            delivery = send_approved(store, consultation, settings, actor, kind=kind, base_url=to, version=version)
            tries = f" after {delivery.attempts} tries" if delivery.attempts > 1 else ""
            console.print(
                f"[green]✓[/] sent the {kind} Bundle to {to}{tries}: HTTP {delivery.status}, "
                f"{delivery.created} of {len(delivery.locations)} resources created "
                f"({len(delivery.locations) - delivery.created} already there, updated)",
                highlight=False,
            )
    finally:
        store.close()
