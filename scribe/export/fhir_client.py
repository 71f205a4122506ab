"""Sending a FHIR Bundle to an EPR's FHIR R4 server, safely retried.

A transaction Bundle is POSTed to the server's base; a document Bundle to ``BASE/Bundle`` as a
conditional create on its identifier. Both are idempotent (fhir_mappings builds conditional
writes), so a try that timed out after the server stored it, or an export re-run after a failure,
never duplicates a record. Timeouts, lost connections, 429 and 5xx are retried with backoff; a
refusal (other 4xx) is reported with the server's OperationOutcome issues in plain words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from scribe.config import Settings
from scribe.errors import ConfigError, ExportAuthError, ExportError, ExportRefusedError, ExportUnreachableError
from scribe.export.fhir_auth import auth_from_settings
from scribe.retrying import RETRY_STATUS, Backoff, Transient, retry_after, transport_failure

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_PLAIN = {
    "invalid": "the content is not valid",
    "structure": "the structure is wrong",
    "required": "a required element is missing",
    "value": "a value is not allowed",
    "invariant": "a FHIR rule (invariant) is broken",
    "code-invalid": "a code is not in the allowed value set",
    "not-found": "something it refers to was not found",
    "duplicate": "it would duplicate an existing record",
    "multiple-matches": "a conditional write matched more than one record",
    "conflict": "it conflicts with the server's current version",
    "security": "the server refused access",
    "login": "the server needs valid credentials",
    "forbidden": "scribe's credentials may not do this",
    "processing": "the server could not process it",
    "not-supported": "the server does not support this",
    "too-costly": "the request is too large for the server",
    "business-rule": "it breaks one of the server's business rules",
}


@dataclass(frozen=True)
class Attempt:
    """One try at sending a Bundle."""

    number: int
    ok: bool
    status: int | None
    """HTTP status, or None when no answer came (timeout, connection lost)."""
    detail: str


@dataclass(frozen=True)
class Delivery:
    """A Bundle the server accepted."""

    status: int
    locations: list[str] = field(default_factory=list)
    """Where each entry landed (``Type/id`` or the server's full URL), in Bundle order."""
    attempts: int = 1
    created: int = 0
    """Entries the server answered 201 Created (0 on a re-send: it found and updated them)."""


def plain_outcome(body: Any) -> str:
    """An OperationOutcome's issues in plain words, one per line ('' if ``body`` is not one)."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    lines = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        code = str(issue.get("code", ""))
        what = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        where = ", ".join(issue.get("expression") or issue.get("location") or [])
        line = f"{issue.get('severity', 'error')}: {_PLAIN.get(code, code or 'problem')}"
        line += f" at {where}" if where else ""
        line += f" ({what})" if what else ""
        lines.append(line)
    return "\n".join(lines)


def _response_problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    return plain_outcome(body) or str(body)[:300]


class FhirClient:
    """A FHIR R4 server at ``base_url``: sends Bundles, reads and searches (for checks after an export)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"the FHIR server address must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._backoff = backoff or Backoff()
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout), auth=auth)
        if client is not None and auth is not None:
            self._client.auth = auth

    @classmethod
    def from_settings(cls, settings: Settings, base_url: str | None = None) -> FhirClient:
        """The server ``base_url`` (default ``settings.fhir_base_url``) with the auth and limits in settings."""
        url = base_url or settings.fhir_base_url
        if not url:
            raise ConfigError("no FHIR server is configured: pass --to URL or set SCRIBE_FHIR_BASE_URL")
        return cls(
            url,
            auth=auth_from_settings(settings, url),
            timeout=settings.fhir_timeout,
            backoff=Backoff(settings.fhir_retries, seed=None),
        )

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool if this client opened it."""
        if self._own_client:
            self._client.close()

    def __repr__(self) -> str:
        return f"FhirClient({self.base_url!r})"

    # -- sending ----------------------------------------------------------------------------------

    def send(self, bundle: dict[str, Any], on_attempt: Callable[[Attempt], None] | None = None) -> Delivery:
        """Send a transaction or document Bundle; ``on_attempt`` hears of every try, failed or not.

        Raises ExportRefusedError (4xx: the OperationOutcome in plain words), ExportAuthError (401,
        403, token endpoint refusals) or ExportUnreachableError (no success after every retry).
        """
        kind = bundle.get("type")
        if kind == "transaction":
            request = ("POST", self.base_url, {})
        elif kind == "document":
            value = (bundle.get("identifier") or {}).get("value")
            system = (bundle.get("identifier") or {}).get("system")
            if not value or not system:
                raise ExportError("a document Bundle needs an identifier (system and value) to be sent idempotently")
            request = (
                "POST",
                f"{self.base_url}/Bundle",
                {"If-None-Exist": urlencode({"identifier": f"{system}|{value}"})},
            )
        else:
            raise ExportError(f"only transaction and document Bundles are sent, not {kind!r}")
        what = f"sending the {kind} Bundle to {self.base_url}"
        attempts = 0

        def once(number: int) -> Delivery:
            nonlocal attempts
            attempts = number
            status: int | None = None
            try:
                response = self._request(*request, bundle)
                status = response.status_code
                delivery = self._judge(response, request[1], number)
            except (Transient, ExportError) as exc:
                if on_attempt is not None:
                    on_attempt(Attempt(number, False, status, str(exc)))
                raise
            if on_attempt is not None:
                on_attempt(Attempt(number, True, status, f"{delivery.created} of {len(delivery.locations)} created"))
            return delivery

        try:
            return self._backoff.run(what, once)
        except Transient as exc:
            raise ExportUnreachableError(
                f"{what} failed after {attempts} tries (last: {exc}); nothing was lost: the note stays approved in "
                "the store, and re-running the export is safe (a re-send updates, never duplicates)"
            ) from None

    def _request(self, method: str, url: str, headers: dict[str, str], bundle: dict[str, Any]) -> httpx.Response:
        try:
            return self._client.request(
                method, url, json=bundle, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **headers}
            )
        except httpx.TransportError as exc:
            raise transport_failure(exc) from None

    def _judge(self, response: httpx.Response, url: str, number: int) -> Delivery:
        """The delivery, or the error the answer means: Transient (retry), auth or refusal."""
        status = response.status_code
        if status in RETRY_STATUS:
            raise Transient(f"HTTP {status}: {_response_problem(response)}", wait=retry_after(response))
        if status in (401, 403):
            raise ExportAuthError(
                f"the FHIR server at {self.base_url} refused scribe's credentials (HTTP {status}): "
                f"{_response_problem(response)}; check SCRIBE_FHIR_AUTH and its token or key settings"
            )
        if status == 404 and url == self.base_url:
            raise ExportRefusedError(f"there is no FHIR server at {self.base_url} (HTTP 404); check the address")
        if status >= 300:
            raise ExportRefusedError(
                f"the FHIR server at {self.base_url} refused the Bundle (HTTP {status}):\n{_response_problem(response)}"
            )
        return _delivery(response, number)

    # -- reading (checks after an export) ---------------------------------------------------------

    def search(self, resource_type: str, **params: str) -> dict[str, Any]:
        """A search Bundle: ``client.search('Composition', subject='Patient/123')``."""
        response = self._client.get(f"{self.base_url}/{resource_type}", params=params, headers={"Accept": FHIR_JSON})
        if response.status_code != 200:
            raise ExportError(
                f"searching {resource_type} failed (HTTP {response.status_code}): {_response_problem(response)}"
            )
        return response.json()

    def read(self, reference: str) -> dict[str, Any]:
        """One resource by ``Type/id``."""
        response = self._client.get(f"{self.base_url}/{reference}", headers={"Accept": FHIR_JSON})
        if response.status_code != 200:
            raise ExportError(
                f"reading {reference} failed (HTTP {response.status_code}): {_response_problem(response)}"
            )
        return response.json()


def _delivery(response: httpx.Response, attempts: int) -> Delivery:
    """What the server said it did: the transaction-response entries, or the stored document's location."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("type") == "transaction-response":
        statuses = [str((e.get("response") or {}).get("status", "")) for e in body.get("entry") or []]
        bad = [s for s in statuses if not s.startswith("2")]
        if bad:
            raise ExportRefusedError(f"the FHIR server answered {len(bad)} entries with errors: {bad[:5]}")
        locations = [str((e.get("response") or {}).get("location", "")) for e in body.get("entry") or []]
        created = sum(1 for s in statuses if s.startswith("201"))
        return Delivery(response.status_code, locations, attempts, created)
    if isinstance(body, dict) and body.get("id"):
        location = f"{body.get('resourceType', 'Bundle')}/{body['id']}"
    else:
        location = response.headers.get("location") or response.headers.get("content-location") or ""
    return Delivery(response.status_code, [location] if location else [], attempts, int(response.status_code == 201))
