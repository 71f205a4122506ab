"""`python -m fhir_mappings`: schema, bundles from a note file, precise errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fhir_mappings.sample import sample_note_data

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
