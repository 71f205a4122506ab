"""scripts/bench_fhir.py end to end on a small scale: real bundles, the real test FHIR server, the JSON it writes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from helpers.fhir_server import ensure_installed, fhir_server
from helpers.script_loader import load_script

from fhir_mappings import load_approved_note, nhs_number_error, transaction_bundle
from scribe.export.fhir_client import FhirClient
from scribe.retrying import Backoff

bench = load_script("bench_fhir")
kit = load_script("benchkit")


def test_fictitious_notes_vary_patients_and_size() -> None:
    numbers = bench.nhs_numbers(30)
    assert len(set(numbers)) == 30
    assert all(n.startswith("999") and nhs_number_error(n) is None for n in numbers)
    notes, patients, clinicians = bench.make_notes(8, big_every=4)
    assert (patients, clinicians) == (6, 8)
    parsed = [load_approved_note(data) for data in notes]
    assert len({n.consultation_id for n in parsed}) == 8
    assert len({n.patient.nhs_number for n in parsed}) == 6
    small, big = parsed[0], parsed[3]
    assert len(big.sections) > len(small.sections) and len(big.medications) > len(small.medications)
    assert sum(len(s.statements) for s in big.sections) >= 40 and len(big.letters) == 2


def test_small_run_exports_without_failures_or_duplicates(tmp_path: Path) -> None:
    ensure_installed()  # skips without Node.js
    assert bench.main(["--consultations", "5", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "fhir.json").read_text())
    assert result["fictitious"] is True and result["consultations"] == 5
    machine = result["machine"]
    assert machine["cpu_model"] and machine["node"] and machine["versions"]["fhir.resources"]
    build = result["build"]
    assert set(build["stages"]) == {"parse", "document", "transaction", "schema", "schema_per_resource"}
    for stage in build["stages"].values():
        assert stage["n"] == 5 and stage["per_second"] > 0 and stage["p95_ms"] >= stage["mean_ms"] * 0.5
    assert build["schema_invalid_bundles"] == 0
    assert build["resources_max"] > build["resources_min"] >= 10 and build["document_kb_mean"] > 1
    export = result["export"]
    assert export["failures"] == 0 and export["duplicates"] == 0 and export["missing"] == 0
    assert export["first"]["n"] == export["again"]["n"] == 5
    assert len(export["first"]["p50_ms_by_quarter"]) == 4 and export["first"]["p95_ms"] >= export["first"]["p50_ms"]
    assert export["first"]["created"] > 0 and export["again"]["created"] == 0  # the re-send only updates
    counts = export["counts"]
    assert counts["Composition"]["found"] == 5 and counts["Patient"]["found"] == result["patients"] == 4
    assert all(c["duplicates"] == 0 for c in counts.values())
    markdown = (tmp_path / "fhir.md").read_text()
    assert "FICTITIOUS" in markdown and "not an EPR" in markdown


def test_a_duplicate_on_the_server_is_counted_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_all = bench.send_all

    def send_then_duplicate(client, server, transactions, label):  # noqa: ANN001, ANN202
        stats = send_all(client, server, transactions, label)
        if label == "re-send":  # a second, unconditional copy of a stored Composition
            stored = client.search("Composition")["entry"][0]["resource"]
            copy = {k: v for k, v in stored.items() if k not in ("id", "meta")}
            headers = {"Content-Type": "application/fhir+json"}
            httpx.post(f"{client.base_url}/Composition", json=copy, headers=headers).raise_for_status()
        return stats

    monkeypatch.setattr(bench, "send_all", send_then_duplicate)
    with fhir_server() as base_url:  # the --server path: a server the script did not start
        status = bench.main(["--consultations", "2", "--big-every", "0", "--server", base_url, "--out", str(tmp_path)])
    assert status == 1
    export = json.loads((tmp_path / "fhir.json").read_text())["export"]
    assert export["counts"]["Composition"] == {"expected": 2, "found": 3, "duplicates": 1}
    assert export["duplicates"] == 1 and export["failures"] == 0


def test_a_server_that_dies_stops_the_run_with_its_exit_status() -> None:
    ensure_installed()  # skips without Node.js
    notes, _, _ = bench.make_notes(1, big_every=0)
    transactions = [transaction_bundle(load_approved_note(notes[0]))]
    with kit.local_fhir_server() as server:
        server.process.kill()
        server.process.wait(timeout=10)
        client = FhirClient(server.url, backoff=Backoff(0))
        with client, pytest.raises(SystemExit, match="exited with status"):
            bench.send_all(client, server, transactions, "export")
