#!/usr/bin/env python3
"""`make demo`, review part: the demo's draft goes through the review app the way a clinician's would.

Loads the demo's SYNTHETIC sample consultation (its audio, the transcript and note the demo just
made, and the patient letter) into a fresh encrypted store under ``.cache/demo/store``, starts a
real ``scribe serve`` on 127.0.0.1, and over HTTP: signs in as the demo clinician, opens the
review page, reads what the grounding check removed (and leaves it out), deletes anything still
flagged unsupported, approves with the attestation, exports the approved note as text; then
signs in as the demo integrator and shows what that role may not read. Then the approved note
leaves as FHIR R4 (``scripts/demo_fhir.py``, its own process: a document Bundle file, and a transaction sent twice
to the in-memory test FHIR server, landing once). Ends with the audit trail and how to open the app
in a browser (`make serve`).

Usage::

    .venv/bin/python scripts/demo_review.py --demo .cache/demo
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from benchkit import CSRF_FIELD, CSRF_META, REPO, SCRIPTS, review_server, run_scribe, say

from scribe.config import load_settings
from scribe.notes.inputs import load_transcript
from scribe.pipeline import decode_audio
from scribe.records import Letter, NoteDraft
from scribe.review.playback import playback_flac
from scribe.rows import Consent, ConsultationStatus, PatientDetails, Role
from scribe.store import Audio, open_store
from scribe.store.accounts import hash_password
from scribe.store.crypto import new_key, write_key_file

SAMPLE = REPO / "tests" / "data" / "sample_mono.flac"
NHS_NUMBER = "9434765919"  # from the NHS test range: no real person
PASSWORD = "demo-password-change-me"  # a demo store only; real accounts come from `scribe users add`
log = logging.getLogger("demo_review")


def fill(demo: Path) -> tuple[dict[str, str], str]:
    """A fresh store holding the demo consultation, drafted and waiting for review; returns env and its id."""
    store_dir, key_file = demo / "store", demo / "store.key"
    shutil.rmtree(store_dir, ignore_errors=True)
    if not key_file.exists():
        write_key_file(key_file, new_key())
    env = {
        **os.environ,
        "SCRIBE_DATA_DIR": str(store_dir),
        "SCRIBE_STORE_KEY_FILE": str(key_file),
        "SCRIBE_CONFIG": str(demo / "none.toml"),
    }
    settings = load_settings(data_dir=store_dir, store_key_file=key_file)
    store = open_store(settings)
    try:
        clinician = store.users.create(
            "demo.clinician", "Dr Demo Clinician", Role.CLINICIAN, hash_password(PASSWORD), totp_required=False
        )
        store.users.create(
            "demo.integrator", "Demo EPR Integrator", Role.INTEGRATOR, hash_password(PASSWORD), totp_required=False
        )
        patient = PatientDetails(name="Synthetic Patient", nhs_number=NHS_NUMBER, reason="headache (synthetic sample)")
        c = store.consultations.create(clinician.id, "gp", patient)
        store.consultations.set_consent(c.id, Consent(informed=True, agreed=True, recorded_by=clinician.id))
        data = SAMPLE.read_bytes()
        store.audio.put(c.id, "original", Audio(data, "audio/flac"))
        store.audio.put(c.id, "playback", playback_flac(decode_audio(data, settings)))
        store.notes.put_transcript(c.id, load_transcript(demo / "transcript.json"))
        note = NoteDraft.model_validate_json((demo / "note.json").read_text())
        version = store.notes.add_version(c.id, note, created_by=None)
        letter_file = demo / "patient-letter.json"
        if letter_file.exists():
            store.notes.put_letter(c.id, version.version, Letter.model_validate_json(letter_file.read_text()))
        store.consultations.set_status(c.id, ConsultationStatus.DRAFTED)
        return env, c.id
    finally:
        store.close()


def sign_in(client: httpx.Client, username: str) -> str:
    page = client.get("/login")
    token = CSRF_FIELD.search(page.text).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"})
    home = client.get("/")
    home.raise_for_status()
    return CSRF_META.search(home.text).group(1)


def walk(base: str, cid: str, note: NoteDraft) -> None:
    """Review as a careful clinician: read what the check removed, take out what is still flagged, then approve."""
    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
        csrf = sign_in(client, "demo.clinician")
        say("signed in as demo.clinician (clinician)")
        started = time.perf_counter()
        page = client.get(f"/consultations/{cid}")
        page.raise_for_status()
        took = (time.perf_counter() - started) * 1000
        flagged = page.text.count("is-unsupported")
        size = len(page.content) // 1024
        say(f"review page: HTTP {page.status_code}, {size} KiB in {took:.0f} ms; {flagged} items flagged")
        say(f"removed by the check ({len(note.removed)}), read against the transcript and left out (not restored):")
        for removed in note.removed:
            say(f"  [{removed.section}] {removed.statement.text!r}: {removed.statement.reason}")
        # Anything still flagged unsupported (a structured item, say) is taken out before approval:
        # a clinician never approves what the transcript does not support.
        parts = [(section.key, list(section.statements)) for section in note.sections]
        parts += [(name, list(getattr(note, name))) for name in ("medications", "allergies", "problems", "findings")]
        for key, items in parts:
            for index in reversed(range(len(items))):
                if items[index].supported is False:
                    client.post(
                        f"/consultations/{cid}/statements/{key}/{index}/delete",
                        data={"version": "1", "csrf_token": csrf},
                    ).raise_for_status()
                    say(f"deleted unsupported [{key}] {items[index].claim()!r}: {items[index].reason}")
        approve = client.post(
            f"/consultations/{cid}/approve",
            data={"attest": "yes", "flags_checked": "yes", "version": "1", "csrf_token": csrf},
        )
        approve.raise_for_status()
        say("approved with the attestation; the recording was deleted at approval (retention policy default)")
        text = client.get(f"/consultations/{cid}/export/text")
        text.raise_for_status()
        say("-- the approved note exported as text (for an EPR without FHIR):")
        say(text.text.rstrip())

    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
        sign_in(client, "demo.integrator")
        note_page = client.get(f"/consultations/{cid}")
        audio = client.get(f"/consultations/{cid}/audio")
        say(f"-- signed in as demo.integrator: approved note HTTP {note_page.status_code}, "
            f"recording HTTP {audio.status_code} (integrators never read transcripts or audio)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--demo", type=Path, default=REPO / ".cache" / "demo", help="Where `make demo` keeps its files."
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (args.demo / "note.json").exists():
        raise SystemExit(f"{args.demo / 'note.json'} not found: run the earlier `make demo` steps first")
    env, cid = fill(args.demo)
    note = NoteDraft.model_validate_json((args.demo / "note.json").read_text())
    with review_server(env) as base:
        walk(base, cid, note)
    fhir_step = [sys.executable, str(SCRIPTS / "demo_fhir.py"), "--demo", str(args.demo), "--consultation", cid]
    subprocess.run([*fhir_step, "--nhs-number", NHS_NUMBER], env=env, check=True)
    say("-- the audit trail (who, what, when, from where; hash-chained):")
    run_scribe(env, "audit", "--limit", "12", "--verify")
    say(json.dumps({"store": str(args.demo / "store"), "consultation": cid}))
    say(f"Open the app in a browser: `make serve`, then http://127.0.0.1:8400/ as demo.clinician / {PASSWORD}")


if __name__ == "__main__":
    main()
