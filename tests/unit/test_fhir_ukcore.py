"""The UK Core rules the mapping relies on, checked against the UK Core StructureDefinitions and ValueSets.

Reads ../shared/data/uk-core (or $SCRIBE_SHARED_DATA/uk-core): profile URLs, fixed identifier
systems, vital signs codes and units, section heading and condition category codes, and the
elements UK Core makes required.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings import ApprovedNote, document_bundle, profiles, transaction_bundle, vitals
from fhir_mappings.sample import sample_correction_data, sample_note
from scribe.evaluate.datasets import shared_data_dir

UK_CORE = shared_data_dir() / "uk-core"
NS = {"f": "http://hl7.org/fhir"}

pytestmark = pytest.mark.skipif(not UK_CORE.is_dir(), reason="shared UK Core data not available")


@cache
def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _definition(name: str) -> ET.Element:
    return _xml(UK_CORE / "structuredefinitions" / f"{name}.xml")


def _url(root: ET.Element) -> str:
    return root.find("f:url", NS).get("value")  # type: ignore[union-attr]


def _element(root: ET.Element, element_id: str) -> ET.Element:
    for element in root.iterfind("f:differential/f:element", NS):
        if element.get("id") == element_id:
            return element
    raise AssertionError(f"{element_id} not in {_url(root)}")


def _value(element: ET.Element, tag: str) -> str | None:
    found = element.find(f"f:{tag}", NS)
    return None if found is None else found.get("value")


@cache
def _all_profile_urls() -> frozenset[str]:
    return frozenset(_url(_xml(path)) for path in (UK_CORE / "structuredefinitions").glob("*.xml"))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return document_bundle(sample_note())


PROFILES = {
    "UKCore-Patient": profiles.PATIENT,
    "UKCore-Practitioner": profiles.PRACTITIONER,
    "UKCore-Organization": profiles.ORGANIZATION,
    "UKCore-Encounter": profiles.ENCOUNTER,
    "UKCore-Composition": profiles.COMPOSITION,
    "UKCore-Condition": profiles.CONDITION,
    "UKCore-MedicationStatement": profiles.MEDICATION_STATEMENT,
    "UKCore-AllergyIntolerance": profiles.ALLERGY_INTOLERANCE,
    "UKCore-Observation": profiles.OBSERVATION,
    "UKCore-DocumentReference": profiles.DOCUMENT_REFERENCE,
    "UKCore-Provenance": profiles.PROVENANCE,
    "UKCore-Device": profiles.DEVICE,
    "UKCore-Bundle": profiles.BUNDLE,
    "UKCore-AuditEvent": profiles.AUDIT_EVENT,
}


@pytest.mark.parametrize(("name", "url"), sorted(PROFILES.items()))
def test_profile_urls_are_the_structuredefinition_urls(name: str, url: str) -> None:
    root = _definition(name)
    assert _url(root) == url
    assert _value(root, "fhirVersion") == "4.0.1"
    assert _value(root, "type") == name.split("-")[1]


def test_every_meta_profile_in_the_bundle_is_a_uk_core_profile_of_that_type(document: dict[str, Any]) -> None:
    resources = [document, *(entry["resource"] for entry in document["entry"])]
    for resource in resources:
        [profile] = resource["meta"]["profile"]
        assert profile in _all_profile_urls(), profile
        root = _definition(profile.rsplit("/", 1)[1])
        assert _value(root, "type") == resource["resourceType"]


def test_nhs_number_system_is_the_one_uk_core_fixes(document: dict[str, Any]) -> None:
    root = _definition("UKCore-Patient")
    fixed = {_value(e, "fixedUri") for e in root.iterfind("f:differential/f:element", NS)} - {None}
    assert profiles.NHS_NUMBER in fixed
    system = _element(root, "Patient.identifier:nhsNumber.system")
    assert _value(system, "fixedUri") == profiles.NHS_NUMBER and system.find("f:min", NS).get("value") == "1"
    [patient] = [e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patient["identifier"][0]["system"] == profiles.NHS_NUMBER


def test_ods_code_system_is_the_one_uk_core_fixes() -> None:
    root = _definition("UKCore-Organization")
    fixed = {_value(e, "fixedUri") for e in root.iterfind("f:differential/f:element", NS)} - {None}
    assert profiles.ODS_ORGANIZATION in fixed


@pytest.mark.parametrize("sign", vitals.ALL, ids=lambda s: s.profile)
def test_vital_sign_codes_and_units_are_those_the_profiles_fix(sign: vitals.VitalSign) -> None:
    root = _definition(sign.profile)
    assert _url(root) == sign.profile_url
    codes = [_value(e, "fixedCode") for e in root.iterfind("f:differential/f:element", NS)]
    codes = [code for code in codes if code]
    assert codes[0] == sign.loinc
    if sign is vitals.BLOOD_PRESSURE:
        assert codes[1:] == [vitals.SYSTOLIC[0], "mm[Hg]", vitals.DIASTOLIC[0], "mm[Hg]"]
        strings = [_value(e, "fixedString") for e in root.iterfind("f:differential/f:element", NS)]
        assert vitals.SYSTOLIC[1] in strings and vitals.DIASTOLIC[1] in strings
    elif len(codes) > 1:  # the profile fixes the UCUM unit
        assert codes[1:] == list(sign.units)
        unit_text = [_value(e, "fixedString") for e in root.iterfind("f:differential/f:element", NS)]
        if any(unit_text):  # and, for most, the unit's text
            assert vitals.ucum(sign.units[0]) == (sign.units[0], next(text for text in unit_text if text))


def test_vital_signs_parent_profile_is_observation_vital_signs() -> None:
    assert _url(_definition("UKCore-Observation-VitalSigns")) == vitals.VITAL_SIGNS_PROFILE
    for sign in vitals.ALL:
        assert _value(_definition(sign.profile), "baseDefinition") == vitals.VITAL_SIGNS_PROFILE


def _valueset_codes(name: str) -> set[tuple[str, str]]:
    root = _xml(UK_CORE / "valuesets" / f"ValueSet-{name}.xml")
    codes = set()
    for include in root.iterfind(".//f:include", NS):
        system = _value(include, "system")
        codes |= {(system, c.find("f:code", NS).get("value")) for c in include.iterfind("f:concept", NS)}
    for contains in root.iterfind(".//f:contains", NS):
        codes.add((_value(contains, "system"), _value(contains, "code")))
    return codes


def test_section_headings_are_in_the_uk_core_section_code_valueset(document: dict[str, Any]) -> None:
    allowed = _valueset_codes("UKCore-CompositionSectionCode")
    for code, _display in profiles.HEADINGS.values():
        assert (profiles.RECORD_HEADINGS, code) in allowed
    [comp] = [e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "Composition"]
    used = {(c["system"], c["code"]) for s in comp["section"] for c in s.get("code", {}).get("coding", [])}
    assert {pair for pair in used if pair[0] == profiles.RECORD_HEADINGS} <= allowed


def test_condition_category_is_in_the_uk_core_valueset(document: dict[str, Any]) -> None:
    allowed = _valueset_codes("UKCore-ConditionCategory")
    for entry in document["entry"]:
        if entry["resource"]["resourceType"] == "Condition":
            for coding in entry["resource"]["category"][0]["coding"]:
                assert (coding["system"], coding["code"]) in allowed


def test_elements_uk_core_requires_are_present(document: dict[str, Any]) -> None:
    allergy = _element(_definition("UKCore-AllergyIntolerance"), "AllergyIntolerance.code")
    assert allergy.find("f:min", NS).get("value") == "1"
    med = _definition("UKCore-MedicationStatement")
    assert _element(med, "MedicationStatement.identifier.system").find("f:min", NS).get("value") == "1"
    assert _element(med, "MedicationStatement.identifier.value").find("f:min", NS).get("value") == "1"
    for entry in document["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "AllergyIntolerance":
            assert resource["code"]["text"]
        if resource["resourceType"] == "MedicationStatement":
            assert all(i["system"] and i["value"] for i in resource["identifier"])


def test_composition_type_binding_is_only_preferred_so_loinc_is_allowed() -> None:
    binding = _element(_definition("UKCore-Composition"), "Composition.type").find("f:binding", NS)
    assert _value(binding, "strength") == "preferred"
    section = _element(_definition("UKCore-Composition"), "Composition.section.code").find("f:binding", NS)
    assert _value(section, "strength") == "extensible"


@pytest.fixture(scope="module")
def corrected() -> dict[str, Any]:
    """A correction's transaction: version 1's letters superseded, its dropped items entered-in-error."""
    first, second = sample_correction_data()
    first["problems"].append({"name": "Asthma", "status": "ongoing"})
    first["allergies"].append({"substance": "Latex", "reaction": "hives"})
    first["findings"].append({"name": "Oxygen saturation", "value": "97", "unit": "%"})
    return transaction_bundle(ApprovedNote.model_validate(second), previous=ApprovedNote.model_validate(first))


def _retired(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        codes = [c["code"] for c in resource.get("verificationStatus", {}).get("coding", [])]
        if resource.get("status") in ("superseded", "entered-in-error") or "entered-in-error" in codes:
            found.append(resource)
    return found


def test_retired_resources_keep_their_uk_core_profile(corrected: dict[str, Any]) -> None:
    retired = _retired(corrected)
    assert sorted(r["resourceType"] for r in retired) == [
        "AllergyIntolerance",
        "Condition",
        "DocumentReference",
        "DocumentReference",
        "MedicationStatement",
        "Observation",
    ]
    for resource in (entry["resource"] for entry in corrected["entry"]):
        [profile] = resource["meta"]["profile"]
        assert profile in _all_profile_urls(), profile
        assert _value(_definition(profile.rsplit("/", 1)[1]), "type") == resource["resourceType"]


def test_uk_core_allows_entered_in_error_without_a_clinical_status(corrected: dict[str, Any]) -> None:
    """UK Core neither requires clinicalStatus nor narrows the status codes, so R4's con-5 / ait-2 decide."""
    for kind in ("Condition", "AllergyIntolerance"):
        root = _definition(f"UKCore-{kind}")
        for element in (f"{kind}.clinicalStatus", f"{kind}.verificationStatus"):
            assert _value(_element(root, element), "min") in (None, "0")
            assert _element(root, element).find("f:binding", NS) is None
    for kind in ("MedicationStatement", "Observation", "DocumentReference"):
        status = _element(_definition(f"UKCore-{kind}"), f"{kind}.status")
        assert status.find("f:binding", NS) is None and _value(status, "min") in (None, "0")
    for resource in _retired(corrected):
        if resource["resourceType"] in ("Condition", "AllergyIntolerance"):
            assert "clinicalStatus" not in resource and resource["code"]["text"]  # AllergyIntolerance.code 1..1


def test_retired_items_keep_what_uk_core_requires(corrected: dict[str, Any]) -> None:
    allowed = _valueset_codes("UKCore-ConditionCategory")
    for resource in _retired(corrected):
        if resource["resourceType"] == "MedicationStatement":
            assert all(i["system"] and i["value"] for i in resource["identifier"])
        if resource["resourceType"] == "Condition":
            for coding in resource["category"][0]["coding"]:
                assert (coding["system"], coding["code"]) in allowed
