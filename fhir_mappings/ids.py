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
    """The urn:uuid form of an id: the resource's Bundle.entry.fullUrl."""
    return f"urn:uuid:{resource_id}"


def identifier_value(resource_id: str) -> str:
    """The value of scribe's business identifier for a resource with this id.

    A urn:uuid derived from the id but never equal to the entry's fullUrl: some servers rewrite every
    string that names a fullUrl when they resolve a transaction's references, which would break the
    identifier a re-send searches for.
    """
    return urn(stable_id(resource_id, "identifier"))


def identifier(resource_id: str) -> dict[str, str]:
    """scribe's business identifier for a resource with this id."""
    return {"system": URI_SYSTEM, "value": identifier_value(resource_id)}


def search(resource_type: str, name: str, system: str, value: str) -> str:
    """A conditional URL such as 'Patient?identifier=system%7Cvalue' (query part encoded)."""
    return f"{resource_type}?{urlencode({name: f'{system}|{value}'})}"
