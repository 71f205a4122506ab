"""The site terminology map: CSV parsing, lookup, and errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_mappings.terminology import SNOMED, Coding, Terminology, TerminologyError, snomed_id_valid

CSV = """term,system,code,display,kind
Hypertension,http://snomed.info/sct,38341003,Hypertensive disorder,problem
penicillin,http://snomed.info/sct,764146007,Penicillin,allergy
Amoxicillin  500mg capsules,http://snomed.info/sct,39732311000001104,Amoxicillin 500mg capsules,medication
rash,http://snomed.info/sct,271807003,Eruption of skin,
"""


def test_lookup_is_case_and_space_insensitive_and_per_kind(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text(CSV, encoding="utf-8")
    terms = Terminology.from_csv(path)
    assert len(terms) == 4
    assert terms.lookup("  HYPERTENSION ", "problem") == Coding(SNOMED, "38341003", "Hypertensive disorder")
    assert terms.lookup("hypertension", "medication") is None  # mapped for problems only
    assert terms.lookup("amoxicillin 500mg   capsules", "medication") is not None
    assert terms.lookup("Rash", "reaction") == Coding(SNOMED, "271807003", "Eruption of skin")  # no kind: any list
    assert terms.lookup("cough", "problem") is None


def test_lookup_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Terminology().lookup("x", "drug")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("term,code,display\nx,1,y\n", "missing system"),
        ("term,system,code,display\nx,http://snomed.info/sct,38341004,Bad\n", "line 2: '38341004' is not a SNOMED CT"),
        ("term,system,code,display\nx,snomed,38341003,Hypertension\n", "line 2: system 'snomed' must be a URI"),
        ("term,system,code,display\nx,http://snomed.info/sct,,Hypertension\n", "line 2: code must not be empty"),
        ("term,system,code,display,kind\nx,http://snomed.info/sct,38341003,H,drug\n", "kind 'drug' is not one of"),
        (
            "term,system,code,display\nx,http://snomed.info/sct,38341003,H\nX,http://snomed.info/sct,22298006,M\n",
            "line 3: term 'X' is mapped twice",
        ),
    ],
)
def test_malformed_csv_names_the_line_and_the_fix(text: str, expected: str) -> None:
    with pytest.raises(TerminologyError, match="site.csv") as caught:
        Terminology.from_text(text, source="site.csv")
    assert expected in str(caught.value)


def test_missing_file_is_a_terminology_error(tmp_path: Path) -> None:
    with pytest.raises(TerminologyError, match="cannot read terminology file"):
        Terminology.from_csv(tmp_path / "absent.csv")


def test_non_snomed_systems_are_taken_as_the_site_gives_them() -> None:
    terms = Terminology.from_text("term,system,code,display\nflu,https://example.org/local,FLU-1,Influenza\n")
    assert terms.lookup("flu", "problem") == Coding("https://example.org/local", "FLU-1", "Influenza")


def test_snomed_check_digit() -> None:
    assert all(snomed_id_valid(code) for code in ("38341003", "22298006", "195967001", "39732311000001104"))
    assert not any(snomed_id_valid(code) for code in ("38341004", "12345", "0383410030", "abc"))
