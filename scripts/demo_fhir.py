#!/usr/bin/env python3
"""`make demo`, EPR part: the approved demo note leaves as FHIR R4 (UK Core), once, however often it is sent.

Run by ``scripts/demo_review.py`` (as its own process, in the demo store's environment) after the
clinician approved the note: ``scribe export`` writes the document Bundle to
``.cache/demo/fhir-document.json``, then sends the note as a transaction to the in-memory test FHIR
server (``tests/fhir_server``, standing in for an EPR on 127.0.0.1) twice, and reads back what the
server holds: one Composition for the patient, its attester, and the Provenance that says AI software
drafted it and which clinician approved it.

Usage (``SCRIBE_DATA_DIR`` and the store key set as ``scripts/demo_review.py`` sets them)::

    .venv/bin/python scripts/demo_fhir.py --demo .cache/demo --consultation ID --nhs-number 9434765919
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

from benchkit import REPO, local_fhir_server, run_scribe, say

from scribe.export.fhir_client import FhirClient

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"


def _resources(client: FhirClient, resource_type: str, **params: str) -> list[dict]:
    return [entry["resource"] for entry in client.search(resource_type, **params).get("entry", [])]


def show(env: dict[str, str], cid: str, demo: Path, nhs_number: str) -> None:
    """Export the approved consultation ``cid`` to a file and to the local FHIR server, and show what landed."""
    document = demo / "fhir-document.json"
    say("-- the approved note as a FHIR R4 document Bundle with UK Core profiles (`scribe export -o`)")
    run_scribe(env, "export", cid, "-o", str(document))
    bundle = json.loads(document.read_text())
    kinds = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    say(f"   {document}: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()))
    with local_fhir_server() as server:
        url = server.url
        say(f"-- sent twice to a FHIR R4 server (the in-memory test server at {url}, standing in for an EPR)")
        run_scribe(env, "export", cid, "--to", url)
        run_scribe(env, "export", cid, "--to", url)
        with FhirClient(url) as client:
            patients = _resources(client, "Patient", identifier=f"{NHS_NUMBER}|{nhs_number}")
            compositions = _resources(client, "Composition", subject=f"Patient/{patients[0]['id']}")
            provenance = _resources(client, "Provenance")
            devices = {d["id"]: d for d in _resources(client, "Device")}
            practitioners = {p["id"]: p for p in _resources(client, "Practitioner")}
        say(f"   the server holds {len(patients)} Patient, {len(compositions)} Composition for NHS number {nhs_number}")
        for comp in compositions:
            who = practitioners.get(comp["attester"][0]["party"]["reference"].split("/")[-1], {})
            name = (who.get("name") or [{}])[0].get("text", "?")
            say(
                f"   Composition '{comp['title']}' ({comp['status']}), {len(comp['section'])} sections, attester {name}"
            )
        for prov in provenance:
            agents = []
            for agent in prov["agent"]:
                ref = agent["who"]["reference"].split("/")[-1]
                who = practitioners.get(ref) or devices.get(ref) or {}
                label = (who.get("name") or [{}])[0].get("text") or (who.get("deviceName") or [{}])[0].get("name", ref)
                agents.append(f"{agent['type']['text']}: {label}")
            say(f"   Provenance: {prov['activity']['text']}; " + "; ".join(agents))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--demo", type=Path, default=REPO / ".cache" / "demo", help="Where `make demo` keeps its files."
    )
    parser.add_argument("--consultation", required=True, help="The approved consultation's id.")
    parser.add_argument("--nhs-number", required=True, help="Its patient's NHS number (read back from the server).")
    args = parser.parse_args()
    show(dict(os.environ), args.consultation, args.demo, args.nhs_number)


if __name__ == "__main__":
    main()
