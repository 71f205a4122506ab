"""What this deployment's settings say about where it runs and where data can go, in words for a public record."""

from __future__ import annotations

import importlib.metadata
from urllib.parse import urlsplit

from scribe.config import Settings


def host(url: str) -> str:
    """scheme://host[:port]/path without credentials or query, for a record anyone may read."""
    parts = urlsplit(url)
    name = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{name}{port}{parts.path}" if parts.scheme else url


def software_version() -> str:
    """scribe's installed version, or "unknown" when it is not installed as a package."""
    try:
        return importlib.metadata.version("scribe")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def store_location(settings: Settings) -> str:
    """Where the store keeps consultations, in words."""
    if settings.store_url:
        return "a PostgreSQL database the organisation runs (SCRIBE_STORE_URL)"
    return "a SQLite database in scribe's data folder on the machine"


def llm_leaves_machine(settings: Settings) -> bool:
    """True when drafting sends transcripts to a server on another machine."""
    name = urlsplit(settings.openai_base_url).hostname or ""
    return settings.llm_backend == "openai" and name not in {"127.0.0.1", "localhost", "::1"}


def audio_retention(settings: Settings) -> str:
    """When audio is deleted, in words."""
    hours = settings.audio_retention_hours
    return "at approval" if hours == 0 else f"{hours:g} hours after approval"


def outbound(settings: Settings) -> list[str]:
    """Where data can leave the machine under these settings."""
    out = []
    if settings.fhir_base_url:
        out.append(
            f"approved notes (never audio or transcripts) are sent to the EPR's FHIR server at "
            f"{host(settings.fhir_base_url)} when a user exports them"
        )
    if llm_leaves_machine(settings):
        out.append(f"transcript text is sent to the OpenAI-compatible LLM server at {host(settings.openai_base_url)}")
    return out
