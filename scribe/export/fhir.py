"""An approved note as a FHIR Bundle, written out or sent to the EPR, every attempt recorded and audited.

The command line (`scribe export`) and the review app's export buttons both come here, so they
refuse the same things (anything not approved), build the same Bundles and leave the same trail:
one ExportRecord per attempt with the consultation, and one audit event per attempt. Neither
carries patient data: the server's refusal text (which may quote the note) is shown to the user
but only its HTTP status reaches the records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from fhir_mappings import ApprovedNote, document_bundle, transaction_bundle
from fhir_mappings import contract as fm
from fhir_mappings.terminology import Terminology, TerminologyError
from scribe.config import Settings
from scribe.errors import ConfigError
from scribe.export.approved import approved_note
from scribe.export.fhir_client import Attempt, Delivery, FhirClient
from scribe.rows import AuditEvent, ExportRecord
from scribe.store.store import Store

log = logging.getLogger(__name__)

BundleKind = Literal["document", "transaction"]


@dataclass(frozen=True)
class Actor:
    """Who exports: a signed-in user, or the operating-system user of the command line (no user id)."""

    user_id: int | None
    username: str


def organisation(settings: Settings) -> fm.Organisation | None:
    """The site's organisation from settings (``site_name``, ``site_ods_code``), if named."""
    if not settings.site_name:
        return None
    try:
        return fm.Organisation(name=settings.site_name, ods_code=settings.site_ods_code)
    except ValueError as exc:
        raise ConfigError(
            f"site_ods_code {settings.site_ods_code!r} is not an ODS code (A81001, RRK...): {exc}"
        ) from None


def _terminology(settings: Settings) -> Terminology | None:
    if settings.fhir_terminology is None:
        return None
    try:
        return Terminology.from_csv(settings.fhir_terminology)
    except TerminologyError as exc:
        raise ConfigError(f"the site terminology map is unusable: {exc}") from None


def fhir_bundle(
    store: Store, consultation_id: str, kind: BundleKind, settings: Settings, *, version: int | None = None
) -> tuple[ApprovedNote, dict[str, Any]]:
    """The approved version (default: current) as a document or transaction Bundle; StateError if not approved.

    A transaction for a corrected version also carries what the earlier approved version sent that
    the correction replaces (its letters superseded, its removed items entered-in-error).
    """
    org = organisation(settings)
    note = approved_note(
        store, consultation_id, version=version, organisation=org, templates_dir=settings.templates_dir
    )
    terminology = _terminology(settings)
    if kind == "document":
        return note, document_bundle(note, terminology)
    previous = None
    if note.supersedes_version is not None:
        previous = approved_note(
            store,
            consultation_id,
            version=note.supersedes_version,
            organisation=org,
            templates_dir=settings.templates_dir,
        )
    return note, transaction_bundle(note, terminology, previous=previous)


def safe_destination(url: str) -> str:
    """A server address fit for records: no user name, password or query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def record_export(
    store: Store, note: ApprovedNote, fmt: str, actor: Actor, *, destination: str, ok: bool = True, detail: str = ""
) -> None:
    """One ExportRecord and one audit event for one export attempt (no patient data in either)."""
    cid = note.consultation_id
    store.exports.record(
        ExportRecord(
            consultation_id=cid,
            version=note.version,
            format=fmt,
            user_id=actor.user_id,
            destination=destination,
            ok=ok,
            detail=detail,
        )
    )
    where = "" if destination == "download" else f" to {destination}"
    store.audit.record(
        AuditEvent(
            user_id=actor.user_id,
            username=actor.username,
            action="export",
            target=f"consultation:{cid}",
            outcome="ok" if ok else "failed",
            detail=f"{fmt} version {note.version}{where}{f' ({detail})' if detail else ''}",
        )
    )


def _attempt_detail(attempt: Attempt) -> str:
    status = f"HTTP {attempt.status}" if attempt.status is not None else "no answer"
    if attempt.ok:
        return f"attempt {attempt.number}: {status}, {attempt.detail}"
    if attempt.status is None:
        # Transport problems name no patient data: "timed out: ReadTimeout", "cannot reach the server: ...".
        return f"attempt {attempt.number}: {attempt.detail[:200]}"
    return f"attempt {attempt.number}: {status}"


def send_approved(
    store: Store,
    consultation_id: str,
    settings: Settings,
    actor: Actor,
    *,
    kind: BundleKind = "transaction",
    base_url: str | None = None,
    version: int | None = None,
    client: FhirClient | None = None,
) -> Delivery:
    """Send the approved note to the FHIR server (default ``settings.fhir_base_url``), recording every attempt.

    Raises StateError before anything is sent if the note is not approved; ExportRefusedError,
    ExportAuthError or ExportUnreachableError if the server does not take it (the note stays
    approved in the store, and a re-run is safe).
    """
    note, bundle = fhir_bundle(store, consultation_id, kind, settings, version=version)
    own = client is None
    fhir = client or FhirClient.from_settings(settings, base_url)
    destination = safe_destination(fhir.base_url)
    fmt = f"fhir-{kind}"

    def record(attempt: Attempt) -> None:
        record_export(store, note, fmt, actor, destination=destination, ok=attempt.ok, detail=_attempt_detail(attempt))

    try:
        delivery = fhir.send(bundle, on_attempt=record)
    finally:
        if own:
            fhir.close()
    log.info("sent %s version %d to %s in %d tries", fmt, note.version, destination, delivery.attempts)
    return delivery
