"""One function per FHIR resource the approved note becomes, each built through fhir.resources.R4B.

Every builder returns a `Built`: the resource JSON (validated by its R4B model) and how a
transaction writes it (conditional create or conditional update on an identifier).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.resource import Resource

from . import profiles, vitals
from .contract import ApprovedNote, Clinician, Finding, Letter
from .ids import URI_SYSTEM, identifier, identifier_value, stable_id, urn
from .terminology import Terminology


@dataclass(frozen=True)
class Built:
    """A resource and how a transaction writes it without duplicating it."""

    resource: dict[str, Any]
    search: tuple[str, str, str]
    """(search parameter, system, value) that finds this resource on a server."""
    update: bool
    """True: conditional update (PUT, a re-send replaces it); False: conditional create (POST if none exists)."""

    @property
    def id(self) -> str:
        """The stable resource id."""
        return str(self.resource["id"])

    @property
    def reference(self) -> dict[str, str]:
        """A reference to it by its Bundle fullUrl."""
        return {"reference": urn(self.id)}


def validated(model: type[Resource], data: dict[str, Any]) -> dict[str, Any]:
    """`data` checked by its fhir.resources.R4B model and returned as the model serialises it."""
    return json.loads(model.model_validate(data).model_dump_json())


def _scribe(model: type[Resource], data: dict[str, Any], update: bool = True) -> Built:
    """A resource identified by scribe's own urn:uuid identifier."""
    return Built(validated(model, data), ("identifier", URI_SYSTEM, identifier_value(data["id"])), update)


def concept(text: str, kind: str, terminology: Terminology | None) -> dict[str, Any]:
    """A CodeableConcept with the text as approved and a coding only when the site's map has one."""
    result: dict[str, Any] = {"text": text}
    coding = terminology.lookup(text, kind) if terminology is not None else None
    if coding is not None:
        result["coding"] = [coding.as_fhir()]
    return result


def _meta(profile: str) -> dict[str, Any]:
    return {"profile": [profile]}


def patient(note: ApprovedNote) -> Built:
    """Patient with the NHS number identifier when known; never updated by a re-send (the EPR owns it)."""
    details = note.patient
    if details.nhs_number:
        resource_id = stable_id("patient", details.nhs_number)
        key = ("identifier", profiles.NHS_NUMBER, details.nhs_number)
        identifiers = [{"system": profiles.NHS_NUMBER, "value": details.nhs_number}]
    else:
        resource_id = stable_id(note.consultation_id, "patient")
        key = ("identifier", URI_SYSTEM, identifier_value(resource_id))
        identifiers = [identifier(resource_id)]
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": resource_id,
        "meta": _meta(profiles.PATIENT),
        "identifier": identifiers,
    }
    if details.name:
        data["name"] = [{"text": details.name}]
    if details.birth_date:
        data["birthDate"] = details.birth_date.isoformat()
    return Built(validated(Patient, data), key, update=False)


def practitioner(note: ApprovedNote, clinician: Clinician) -> Built:
    """Practitioner, keyed by the professional identifier when given, else by name within the consultation."""
    if clinician.identifier is not None:
        resource_id = stable_id("practitioner", clinician.identifier.system, clinician.identifier.value)
        key = ("identifier", clinician.identifier.system, clinician.identifier.value)
        identifiers = [clinician.identifier.model_dump(), identifier(resource_id)]
    else:
        resource_id = stable_id(note.consultation_id, "practitioner", clinician.name)
        key = ("identifier", URI_SYSTEM, identifier_value(resource_id))
        identifiers = [identifier(resource_id)]
    data = {
        "resourceType": "Practitioner",
        "id": resource_id,
        "meta": _meta(profiles.PRACTITIONER),
        "identifier": identifiers,
        "name": [{"text": clinician.name}],
    }
    return Built(validated(Practitioner, data), key, update=False)


def organization(note: ApprovedNote) -> Built | None:
    """Organization with its ODS code, or None when the note names no organisation."""
    org = note.organisation
    if org is None:
        return None
    if org.ods_code:
        resource_id = stable_id("organization", org.ods_code)
        key = ("identifier", profiles.ODS_ORGANIZATION, org.ods_code)
        identifiers = [{"system": profiles.ODS_ORGANIZATION, "value": org.ods_code}]
    else:
        resource_id = stable_id(note.consultation_id, "organization", org.name)
        key = ("identifier", URI_SYSTEM, identifier_value(resource_id))
        identifiers = [identifier(resource_id)]
    data = {
        "resourceType": "Organization",
        "id": resource_id,
        "meta": _meta(profiles.ORGANIZATION),
        "identifier": identifiers,
        "name": org.name,
    }
    return Built(validated(Organization, data), key, update=False)


