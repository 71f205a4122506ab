"""A corrected note's transaction: the earlier version's letters superseded, dropped items entered-in-error."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.fhir_server import walk_objects

from fhir_mappings import ApprovedNote, document_bundle, transaction_bundle
from fhir_mappings.ids import search
from fhir_mappings.sample import sample_correction, sample_correction_data, sample_note

RETIRED = {"superseded", "entered-in-error"}


def _status(resource: dict[str, Any]) -> str:
    if "verificationStatus" in resource:
        return resource["verificationStatus"]["coding"][0]["code"]
    return str(resource.get("status", ""))


def _entries(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _corrected(drop_more: bool = True) -> tuple[ApprovedNote, ApprovedNote]:
    first, second = sample_correction_data()
    if drop_more:
        first["problems"].append({"name": "Asthma", "status": "ongoing"})
        first["allergies"].append({"substance": "Latex", "reaction": "hives"})
        first["findings"].append({"name": "Oxygen saturation", "value": "97", "unit": "%"})
    return ApprovedNote.model_validate(first), ApprovedNote.model_validate(second)


@pytest.fixture(scope="module")
def versions() -> tuple[ApprovedNote, ApprovedNote]:
    return _corrected()


@pytest.fixture(scope="module")
def bundle(versions: tuple[ApprovedNote, ApprovedNote]) -> dict[str, Any]:
    first, second = versions
    return transaction_bundle(second, previous=first)


def test_previous_must_be_the_version_the_note_supersedes() -> None:
    first, second = sample_correction()
    with pytest.raises(ValueError, match="supersedes no version"):
        transaction_bundle(first, previous=first)
    other, _ = sample_correction("another-consultation")
    with pytest.raises(ValueError, match="another consultation"):
        transaction_bundle(second, previous=other)
    data = sample_correction_data()[1]
    data["version"], data["supersedes_version"] = 3, 2
    with pytest.raises(ValueError, match="previous is version 1, but the note \\(version 3\\) supersedes version 2"):
        transaction_bundle(ApprovedNote.model_validate(data), previous=first)


def test_without_previous_nothing_is_retired(versions: tuple[ApprovedNote, ApprovedNote]) -> None:
    _, second = versions
    plain = transaction_bundle(second)
    assert not [e for e in plain["entry"] if _status(e["resource"]) in RETIRED]
    assert len(plain["entry"]) < len(transaction_bundle(second, previous=versions[0])["entry"])


def test_old_letters_are_superseded_copies_of_what_version_one_sent(
    bundle: dict[str, Any], versions: tuple[ApprovedNote, ApprovedNote]
) -> None:
    first, _ = versions
    sent_before = {e["fullUrl"]: e["resource"] for e in _entries(document_bundle(first), "DocumentReference")}
    letters = _entries(bundle, "DocumentReference")
    superseded = {e["fullUrl"]: e for e in letters if e["resource"]["status"] == "superseded"}
    assert set(superseded) == set(sent_before)  # both kinds: the gp letter replaced, the patient letter dropped
    for url, entry in superseded.items():
        expected = {k: v for k, v in sent_before[url].items() if k != "id"}
        assert entry["resource"] == {**expected, "status": "superseded"}
        identifier = entry["resource"]["identifier"][0]
        assert entry["request"] == {"method": "PUT", "url": _conditional("DocumentReference", identifier)}
    [current] = [e for e in letters if e["resource"]["status"] == "current"]
    [replaced] = current["resource"]["relatesTo"]
    old_gp = next(e for e in superseded.values() if e["resource"]["description"] == "Letter to GP")
    assert replaced["target"]["identifier"] == old_gp["resource"]["identifier"][0]


def _conditional(kind: str, identifier: dict[str, str]) -> str:
    return search(kind, "identifier", identifier["system"], identifier["value"])


def test_dropped_items_are_entered_in_error(bundle: dict[str, Any]) -> None:
    retired = {
        e["resource"]["resourceType"]: e
        for e in bundle["entry"]
        if e["resource"]["resourceType"] != "DocumentReference" and _status(e["resource"]) == "entered-in-error"
    }
    assert set(retired) == {"Condition", "MedicationStatement", "AllergyIntolerance", "Observation"}
    assert retired["MedicationStatement"]["resource"]["medicationCodeableConcept"]["text"] == "Paracetamol"
    assert retired["Condition"]["resource"]["code"]["text"] == "Asthma"
    assert retired["AllergyIntolerance"]["resource"]["code"]["text"] == "Latex"
    assert retired["Observation"]["resource"]["code"]["text"] == "Oxygen saturation"
    condition, allergy = retired["Condition"]["resource"], retired["AllergyIntolerance"]["resource"]
    assert "clinicalStatus" not in condition and "clinicalStatus" not in allergy  # con-5, ait-2
    assert condition["verificationStatus"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}
    ]
    assert allergy["verificationStatus"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "entered-in-error"}
    ]
    for entry in retired.values():
        resource = entry["resource"]
        assert entry["request"]["method"] == "PUT"
        assert entry["request"]["url"] == _conditional(resource["resourceType"], resource["identifier"][0])
        assert "corrects version 1" in resource["note"][-1]["text"]
    kept = [e for e in _entries(bundle, "MedicationStatement") if e["resource"]["status"] != "entered-in-error"]
    assert [e["resource"]["medicationCodeableConcept"]["text"] for e in kept] == ["Simple linctus"]


def test_composition_lists_neither_retired_items_nor_old_letters(bundle: dict[str, Any]) -> None:
    [composition] = _entries(bundle, "Composition")
    listed = {ref["reference"] for s in composition["resource"]["section"] for ref in s.get("entry", [])}
    retired = {e["fullUrl"] for e in bundle["entry"] if _status(e["resource"]) in RETIRED}
    assert len(retired) == 6 and listed.isdisjoint(retired)
    [provenance] = _entries(bundle, "Provenance")
    assert {t["reference"] for t in provenance["resource"]["target"]}.isdisjoint(retired)


def test_every_entry_once_and_every_reference_resolves(bundle: dict[str, Any]) -> None:
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    conditions = [e["request"].get("url", "") + e["request"].get("ifNoneExist", "") for e in bundle["entry"]]
    assert len(conditions) == len(set(conditions))
    references = {node["reference"] for node in walk_objects(bundle) if "reference" in node}
    assert references <= set(urls)


def test_an_earlier_approver_not_in_the_correction_comes_along() -> None:
    first, second = sample_correction_data()
    second["approval"]["clinician"] = {"name": "Dr Locum Example"}
    old, new = ApprovedNote.model_validate(first), ApprovedNote.model_validate(second)
    bundle = transaction_bundle(new, previous=old)
    names = sorted(e["resource"]["name"][0]["text"] for e in _entries(bundle, "Practitioner"))
    assert names == ["Dr Alex Example", "Dr Locum Example"]
    [earlier] = [e for e in _entries(bundle, "Practitioner") if e["resource"]["name"][0]["text"] == "Dr Alex Example"]
    assert earlier["request"]["method"] == "POST" and "ifNoneExist" in earlier["request"]  # never overwrites
    references = {node["reference"] for node in walk_objects(bundle) if "reference" in node}
    assert references <= {e["fullUrl"] for e in bundle["entry"]}


def test_resending_gives_the_same_bundle(versions: tuple[ApprovedNote, ApprovedNote]) -> None:
    first, second = versions
    again_first, again_second = _corrected()
    assert transaction_bundle(second, previous=first) == transaction_bundle(again_second, previous=again_first)


def test_corrected_composition_says_which_document_it_replaces() -> None:
    first, second = sample_correction()
    [old] = [e["resource"] for e in document_bundle(first)["entry"] if e["resource"]["resourceType"] == "Composition"]
    assert "relatesTo" not in old
    document = document_bundle(second)  # no previous needed
    [composition] = [e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "Composition"]
    assert composition["relatesTo"] == [{"code": "replaces", "targetIdentifier": document_bundle(first)["identifier"]}]
    assert composition["identifier"] == old["identifier"]  # the same record, updated
    assert document["identifier"] != document_bundle(first)["identifier"]
    assert "relatesTo" not in document_bundle(sample_note())["entry"][0]["resource"]
