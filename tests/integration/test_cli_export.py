"""`scribe export` as a user runs it: a subprocess over a real encrypted store and a real FHIR server."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from helpers.cli_runner import cli_environment, scribe
from helpers.fhir_server import R4_SCHEMA, fhir_server, set_faults
from helpers.local_server import free_port
from helpers.script_loader import load_script
from helpers.store_helpers import approved_consultation, make_settings, note

from scribe.rows import PatientDetails
from scribe.store import new_key, open_store
from scribe.store.crypto import encode_key


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """An approved consultation and an unapproved one in a store the CLI opens with the same key."""
    key = new_key()
    store = open_store(make_settings(tmp_path, key))
    approved, user = approved_consultation(store)
    draft = store.consultations.create(user.id, "gp", PatientDetails(name="Sam Draft")).id
    store.notes.add_version(draft, note(), created_by=None)
    store.close()
    yield approved, draft, {"SCRIBE_STORE_KEY": encode_key(key), "SCRIBE_FHIR_RETRIES": "1"}


def _exports(tmp_path: Path, env: dict[str, str], cid: str) -> list[tuple[str, bool, str]]:
    store = open_store(make_settings(tmp_path, base64.b64decode(env["SCRIBE_STORE_KEY"])))
    try:
        return [(x.format, x.ok, x.destination) for x in store.exports.for_consultation(cid)]
    finally:
        store.close()


def test_export_to_file_is_a_valid_document_bundle(tmp_path: Path, site) -> None:
    approved, _, env = site
    out = tmp_path / "out" / "note.json"
    done = scribe("export", approved, "-o", str(out), tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(out.read_text())
    assert bundle["type"] == "document" and bundle["entry"][0]["resource"]["resourceType"] == "Composition"
    jsonschema.Draft6Validator(json.loads(R4_SCHEMA.read_text())).validate(bundle)
    assert _exports(tmp_path, env, approved) == [("fhir-document", True, "file")]


def test_export_to_stdout_as_transaction(tmp_path: Path, site) -> None:
    approved, _, env = site
    done = scribe("export", approved, "--bundle", "transaction", tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["type"] == "transaction"


def test_unapproved_is_refused_with_exit_9_and_no_file(tmp_path: Path, site) -> None:
    _, draft, env = site
    out = tmp_path / "draft.json"
    done = scribe("export", draft, "-o", str(out), tmp_path=tmp_path, env=env)
    assert done.returncode == 9 and "not approved" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists() and _exports(tmp_path, env, draft) == []


def test_unknown_consultation(tmp_path: Path, site) -> None:
    _, _, env = site
    done = scribe("export", "no-such-id", tmp_path=tmp_path, env=env)
    assert done.returncode == 9 and "no-such-id" in done.stderr and "Traceback" not in done.stderr


def test_send_retry_down_and_rerun(tmp_path: Path, site) -> None:
    approved, _, env = site
    down = f"http://127.0.0.1:{free_port()}/fhir"
    failed = scribe("export", approved, "--to", down, tmp_path=tmp_path, env=env)
    assert failed.returncode == 10, failed.stderr
    assert "nothing was lost" in failed.stderr and "Traceback" not in failed.stderr
    with fhir_server() as url:
        set_faults(url, ["503"])
        sent = scribe("export", approved, "--to", url, tmp_path=tmp_path, env=env)
        assert sent.returncode == 0, sent.stderr
        assert "after 2 tries" in sent.stderr and "created" in sent.stderr
        again = scribe("export", approved, "--to", url, tmp_path=tmp_path, env=env)
        assert again.returncode == 0 and "0 of" in again.stderr, again.stderr
    oks = [ok for fmt, ok, _ in _exports(tmp_path, env, approved)]
    assert oks == [False, False, False, True, True], "two failed tries down, a 503 then success, a re-send"


def test_bad_settings_are_named(tmp_path: Path, site) -> None:
    approved, _, env = site
    done = scribe(
        "export",
        approved,
        "--to",
        "http://127.0.0.1:9/fhir",
        tmp_path=tmp_path,
        env={**env, "SCRIBE_FHIR_AUTH": "smart", "SCRIBE_FHIR_CLIENT_ID": "x", "SCRIBE_FHIR_KEY_ID": "k"},
    )
    assert done.returncode == 2 and "SCRIBE_FHIR_PRIVATE_KEY_FILE" in done.stderr
    done = scribe("export", approved, "--to", "ftp://epr", tmp_path=tmp_path, env=env)
    assert done.returncode == 2 and "http://" in done.stderr


def test_help_names_every_option(tmp_path: Path) -> None:
    done = scribe("export", "--help", tmp_path=tmp_path)
    assert done.returncode == 0
    for option in ("--bundle", "--output", "--to", "--version"):
        assert option in done.stdout


def test_demo_epr_step_sends_twice_and_reads_back_one_of_each(tmp_path: Path, site, capfd) -> None:
    """`make demo`'s EPR step (scripts/demo_fhir.py) as the demo runs it: file, two sends, what the server holds."""
    approved, _, env = site
    load_script("demo_fhir").show(cli_environment(tmp_path, env), approved, tmp_path, "9434765919")
    captured = capfd.readouterr()
    out, sends = captured.out, [line for line in captured.err.splitlines() if "resources created" in line]
    assert (tmp_path / "fhir-document.json").is_file()
    assert len(sends) == 2 and " 0 of " in sends[1] and " 0 of " not in sends[0], "the second send creates nothing"
    assert "the server holds 1 Patient, 1 Composition for NHS number 9434765919" in out
    assert "Provenance: " in out and "attester " in out