_ENCOUNTER_CLASS = {"ambulatory": ("AMB", "ambulatory"), "virtual": ("VR", "virtual"), "home": ("HH", "home health")}


def encounter(note: ApprovedNote, subject: Built, author: Built, org: Built | None) -> Built:
    """Encounter: the consultation, finished, with its period and the clinician who held it."""
    code, display = _ENCOUNTER_CLASS[note.encounter.setting]
    resource_id = stable_id(note.consultation_id, "encounter")
    period = {"start": note.encounter.start.isoformat()}
    if note.encounter.end is not None:
        period["end"] = note.encounter.end.isoformat()
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": resource_id,
        "meta": _meta(profiles.ENCOUNTER),
        "identifier": [identifier(resource_id)],
        "status": "finished",
        "class": {"system": profiles.ACT_CODE, "code": code, "display": display},
        "subject": subject.reference,
        "participant": [{"individual": author.reference}],
        "period": period,
    }
    if note.encounter.type_text:
        data["type"] = [{"text": note.encounter.type_text}]
    if org is not None:
        data["serviceProvider"] = org.reference
    return _scribe(Encounter, data)


def device(note: ApprovedNote) -> Built:
    """Device: the software that drafted the note, its version and the models it used."""
    software = note.software
    models = [(m.role, m.name, m.version) for m in software.models]
    resource_id = stable_id("device", software.name, software.version, *[part for m in models for part in m])
    versions = [{"type": {"text": "software"}, "value": software.version}]
    versions += [{"type": {"text": role}, "value": f"{name} {version}".strip()} for role, name, version in models]
    data = {
        "resourceType": "Device",
        "id": resource_id,
        "meta": _meta(profiles.DEVICE),
        "identifier": [identifier(resource_id)],
        "deviceName": [{"name": software.name, "type": "user-friendly-name"}],
        "type": {"text": "AI clinical documentation software"},
        "version": versions,
    }
    return _scribe(Device, data, update=False)


def _unique_keys(names: list[str]) -> list[str]:
    """Per-item keys from names, with '#2', '#3' for repeats, so ids stay stable when other items change."""
    seen: dict[str, int] = {}
    keys = []
    for name in names:
        base = " ".join(name.split()).casefold()
        seen[base] = seen.get(base, 0) + 1
        keys.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return keys


_PROBLEM_STATUS = {
    "new": "active",
    "active": "active",
    "ongoing": "active",
    "chronic": "active",
    "recurrence": "recurrence",
    "relapse": "relapse",
    "inactive": "inactive",
    "resolved": "resolved",
    "remission": "remission",
}


def conditions(note: ApprovedNote, ctx: Context) -> list[Built]:
    """Condition for each approved problem, coded only through the site's map."""
    built = []
    for problem, key in zip(note.problems, _unique_keys([p.name for p in note.problems]), strict=True):
        resource_id = stable_id(note.consultation_id, "problem", key)
        status = " ".join(problem.status.split()).casefold()
        data: dict[str, Any] = {
            "resourceType": "Condition",
            "id": resource_id,
            "meta": _meta(profiles.CONDITION),
            "identifier": [identifier(resource_id)],
            "category": [{"coding": [{"system": profiles.CONDITION_CATEGORY, "code": "encounter-diagnosis"}]}],
            "code": concept(problem.name, "problem", ctx.terminology),
            "subject": ctx.patient.reference,
            "encounter": ctx.encounter.reference,
            "recordedDate": ctx.recorded,
            "recorder": ctx.author.reference,
            "asserter": ctx.author.reference,
        }
        if status in _PROBLEM_STATUS:
            data["clinicalStatus"] = {
                "coding": [{"system": profiles.CONDITION_CLINICAL, "code": _PROBLEM_STATUS[status]}]
            }
        if status in ("suspected", "possible", "provisional", "query"):
            data["verificationStatus"] = {
                "coding": [{"system": profiles.CONDITION_VERIFICATION, "code": "provisional"}]
            }
        if problem.status:
            data["note"] = [{"text": f"Status as approved: {problem.status}"}]
        built.append(_scribe(Condition, data))
    return built


