"""`python -m fhir_mappings`: schema, bundles from a note file, precise errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fhir_mappings.sample import sample_correction_data, sample_note_data

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fhir_mappings", *args]
    return subprocess.run(command, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)


def test_schema_and_document_from_a_file(tmp_path: Path) -> None:
    schema = _run("schema")
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "ApprovedNote"
    note = tmp_path / "note.json"
    note.write_text(json.dumps(sample_note_data()))
    codes = tmp_path / "codes.csv"
    codes.write_text("term,system,code,display\nCough,http://snomed.info/sct,49727002,Cough\n")
    out = tmp_path / "bundle.json"
    done = _run("document", str(note), "--terminology", str(codes), "-o", str(out))
    assert done.returncode == 0, done.stderr
    bundle = json.loads(out.read_text())
    assert bundle["type"] == "document" and "49727002" in out.read_text()
    transaction = _run("transaction", "-", stdin=note.read_text())
    assert transaction.returncode == 0 and json.loads(transaction.stdout)["type"] == "transaction"


def test_malformed_note_lists_each_problem_without_echoing_data(tmp_path: Path) -> None:
    data = sample_note_data()
    data["patient"]["nhs_number"] = "9434765918"
    del data["approval"]["attestation"]
    note = tmp_path / "note.json"
    note.write_text(json.dumps(data))
    done = _run("document", str(note))
    assert done.returncode == 2 and done.stdout == ""
    assert "(2 problems)" in done.stderr
    assert "patient.nhs_number: Value error, NHS number fails the Modulus 11 check" in done.stderr
    assert "approval.attestation: Field required" in done.stderr
    assert "9434765918" not in done.stderr
    bad_csv = tmp_path / "codes.csv"
    bad_csv.write_text("term,code\n")
    note.write_text(json.dumps(sample_note_data()))
    done = _run("document", str(note), "--terminology", str(bad_csv))
    assert done.returncode == 2 and "missing system, display" in done.stderr


def test_transaction_of_a_correction_with_previous(tmp_path: Path) -> None:
    first, second = sample_correction_data()
    old, new = tmp_path / "v1.json", tmp_path / "v2.json"
    old.write_text(json.dumps(first))
    new.write_text(json.dumps(second))
    done = _run("transaction", str(new), "--previous", str(old))
    assert done.returncode == 0, done.stderr
    statuses = [entry["resource"].get("status") for entry in json.loads(done.stdout)["entry"]]
    assert statuses.count("superseded") == 2 and statuses.count("entered-in-error") == 1
    wrong = _run("transaction", str(new), "--previous", str(new))
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "previous is version 2, but the note (version 2) supersedes version 1" in wrong.stderr
    first["approval"]["at"] = "yesterday"
    old.write_text(json.dumps(first))
    bad = _run("transaction", str(new), "--previous", str(old))
    assert bad.returncode == 2 and f"{old} is not a valid approved note (1 problems)" in bad.stderr
    assert "--previous" not in _run("document", "--help").stdout
