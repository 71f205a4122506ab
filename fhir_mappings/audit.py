"""An AuditEvent (UK Core) recording one export of an approved note.

It names the document (Bundle and Composition identifiers), who exported it, where to and whether
it worked. It carries no patient data: no name, no NHS number, no note text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fhir.resources.R4B.auditevent import AuditEvent

from . import profiles
from .contract import ApprovedNote
from .ids import identifier, stable_id
from .resources import document_id, validated

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
EXPORT = ("110106", "Export")
"""DICOM audit event type 'Export' (data leaving the system), as IHE audit profiles use."""
_OUTCOMES = {"success": "0", "failure": "8"}


def export_audit_event(
    note: ApprovedNote,
    *,
    destination: str,
    outcome: Literal["success", "failure"],
    at: datetime,
    by: str,
    software: str = "",
    detail: str = "",
    attempt: int = 1,
) -> dict[str, Any]:
    """An AuditEvent for one export attempt of `note` to `destination` (a URL, or 'download').

    `by` names who exported it (a user name or id, never a patient); `detail` is a short reason on
    failure. The id is stable per consultation, version, destination and attempt number.
    """
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone (e.g. datetime.now(timezone.utc))")
    if outcome not in _OUTCOMES:
        raise ValueError(f"outcome must be 'success' or 'failure', got {outcome!r}")
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    resource_id = stable_id(note.consultation_id, "export", note.version, destination, attempt)
    document = document_id(note.consultation_id, note.version)
    composition = stable_id(note.consultation_id, "composition")
    data: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": resource_id,
        "meta": {"profile": [profiles.AUDIT_EVENT]},
        "type": {"system": DICOM, "code": EXPORT[0], "display": EXPORT[1]},
        "action": "R",
        "recorded": at.isoformat(),
        "outcome": _OUTCOMES[outcome],
        "agent": [
            {"who": {"display": by}, "requestor": True},
            {"who": {"display": destination}, "requestor": False, "network": _network(destination)},
        ],
        "source": {"observer": {"display": software or note.software.name}},
        "entity": [
            {
                "what": {"identifier": identifier(document), "type": "Bundle"},
                "name": f"consultation {note.consultation_id} version {note.version}",
            },
            {"what": {"identifier": identifier(composition), "type": "Composition"}},
        ],
    }
    if detail:
        data["outcomeDesc"] = detail
    if data["agent"][1]["network"] is None:
        del data["agent"][1]["network"]
    return validated(AuditEvent, data)


def _network(destination: str) -> dict[str, str] | None:
    if "://" not in destination:
        return None
    host = destination.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    return {"address": host, "type": "1"}  # 1: machine name (or IP address)