_MEDICATION_STATUS = {
    "started": "active",
    "continued": "active",
    "changed": "active",
    "stopped": "stopped",
    "unknown": "unknown",
}


def medication_statements(note: ApprovedNote, ctx: Context) -> list[Built]:
    """MedicationStatement for each approved medicine; dm+d/SNOMED coding only through the site's map."""
    built = []
    for med, key in zip(note.medications, _unique_keys([m.name for m in note.medications]), strict=True):
        resource_id = stable_id(note.consultation_id, "medication", key)
        data: dict[str, Any] = {
            "resourceType": "MedicationStatement",
            "id": resource_id,
            "meta": _meta(profiles.MEDICATION_STATEMENT),
            "identifier": [identifier(resource_id)],
            "status": _MEDICATION_STATUS[med.change],
            "medicationCodeableConcept": concept(med.name, "medication", ctx.terminology),
            "subject": ctx.patient.reference,
            "context": ctx.encounter.reference,
            "dateAsserted": ctx.recorded,
            "informationSource": ctx.author.reference,
        }
        dosage = ", ".join(part for part in (med.dose, med.route, med.frequency) if part)
        if dosage:
            data["dosage"] = [{"text": dosage}]
        if med.change != "unknown":
            data["note"] = [{"text": f"In this consultation: {med.change}"}]
        built.append(_scribe(MedicationStatement, data))
    return built


def allergies(note: ApprovedNote, ctx: Context) -> list[Built]:
    """AllergyIntolerance for each approved allergy (clinical status active, as UK Core's invariant needs)."""
    built = []
    for allergy, key in zip(note.allergies, _unique_keys([a.substance for a in note.allergies]), strict=True):
        resource_id = stable_id(note.consultation_id, "allergy", key)
        data: dict[str, Any] = {
            "resourceType": "AllergyIntolerance",
            "id": resource_id,
            "meta": _meta(profiles.ALLERGY_INTOLERANCE),
            "identifier": [identifier(resource_id)],
            "clinicalStatus": {"coding": [{"system": profiles.ALLERGY_CLINICAL, "code": "active"}]},
            "code": concept(allergy.substance, "allergy", ctx.terminology),
            "patient": ctx.patient.reference,
            "encounter": ctx.encounter.reference,
            "recordedDate": ctx.recorded,
            "recorder": ctx.author.reference,
        }
        if allergy.reaction:
            data["reaction"] = [{"manifestation": [concept(allergy.reaction, "reaction", ctx.terminology)]}]
        built.append(_scribe(AllergyIntolerance, data))
    return built


def _quantity(value: float, unit: str) -> dict[str, Any]:
    mapped = vitals.ucum(unit) if unit else None
    if mapped is None:
        return {"value": value, "unit": unit} if unit else {"value": value}
    code, text = mapped
    return {"value": value, "unit": text, "system": vitals.UCUM, "code": code}


_BARE_UNITS = {
    vitals.HEART_RATE.loinc: ("/min", "per minute"),
    vitals.RESPIRATION_RATE.loinc: ("/min", "per minute"),
    vitals.OXYGEN_SATURATION.loinc: ("%", "percent"),
    vitals.BLOOD_PRESSURE.loinc: ("mm[Hg]", "millimeter of mercury"),
}


