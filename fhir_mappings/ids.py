"""Stable identifiers: the same consultation, role and version always give the same id.

Ids are name-based UUIDs (uuid5), so a re-export of the same note produces the same resource ids
and business identifiers, and a server's conditional create/update finds what it stored before.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

URI_SYSTEM = "urn:ietf:rfc:3986"
"""Identifier system whose values are URIs; scribe's own identifiers are urn:uuid values in it."""

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/scribe/fhir_mappings")


def stable_id(*parts: object) -> str:
    """A uuid5 from the parts (e.g. consultation id, role, version), as a FHIR id."""
    if not parts:
        raise ValueError("stable_id needs at least one part, e.g. the consultation id and the resource role")
    name = "\x1f".join(str(part) for part in parts)
    return str(uuid.uuid5(_NAMESPACE, name))


def urn(resource_id: str) -> str:
    """The urn:uuid form of an id: Bundle.entry.fullUrl and the value of scribe's identifier."""
    return f"urn:uuid:{resource_id}"


def identifier(resource_id: str) -> dict[str, str]:
    """scribe's business identifier for a resource with this id."""
    return {"system": URI_SYSTEM, "value": urn(resource_id)}


def search(resource_type: str, name: str, system: str, value: str) -> str:
    """A conditional URL such as 'Patient?identifier=system%7Cvalue' (query part encoded)."""
    return f"{resource_type}?{urlencode({name: f'{system}|{value}'})}"
