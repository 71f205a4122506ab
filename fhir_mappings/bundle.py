"""The approved note as a FHIR R4 document Bundle or transaction Bundle (UK Core profiles).

`document_bundle` gives the signed-off document (Composition first, every resource it refers to
after it); `transaction_bundle` gives the same resources as conditional writes, so sending it twice
updates the records it made the first time instead of duplicating them.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.provenance import Provenance

from . import profiles, resources
from .contract import ApprovedNote, Statement
from .ids import URI_SYSTEM, identifier, identifier_value, search, stable_id, urn
from .resources import Built, Context, document_id, validated
from .supersede import check_previous, retired
from .terminology import Terminology

_XHTML = "http://www.w3.org/1999/xhtml"
AI_ACTIVITY = "Drafted by AI software from the consultation audio; reviewed, edited and approved by a clinician"


def _narrative(paragraphs: list[str]) -> dict[str, str]:
    items = "".join(f"<li>{escape(text, quote=False)}</li>" for text in paragraphs)
    body = f"<ul>{items}</ul>" if items else "<p>None recorded.</p>"
    return {"status": "generated", "div": f'<div xmlns="{_XHTML}">{body}</div>'}


def _statements(statements: list[Statement]) -> list[str]:
    return [statement.text for statement in statements]


def _list_section(name: str, title: str, lines: list[str], entries: list[Built]) -> dict[str, Any]:
    code, display = profiles.HEADINGS[name]
    section: dict[str, Any] = {
        "title": title,
        "code": {"coding": [{"system": profiles.RECORD_HEADINGS, "code": code, "display": display}], "text": title},
        "text": _narrative(lines),
    }
    if entries:
        section["entry"] = [entry.reference for entry in entries]
    else:
        section["emptyReason"] = {"text": "None recorded in this consultation"}
    return section


def composition(note: ApprovedNote, ctx: Context, items: dict[str, list[Built]], letters: list[Built]) -> Built:
    """Composition: final, LOINC type, the note's sections (LOINC codes, narrative) and the structured lists."""
    sections: list[dict[str, Any]] = []
    for section in note.sections:
        entry: dict[str, Any] = {"title": section.title, "text": _narrative(_statements(section.statements))}
        code: dict[str, Any] = {"text": section.title}
        if section.loinc:
            code["coding"] = [{"system": profiles.LOINC, "code": section.loinc}]
        entry["code"] = code
        if not section.statements:
            entry["emptyReason"] = {"text": "Nothing recorded in this section"}
        sections.append(entry)
    sections.append(
        _list_section(
            "problems",
            "Problems",
            [p.name + (f" ({p.status})" if p.status else "") for p in note.problems],
            items["problems"],
        )
    )
    sections.append(
        _list_section(
            "medications", "Medications", [_medication_line(m) for m in note.medications], items["medications"]
        )
    )
    sections.append(
        _list_section(
            "allergies",
            "Allergies",
            [a.substance + (f": {a.reaction}" if a.reaction else "") for a in note.allergies],
            items["allergies"],
        )
    )
    sections.append(_list_section("findings", "Findings", [_finding_line(f) for f in note.findings], items["findings"]))
    if letters:
        sections.append(
            {
                "title": "Letters",
                "text": _narrative([letter.title for letter in note.letters]),
                "entry": [letter.reference for letter in letters],
            }
        )
    if note.disputes:
        sections.append(
            {
                "title": "Patient's recorded disagreement",
                "text": _narrative([f"{d.recorded_at.date().isoformat()}: {d.text}" for d in note.disputes]),
            }
        )
    resource_id = stable_id(note.consultation_id, "composition")
    attester = {"mode": "legal", "time": ctx.recorded, "party": ctx.approver.reference}
    data: dict[str, Any] = {
        "resourceType": "Composition",
        "id": resource_id,
        "meta": {"profile": [profiles.COMPOSITION]},
        "identifier": identifier(resource_id),
        "status": "final",
        "type": {"coding": [{"system": profiles.LOINC, "code": profiles.CONSULT_NOTE}], "text": note.title},
        "subject": ctx.patient.reference,
        "encounter": ctx.encounter.reference,
        "date": ctx.recorded,
        "author": [ctx.author.reference],
        "title": note.title,
        "attester": [attester],
        "section": sections,
    }
    if ctx.organization is not None:
        data["custodian"] = ctx.organization.reference
    if note.supersedes_version is not None:  # the document this corrected version replaces
        replaced = identifier(document_id(note.consultation_id, note.supersedes_version))
        data["relatesTo"] = [{"code": profiles.DOCUMENT_RELATIONSHIP, "targetIdentifier": replaced}]
    return Built(validated(Composition, data), ("identifier", URI_SYSTEM, identifier_value(resource_id)), update=True)


def _medication_line(med: Any) -> str:
    details = ", ".join(part for part in (med.dose, med.route, med.frequency) if part)
    change = f" [{med.change}]" if med.change != "unknown" else ""
    return f"{med.name}{f' {details}' if details else ''}{change}"


def _finding_line(finding: Any) -> str:
    value = f"{finding.value} {finding.unit}".strip()
    return f"{finding.name}{f': {value}' if value else ''}"