def _vital(finding: Finding) -> dict[str, Any] | None:
    """The vital-signs parts of an Observation (profile, category, code, value), or None if it is not one."""
    sign = vitals.vital_sign(finding.name)
    if sign is None:
        return None
    unit = vitals.ucum(finding.unit) if finding.unit else None
    if finding.unit and (unit is None or unit[0] not in sign.units):
        return None
    if unit is None:
        unit = _BARE_UNITS.get(sign.loinc)  # a bare number is ambiguous for temperature, weight, height
        if unit is None:
            return None
    ucum_code, unit_text = unit
    parts: dict[str, Any] = {
        "meta": _meta(sign.profile_url),
        "category": [{"coding": [{"system": profiles.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": vitals.LOINC, "code": sign.loinc}], "text": finding.name},
    }
    quantity = {"unit": unit_text, "system": vitals.UCUM, "code": ucum_code}
    if sign is vitals.BLOOD_PRESSURE:
        pair = vitals.pressure(finding.value)
        if pair is None:
            return None
        parts["component"] = [
            {
                "code": {"coding": [{"system": vitals.LOINC, "code": code, "display": display}], "text": display},
                "valueQuantity": {"value": value, **quantity},
            }
            for (code, display), value in zip((vitals.SYSTOLIC, vitals.DIASTOLIC), pair, strict=True)
        ]
        return parts
    value = vitals.number(finding.value)
    if value is None:
        return None
    parts["valueQuantity"] = {"value": value, **quantity}
    return parts


def observations(note: ApprovedNote, ctx: Context) -> list[Built]:
    """Observation for each approved finding: a UK Core vital sign (LOINC, UCUM) when it is one, else text."""
    built = []
    for finding, key in zip(note.findings, _unique_keys([f.name for f in note.findings]), strict=True):
        resource_id = stable_id(note.consultation_id, "finding", key)
        data: dict[str, Any] = {
            "resourceType": "Observation",
            "id": resource_id,
            "identifier": [identifier(resource_id)],
            "status": "final",
            "subject": ctx.patient.reference,
            "encounter": ctx.encounter.reference,
            "effectiveDateTime": ctx.effective,
            "issued": ctx.recorded,
            "performer": [ctx.author.reference],
        }
        vital = _vital(finding)
        if vital is not None:
            data.update(vital)
        else:
            data["meta"] = _meta(profiles.OBSERVATION)
            data["category"] = [{"coding": [{"system": profiles.OBSERVATION_CATEGORY, "code": "exam"}]}]
            data["code"] = concept(finding.name, "finding", ctx.terminology)
            number = vitals.number(finding.value)
            if number is not None:
                data["valueQuantity"] = _quantity(number, finding.unit)
            elif finding.value:
                data["valueString"] = f"{finding.value} {finding.unit}".strip()
        built.append(_scribe(Observation, data))
    return built


def document_id(consultation_id: str, version: int) -> str:
    """The document Bundle id of one approved version; its identifier names that version's document."""
    return stable_id(consultation_id, "document", version)


def letter_id(note: ApprovedNote, letter_kind: str, version: int) -> str:
    """The DocumentReference id of a letter of one kind in one approved version."""
    return stable_id(note.consultation_id, "letter", letter_kind, version)


def document_references(note: ApprovedNote, ctx: Context) -> list[Built]:
    """DocumentReference for each rendered letter (PDF attached); replaces the earlier version's letter."""
    built = []
    kinds = _unique_keys([letter.kind for letter in note.letters])
    for letter, kind in zip(note.letters, kinds, strict=True):
        built.append(_document_reference(note, ctx, letter, kind))
    return built


def _document_reference(note: ApprovedNote, ctx: Context, letter: Letter, kind: str) -> Built:
    resource_id = letter_id(note, kind, note.version)
    pdf = base64.b64decode(letter.pdf_base64)
    data: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": resource_id,
        "meta": _meta(profiles.DOCUMENT_REFERENCE),
        "masterIdentifier": identifier(resource_id),
        "identifier": [identifier(resource_id)],
        "status": "current",
        "docStatus": "final",
        "type": {"text": letter.title},
        "subject": ctx.patient.reference,
        "date": ctx.recorded,
        "author": [ctx.author.reference],
        "authenticator": ctx.approver.reference,
        "description": letter.title,
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": letter.pdf_base64,
                    "size": len(pdf),
                    "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode(),  # noqa: S324  # FHIR defines SHA-1
                    "title": letter.title,
                    "creation": ctx.recorded,
                }
            }
        ],
        "context": {"encounter": [ctx.encounter.reference], "period": {"start": ctx.effective}},
    }
    if ctx.organization is not None:
        data["custodian"] = ctx.organization.reference
    if note.supersedes_version is not None:
        previous = letter_id(note, kind, note.supersedes_version)
        data["relatesTo"] = [
            {
                "code": profiles.DOCUMENT_RELATIONSHIP,
                "target": {"type": "DocumentReference", "identifier": identifier(previous)},
            }
        ]
    return _scribe(DocumentReference, data)


@dataclass(frozen=True)
class Context:
    """What every clinical resource refers to."""

    patient: Built
    author: Built
    approver: Built
    encounter: Built
    organization: Built | None
    terminology: Terminology | None
    recorded: str
    """When the note was approved (ISO 8601 with zone)."""
    effective: str
    """When the consultation started."""
