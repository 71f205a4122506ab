"""What a corrected note retires on the server: the earlier version's letters and the items it dropped.

A corrected version (``supersedes_version`` set) updates the Composition and the items it still lists
in place (same stable ids). What the earlier version sent and the correction no longer says must not
stay live in the EPR, so the transaction also carries, rebuilt from the earlier version:

- each of its letter DocumentReferences with ``status: superseded``;
- each structured item it listed that the correction does not (by stable id) as entered-in-error:
  MedicationStatement and Observation ``status: entered-in-error``; Condition and AllergyIntolerance
  ``verificationStatus`` entered-in-error with no ``clinicalStatus`` (R4 invariants con-5, ait-2).

All are conditional updates on scribe's identifier, so they work whether or not the server has them.
"""

from __future__ import annotations

import copy
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from . import profiles
from .contract import ApprovedNote
from .ids import urn
from .resources import Built, validated

ITEM_TYPES = ("Condition", "MedicationStatement", "AllergyIntolerance", "Observation")
"""The structured items a corrected version can drop."""


def check_previous(note: ApprovedNote, previous: ApprovedNote) -> None:
    """Raise ValueError unless `previous` is the approved version `note` corrects."""
    if note.supersedes_version is None:
        raise ValueError(
            f"previous was given but the note (version {note.version}) supersedes no version: "
            "set supersedes_version on the note, or leave previous out"
        )
    if previous.consultation_id != note.consultation_id:
        raise ValueError(
            "previous is a note of another consultation: it must be the earlier approved version "
            "of the same consultation_id"
        )
    if previous.version != note.supersedes_version:
        raise ValueError(
            f"previous is version {previous.version}, but the note (version {note.version}) supersedes "
            f"version {note.supersedes_version}: pass that version as previous"
        )


def retired(note: ApprovedNote, current: list[Built], earlier: list[Built]) -> list[Built]:
    """Entries the correction adds to its transaction, each a conditional update on its identifier.

    `current` are the note's resources, `earlier` the previous version's (both from build_resources).
    Returns the superseded letters, the entered-in-error items, and, first, any context resource they
    refer to that `current` lacks (e.g. an approver of the earlier version only), so every reference in
    the transaction resolves.
    """
    kept = {built.id for built in current}
    changed = []
    for built in earlier:
        kind = built.resource["resourceType"]
        if kind == "DocumentReference":
            changed.append(_superseded(built))
        elif kind in ITEM_TYPES and built.id not in kept:
            changed.append(_entered_in_error(built, note))
    have = {urn(built.id) for built in current}
    by_url = {urn(built.id): built for built in earlier}
    needed = {ref for built in changed for ref in _references(built.resource)} - have
    context = [by_url[url] for url in sorted(needed)]
    return [*context, *changed]


def _superseded(built: Built) -> Built:
    data = copy.deepcopy(built.resource)
    data["status"] = "superseded"
    return _rebuilt(built, data)


def _entered_in_error(built: Built, note: ApprovedNote) -> Built:
    data = copy.deepcopy(built.resource)
    kind = data["resourceType"]
    if kind in ("MedicationStatement", "Observation"):
        data["status"] = "entered-in-error"
    else:
        system = profiles.CONDITION_VERIFICATION if kind == "Condition" else profiles.ALLERGY_VERIFICATION
        data.pop("clinicalStatus", None)  # con-5 / ait-2: no clinical status once entered in error
        data["verificationStatus"] = {"coding": [{"system": system, "code": "entered-in-error"}]}
    reason = (
        f"Entered in error: approved version {note.version} of this note corrects version "
        f"{note.supersedes_version} and no longer records it."
    )
    data["note"] = [*data.get("note", []), {"text": reason}]
    return _rebuilt(built, data)


def _rebuilt(built: Built, data: dict[str, Any]) -> Built:
    model = get_fhir_model_class(data["resourceType"])
    return Built(validated(model, data), built.search, update=True)


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for child in value.values() for ref in _references(child)]
    if isinstance(value, list):
        return [ref for child in value for ref in _references(child)]
    return []