def provenance(note: ApprovedNote, ctx: Context, targets: list[Built], software: Built) -> Built:
    """Provenance: the approving clinician attested, the AI software assembled the draft."""
    resource_id = stable_id(note.consultation_id, "provenance", note.version)
    agents = [
        {
            "type": {
                "coding": [{"system": profiles.PROVENANCE_AGENT_TYPE, "code": "attester"}],
                "text": "Approved the note",
            },
            "who": ctx.approver.reference,
        },
        {
            "type": {
                "coding": [{"system": profiles.PROVENANCE_AGENT_TYPE, "code": "assembler"}],
                "text": "Drafted the note (AI)",
            },
            "who": software.reference,
        },
    ]
    if ctx.author.id != ctx.approver.id:
        agents.insert(
            1,
            {
                "type": {"coding": [{"system": profiles.PROVENANCE_AGENT_TYPE, "code": "author"}]},
                "who": ctx.author.reference,
            },
        )
    data = {
        "resourceType": "Provenance",
        "id": resource_id,
        "meta": {
            "profile": [profiles.PROVENANCE],
            "tag": [{"system": URI_SYSTEM, "code": identifier_value(resource_id)}],
        },
        "target": [target.reference for target in targets],
        "occurredPeriod": {"start": ctx.effective, "end": ctx.recorded},
        "recorded": ctx.recorded,
        "reason": [{"text": note.approval.attestation}],
        "activity": {"text": AI_ACTIVITY},
        "agent": agents,
    }
    # Provenance has no identifier element: the tag carries the stable id for conditional create.
    return Built(validated(Provenance, data), ("_tag", URI_SYSTEM, identifier_value(resource_id)), update=False)


def build_resources(note: ApprovedNote, terminology: Terminology | None = None) -> list[Built]:
    """Every resource of the note, Composition first; each validated by its fhir.resources.R4B model."""
    patient = resources.patient(note)
    approver = resources.practitioner(note, note.approval.clinician)
    author = resources.practitioner(note, note.author)
    org = resources.organization(note)
    encounter = resources.encounter(note, patient, author, org)
    ctx = Context(
        patient=patient,
        author=author,
        approver=approver,
        encounter=encounter,
        organization=org,
        terminology=terminology,
        recorded=note.approval.at.isoformat(),
        effective=note.encounter.start.isoformat(),
    )
    items = {
        "problems": resources.conditions(note, ctx),
        "medications": resources.medication_statements(note, ctx),
        "allergies": resources.allergies(note, ctx),
        "findings": resources.observations(note, ctx),
    }
    letters = resources.document_references(note, ctx)
    comp = composition(note, ctx, items, letters)
    clinical = [built for group in items.values() for built in group]
    software = resources.device(note)
    prov = provenance(note, ctx, [comp, *clinical, *letters], software)
    people = [author] if author.id == approver.id else [author, approver]
    context = [patient, *people, *([org] if org else []), encounter]
    return [comp, *context, *clinical, *letters, software, prov]


def document_bundle(note: ApprovedNote, terminology: Terminology | None = None) -> dict[str, Any]:
    """The approved note as a FHIR R4 document Bundle (JSON dict), validated through fhir.resources.R4B."""
    built = build_resources(note, terminology)
    bundle_id = document_id(note.consultation_id, note.version)
    data = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"profile": [profiles.BUNDLE]},
        "identifier": identifier(bundle_id),
        "type": "document",
        "timestamp": note.approval.at.isoformat(),
        "entry": [{"fullUrl": urn(item.id), "resource": item.resource} for item in built],
    }
    return validated(Bundle, data)


def transaction_bundle(
    note: ApprovedNote, terminology: Terminology | None = None, previous: ApprovedNote | None = None
) -> dict[str, Any]:
    """The same resources as a transaction of conditional writes: a re-send updates, never duplicates.

    Patient, Practitioner, Organization, Device and Provenance are created only if none matches their
    identifier (the EPR owns demographics); the note's own resources are conditionally updated.
    Entries carry no resource id: servers assign ids, and references use the entries' urn:uuid fullUrls.

    `previous` is the approved version a corrected note supersedes (same consultation_id, version equal
    to `note.supersedes_version`; ValueError otherwise). With it, the transaction also marks that
    version's letters superseded and the items the correction no longer lists entered-in-error
    (see `fhir_mappings.supersede`).
    """
    built = build_resources(note, terminology)
    if previous is not None:
        check_previous(note, previous)
        built += retired(note, built, build_resources(previous, terminology))
    entries = []
    for item in built:
        resource = {key: value for key, value in item.resource.items() if key != "id"}
        kind = resource["resourceType"]
        name, system, value = item.search
        condition = search(kind, name, system, value)
        if item.update:
            request = {"method": "PUT", "url": condition}
        else:
            request = {"method": "POST", "url": kind, "ifNoneExist": condition.split("?", 1)[1]}
        entries.append({"fullUrl": urn(item.id), "resource": resource, "request": request})
    data = {
        "resourceType": "Bundle",
        "id": stable_id(note.consultation_id, "transaction", note.version),
        "type": "transaction",
        "timestamp": note.approval.at.isoformat(),
        "entry": entries,
    }
    return validated(Bundle, data)
