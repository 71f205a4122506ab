"""Document and transaction Bundles from the sample approved note."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fhir.resources.R4B import get_fhir_model_class
from helpers.fhir_server import walk_objects

from fhir_mappings import ApprovedNote, Terminology, document_bundle, transaction_bundle
from fhir_mappings.ids import URI_SYSTEM
from fhir_mappings.sample import sample_note, sample_note_data

SNOMED = "http://snomed.info/sct"
STRUCTURAL = {
    "http://loinc.org",
    "http://unitsofmeasure.org",
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings",
    "http://terminology.hl7.org/CodeSystem/condition-category",
    "http://terminology.hl7.org/CodeSystem/condition-clinical",
    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
    "http://terminology.hl7.org/CodeSystem/observation-category",
    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
}


def _codings(value: Any) -> list[dict[str, Any]]:
    return [c for node in walk_objects(value) for c in node.get("coding", [])]


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.fixture(scope="module")
def note() -> ApprovedNote:
    return sample_note()


@pytest.fixture(scope="module")
def document(note: ApprovedNote) -> dict[str, Any]:
    return document_bundle(note)


def test_every_resource_validates_through_fhir_resources_r4b(document: dict[str, Any], note: ApprovedNote) -> None:
    kinds = []
    for entry in document["entry"]:
        resource = entry["resource"]
        model = get_fhir_model_class(resource["resourceType"])
        assert model.__module__.startswith("fhir.resources.R4B.")
        model.model_validate(resource)
        kinds.append(resource["resourceType"])
    get_fhir_model_class("Bundle").model_validate(document)
    get_fhir_model_class("Bundle").model_validate(transaction_bundle(note))
    assert kinds[0] == "Composition"
    assert set(kinds) == {
        "Composition",
        "Patient",
        "Practitioner",
        "Organization",
        "Encounter",
        "Condition",
        "MedicationStatement",
        "AllergyIntolerance",
        "Observation",
        "DocumentReference",
        "Device",
        "Provenance",
    }


def test_document_bundle_shape(document: dict[str, Any], note: ApprovedNote) -> None:
    assert document["type"] == "document"
    assert document["identifier"]["system"] == URI_SYSTEM
    assert document["timestamp"] == "2026-03-02T10:30:00Z"
    urls = [e["fullUrl"] for e in document["entry"]]
    assert len(urls) == len(set(urls))
    assert all(url == f"urn:uuid:{e['resource']['id']}" for url, e in zip(urls, document["entry"], strict=True))
    # every reference resolves inside the document
    references = [node["reference"] for node in walk_objects(document) if "reference" in node]
    assert references and set(references) <= set(urls)


def test_composition_mirrors_the_note(document: dict[str, Any], note: ApprovedNote) -> None:
    [comp] = _resources(document, "Composition")
    assert comp["status"] == "final"
    assert comp["type"]["coding"] == [{"system": "http://loinc.org", "code": "11488-4"}]
    assert comp["title"] == note.title
    [patient] = _resources(document, "Patient")
    [practitioner] = _resources(document, "Practitioner")
    [encounter] = _resources(document, "Encounter")
    assert comp["subject"]["reference"] == f"urn:uuid:{patient['id']}"
    assert comp["encounter"]["reference"] == f"urn:uuid:{encounter['id']}"
    assert comp["author"] == [{"reference": f"urn:uuid:{practitioner['id']}"}]
    [attester] = comp["attester"]
    assert attester["mode"] == "legal" and attester["party"]["reference"] == f"urn:uuid:{practitioner['id']}"
    assert attester["time"] == "2026-03-02T10:30:00Z"
    note_sections = comp["section"][: len(note.sections)]
    for section, expected in zip(note_sections, note.sections, strict=True):
        assert section["title"] == expected.title
        assert section["code"]["coding"] == [{"system": "http://loinc.org", "code": expected.loinc}]
        assert section["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        for statement in expected.statements:
            assert statement.text.replace("<", "&lt;").replace(">", "&gt;") in section["text"]["div"]
    titles = [s["title"] for s in comp["section"][len(note.sections) :]]
    assert titles == ["Problems", "Medications", "Allergies", "Findings", "Letters"]


def test_patient_practitioner_organisation_identifiers(document: dict[str, Any]) -> None:
    [patient] = _resources(document, "Patient")
    assert patient["identifier"] == [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}]
    assert patient["birthDate"] == "1980-05-17"
    [org] = _resources(document, "Organization")
    assert org["identifier"] == [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A99999"}]
    [practitioner] = _resources(document, "Practitioner")
    assert practitioner["identifier"][0] == {"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": "C1234567"}


def test_provenance_names_the_clinician_and_the_ai_device(document: dict[str, Any]) -> None:
    [prov] = _resources(document, "Provenance")
    [device] = _resources(document, "Device")
    [practitioner] = _resources(document, "Practitioner")
    who = {agent["type"]["coding"][0]["code"]: agent["who"]["reference"] for agent in prov["agent"]}
    assert who == {"attester": f"urn:uuid:{practitioner['id']}", "assembler": f"urn:uuid:{device['id']}"}
    assert "AI" in prov["activity"]["text"]
    targets = {t["reference"] for t in prov["target"]}
    clinical = {"Composition", "Condition", "MedicationStatement", "AllergyIntolerance", "Observation"}
    expected = {
        e["fullUrl"] for e in document["entry"] if e["resource"]["resourceType"] in clinical | {"DocumentReference"}
    }
    assert targets == expected
    assert device["deviceName"] == [{"name": "scribe", "type": "user-friendly-name"}]
    assert [v["value"] for v in device["version"]] == [
        "0.1.0",
        "whisper-base ct2",
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    ]


def test_separate_author_appears_as_its_own_practitioner() -> None:
    data = sample_note_data()
    data["practitioner"] = {"name": "Nurse Jo Example"}
    bundle = document_bundle(ApprovedNote.model_validate(data))
    practitioners = _resources(bundle, "Practitioner")
    assert len(practitioners) == 2
    [comp] = _resources(bundle, "Composition")
    author = next(p for p in practitioners if p["name"][0]["text"] == "Nurse Jo Example")
    approver = next(p for p in practitioners if p is not author)
    assert comp["author"][0]["reference"] == f"urn:uuid:{author['id']}"
    assert comp["attester"][0]["party"]["reference"] == f"urn:uuid:{approver['id']}"


def test_vital_signs_get_loinc_and_ucum_other_findings_text(document: dict[str, Any]) -> None:
    observations = {o["code"]["text"]: o for o in _resources(document, "Observation")}
    pulse = observations["Pulse"]
    assert pulse["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns-HeartRate"
    ]
    assert pulse["code"]["coding"] == [{"system": "http://loinc.org", "code": "8867-4"}]
    assert pulse["valueQuantity"] == {
        "value": 72.0,
        "unit": "per minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert pulse["category"][0]["coding"][0]["code"] == "vital-signs"
    assert observations["Temperature"]["valueQuantity"]["code"] == "Cel"
    bp = observations["Blood pressure"]
    assert "valueQuantity" not in bp
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"]) for c in bp["component"]] == [
        ("8480-6", 128.0),
        ("8462-4", 82.0),
    ]
    chest = observations["Chest"]
    assert chest["valueString"] == "clear" and "coding" not in chest["code"]
    assert chest["meta"]["profile"] == ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation"]


@pytest.mark.parametrize(
    ("finding", "vital"),
    [
        ({"name": "Weight", "value": "70"}, False),  # kg or stone? not guessed
        ({"name": "Weight", "value": "70", "unit": "kg"}, True),
        ({"name": "Heart rate", "value": "irregular"}, False),
        ({"name": "Heart rate", "value": "88"}, True),
        ({"name": "Temperature", "value": "99", "unit": "F"}, False),
        ({"name": "Glucose", "value": "5.4", "unit": "mmol/L"}, False),
    ],
)
def test_vital_sign_only_when_value_and_unit_fit_the_profile(finding: dict[str, str], vital: bool) -> None:
    data = sample_note_data()
    data["findings"] = [finding]
    [obs] = _resources(document_bundle(ApprovedNote.model_validate(data)), "Observation")
    assert ("VitalSigns" in obs["meta"]["profile"][0]) is vital
    assert ("coding" in obs["code"]) is vital
    if finding["name"] == "Glucose":
        assert obs["valueQuantity"] == {
            "value": 5.4,
            "unit": "millimole per liter",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        }


def test_no_clinical_codings_without_a_terminology_map(document: dict[str, Any]) -> None:
    systems = {coding["system"] for coding in _codings(document)}
    assert systems <= STRUCTURAL, systems - STRUCTURAL
    for kind in ("Condition", "MedicationStatement", "AllergyIntolerance"):
        for resource in _resources(document, kind):
            concept = resource.get("code") or resource["medicationCodeableConcept"]
            assert "coding" not in concept and concept["text"]


def test_codings_come_from_the_site_map_only() -> None:
    terms = Terminology.from_text(
        "term,system,code,display,kind\n"
        "Cough,http://snomed.info/sct,49727002,Cough,problem\n"
        "Penicillin,http://snomed.info/sct,764146007,Penicillin,allergy\n"
    )
    bundle = document_bundle(sample_note(), terms)
    [condition] = _resources(bundle, "Condition")
    assert condition["code"] == {
        "text": "Cough",
        "coding": [{"system": SNOMED, "code": "49727002", "display": "Cough"}],
    }
    [allergy] = _resources(bundle, "AllergyIntolerance")
    assert allergy["code"]["coding"][0]["code"] == "764146007"
    assert "coding" not in allergy["reaction"][0]["manifestation"][0]  # 'rash' is not in the map
    [med] = _resources(bundle, "MedicationStatement")
    assert "coding" not in med["medicationCodeableConcept"]
    snomed = [c["code"] for c in _codings(bundle) if c["system"] == SNOMED]
    assert sorted(snomed) == ["49727002", "764146007"]


def test_ids_are_stable_across_calls_and_differ_per_consultation(note: ApprovedNote) -> None:
    first, second = document_bundle(note), document_bundle(sample_note())
    assert first == second
    other = document_bundle(sample_note(consultation_id="another-consultation"))
    ids = {e["resource"]["resourceType"]: e["resource"]["id"] for e in first["entry"]}
    other_ids = {e["resource"]["resourceType"]: e["resource"]["id"] for e in other["entry"]}
    for kind in ("Composition", "Encounter", "Condition", "Provenance", "DocumentReference"):
        assert ids[kind] != other_ids[kind]
    for kind in ("Patient", "Practitioner", "Organization", "Device"):  # the same people, place and software
        assert ids[kind] == other_ids[kind]


def test_new_version_updates_the_record_and_supersedes_the_letter(note: ApprovedNote) -> None:
    data = sample_note_data(version=3)
    data["supersedes_version"] = 1
    later = document_bundle(ApprovedNote.model_validate(data))
    first = document_bundle(note)

    def ids(bundle: dict[str, Any]) -> dict[str, str]:
        return {e["resource"]["resourceType"]: e["resource"]["id"] for e in bundle["entry"]}

    assert ids(later)["Composition"] == ids(first)["Composition"]
    assert ids(later)["Condition"] == ids(first)["Condition"]
    assert ids(later)["Provenance"] != ids(first)["Provenance"]
    assert later["identifier"] != first["identifier"]
    [old] = _resources(first, "DocumentReference")
    [new] = _resources(later, "DocumentReference")
    assert new["id"] != old["id"]
    assert new["relatesTo"] == [
        {"code": "replaces", "target": {"type": "DocumentReference", "identifier": old["identifier"][0]}}
    ]
    assert "relatesTo" not in old


def test_letter_is_attached_as_pdf(document: dict[str, Any], note: ApprovedNote) -> None:
    [ref] = _resources(document, "DocumentReference")
    attachment = ref["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    assert base64.b64decode(attachment["data"]).startswith(b"%PDF-")
    assert attachment["size"] == len(base64.b64decode(note.letters[0].pdf_base64))
    assert ref["status"] == "current" and ref["docStatus"] == "final"


def test_disputes_are_carried_into_the_document() -> None:
    data = sample_note_data()
    data["disputes"] = [{"text": "I did not say I smoke.", "recorded_at": "2026-03-05T09:00:00+00:00"}]
    [comp] = _resources(document_bundle(ApprovedNote.model_validate(data)), "Composition")
    dispute = comp["section"][-1]
    assert dispute["title"] == "Patient's recorded disagreement"
    assert "2026-03-05: I did not say I smoke." in dispute["text"]["div"]


def test_transaction_uses_conditional_writes_on_identifiers(note: ApprovedNote) -> None:
    bundle = transaction_bundle(note)
    assert bundle["type"] == "transaction"
    assert bundle == transaction_bundle(sample_note())
    document = document_bundle(note)
    assert [e["fullUrl"] for e in bundle["entry"]] == [e["fullUrl"] for e in document["entry"]]
    for entry in bundle["entry"]:
        resource, request = entry["resource"], entry["request"]
        kind = resource["resourceType"]
        assert "id" not in resource
        if request["method"] == "PUT":
            path, query = request["url"].split("?", 1)
        else:
            assert request["method"] == "POST" and request["url"] == kind
            query = request["ifNoneExist"]
            path = kind
        assert path == kind
        [(name, [value])] = parse_qs(query).items()
        system, code = value.split("|", 1)
        if name == "identifier":
            identifiers = resource.get("identifier")
            identifiers = [identifiers] if isinstance(identifiers, dict) else identifiers
            assert {"system": system, "value": code} in identifiers
        else:
            assert name == "_tag" and {"system": system, "code": code} in resource["meta"]["tag"]
    methods = {e["resource"]["resourceType"]: e["request"]["method"] for e in bundle["entry"]}
    assert methods["Patient"] == methods["Practitioner"] == methods["Organization"] == "POST"  # the EPR owns them
    assert methods["Composition"] == methods["Condition"] == methods["DocumentReference"] == "PUT"
    assert urlsplit(bundle["entry"][0]["request"]["url"]).path == "Composition"


def test_identifier_values_never_equal_a_full_url(note: ApprovedNote) -> None:
    """Servers that rewrite every string naming a fullUrl would otherwise break the identifiers re-sends search by."""
    bundle = transaction_bundle(note)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    strings = {
        v
        for node in walk_objects(bundle)
        for k, v in node.items()
        if isinstance(v, str) and k not in ("reference", "fullUrl")
    }
    assert urls.isdisjoint(strings)
    values = {i["value"] for e in bundle["entry"] for i in _identifiers(e["resource"])}
    assert values and urls.isdisjoint(values)
    queries = [e["request"].get("ifNoneExist") or e["request"]["url"] for e in bundle["entry"]]
    assert not any(url.split(":")[-1] in query for url in urls for query in queries)


def _identifiers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = resource.get("identifier", [])
    return [found] if isinstance(found, dict) else list(found)


def test_without_nhs_number_or_organisation() -> None:
    data = sample_note_data()
    data["patient"] = {"name": "Unknown Patient"}
    del data["organisation"]
    note = ApprovedNote.model_validate(data)
    bundle = document_bundle(note)
    [patient] = _resources(bundle, "Patient")
    assert [i["system"] for i in patient["identifier"]] == [URI_SYSTEM]
    assert not _resources(bundle, "Organization")
    [comp] = _resources(bundle, "Composition")
    assert "custodian" not in comp
    [entry] = [e for e in transaction_bundle(note)["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert parse_qs(entry["request"]["ifNoneExist"])["identifier"] == [
        f"{URI_SYSTEM}|{patient['identifier'][0]['value']}"
    ]
