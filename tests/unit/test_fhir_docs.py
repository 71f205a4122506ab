"""docs/fhir.md and docs/fhir/*.json stay true to fhir_mappings.

The mapping table names every field of the approved note contract (and no field that does not exist),
the profile table names every UK Core profile the mapping uses, and the committed examples are what
scripts/fhir_examples.py builds now and valid FHIR R4.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from helpers.script_loader import load_script
from jsonschema import Draft6Validator
from markdown_it import MarkdownIt

from fhir_mappings import profiles, vitals
from fhir_mappings.bundle import AI_ACTIVITY

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "fhir.md"
EXAMPLES = ROOT / "docs" / "fhir"

examples = load_script("fhir_examples")


def _tables(markdown: str) -> list[list[list[str]]]:
    """Each table of the Markdown as rows of cells (inline source, header row first)."""
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close":
            assert row is not None
            tables[-1].append(row)
            row = None
    return tables


def _table(*header: str) -> list[list[str]]:
    found = [t for t in _tables(DOC.read_text(encoding="utf-8")) if t and tuple(t[0]) == header]
    assert len(found) == 1, f"docs/fhir.md should have one table with the columns {header}"
    return found[0]


def _code_spans(cell: str) -> list[str]:
    tokens = MarkdownIt().parseInline(cell)[0].children or []
    return [token.content for token in tokens if token.type == "code_inline"]


def test_the_field_list_is_generated_from_the_contract() -> None:
    fields = examples.contract_fields()
    assert len(fields) == len(set(fields))
    assert {"consultation_id", "sections[].statements[].text", "approval.clinician.identifier.value"} <= set(fields)
    assert "software.models[].version" in fields and "practitioner.user_id" in fields
    assert "sections[]" in examples.contract_fields(containers=True)
    assert "sections[]" not in fields


def test_mapping_table_covers_every_contract_field() -> None:
    table = _table("approved note field", "FHIR resource.element", "notes")
    documented = [field for row in table[1:] for field in _code_spans(row[0])]
    assert all(len(row) == 3 and row[1].strip() for row in table[1:]), "every row says where the field goes"
    missing = [field for field in examples.contract_fields() if field not in documented]
    assert not missing, f"docs/fhir.md's mapping table lacks these ApprovedNote fields: {missing}"
    unknown = sorted(set(documented) - set(examples.contract_fields(containers=True)))
    assert not unknown, f"docs/fhir.md's mapping table names fields the contract does not have: {unknown}"
    assert len(documented) == len(set(documented)), "a field is listed twice"


def test_profile_table_names_every_profile_the_mapping_uses() -> None:
    documented = {span for row in _table("resource", "profile")[1:] for span in _code_spans(row[1])}
    constants = {name: value for name, value in vars(profiles).items() if name.isupper() and name != "BASE"}
    used = {value for value in constants.values() if str(value).startswith(profiles.BASE)}
    used |= {sign.profile_url for sign in vitals.ALL}
    assert used - documented == set(), f"docs/fhir.md's profile table lacks {sorted(used - documented)}"
    assert documented - used == set(), (
        f"docs/fhir.md's profile table names profiles scribe does not use: {documented - used}"
    )


def test_doc_quotes_the_ai_activity_text_and_keeps_the_export_section() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert AI_ACTIVITY in text
    assert "\n## Sending bundles to an EPR (scribe export)\n" in text


@pytest.mark.parametrize("name", sorted(examples.build()))
def test_committed_example_is_what_the_mapping_builds_now(name: str) -> None:
    path = EXAMPLES / name
    assert path.is_file(), f"docs/fhir/{name} is missing: run {examples.REGENERATE}"
    assert path.read_text(encoding="utf-8") == examples.build()[name], (
        f"docs/fhir/{name} differs from what fhir_mappings builds: run {examples.REGENERATE}"
    )


def test_committed_schema_is_what_the_command_line_prints() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fhir_mappings", "schema"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (EXAMPLES / "approved-note.schema.json").read_text(encoding="utf-8")


def test_check_mode_names_an_out_of_date_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in examples.build().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(examples, "OUT", tmp_path)
    assert examples.main(["--check"]) == 0
    (tmp_path / "example-document-bundle.json").write_text("{}\n", encoding="utf-8")
    assert examples.stale() == ["example-document-bundle.json"]
    assert examples.main(["--check"]) == 1


@cache
def _r4() -> dict[str, Any]:
    from helpers.fhir_server import R4_SCHEMA, ensure_installed

    ensure_installed()
    return json.loads(R4_SCHEMA.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["example-document-bundle.json", "example-transaction-bundle.json"])
def test_committed_examples_are_valid_r4(name: str) -> None:
    bundle = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    schema = {"$ref": "#/definitions/Bundle", "definitions": _r4()["definitions"]}
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft6Validator(schema).iter_errors(bundle)
    ]
    assert errors == []


def test_example_note_is_a_valid_approved_note() -> None:
    from fhir_mappings import load_approved_note

    note = load_approved_note((EXAMPLES / "example-approved-note.json").read_text(encoding="utf-8"))
    schema = json.loads((EXAMPLES / "approved-note.schema.json").read_text(encoding="utf-8"))
    assert schema["title"] == "ApprovedNote" and note.consultation_id == "c0ffee00sample"
