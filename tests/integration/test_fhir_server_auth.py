"""Authentication in the test FHIR server (tests/fhir_server): a fixed bearer token and SMART backend services.

Real server, real HTTP: client assertions are signed with PyJWT as ``scribe export`` would sign them,
and the server checks them with node:crypto alone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from helpers.fhir_server import fhir_server, pending_faults, reset, revoke_tokens, set_faults, smart_keys, stats

CLIENT_ID = "scribe-test-client"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE = "system/Patient.rs system/*.cruds"
FHIR_HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
PATIENT = {"resourceType": "Patient", "name": [{"family": "Example", "given": ["Sam"]}]}


@dataclass(frozen=True)
class Smart:
    """A running SMART server and the client's keys."""

    base_url: str
    token_url: str
    keys: dict[str, tuple[bytes, str]]  # alg -> (private key PEM, kid)
    stranger: bytes  # an RS384 private key whose public key the server does not know


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    """One SMART server whose JWKS holds an RS384 and an ES384 key of the client."""
    folder = tmp_path_factory.mktemp("smart")
    keys = {}
    jwks: dict[str, list[Any]] = {"keys": []}
    for alg in ("RS384", "ES384"):
        pem, jwks_path, kid = smart_keys(folder, alg)
        assert pem.stat().st_mode & 0o777 == 0o600
        keys[alg] = (pem.read_bytes(), kid)
        jwks["keys"] += json.loads(jwks_path.read_text())["keys"]
    stranger, _, _ = smart_keys(folder / "stranger")
    both = folder / "jwks.json"
    both.write_text(json.dumps(jwks))
    with fhir_server(smart_jwks=both, smart_client_id=CLIENT_ID) as base_url:
        config = httpx.get(f"{base_url}/.well-known/smart-configuration", timeout=10).json()
        yield Smart(base_url, config["token_endpoint"], keys, stranger.read_bytes())


def _assertion(
    smart: Smart, alg: str = "RS384", *, key: bytes | None = None, kid: str | None = None, **claims: Any
) -> str:
    """A client assertion as SMART backend services want it; ``claims`` override (None drops one)."""
    pem, own_kid = smart.keys[alg]
    now = int(time.time())
    body = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": smart.token_url, "exp": now + 240, "jti": str(uuid.uuid4())}
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key or pem, algorithm=alg, headers={"kid": kid or own_kid})


def _token_response(smart: Smart, assertion: str, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": SCOPE,
        **form,
    }
    return httpx.post(smart.token_url, data=data, timeout=10)


def _token(smart: Smart, alg: str = "RS384") -> str:
    response = _token_response(smart, _assertion(smart, alg))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _auth(token: str) -> dict[str, str]:
    return {**FHIR_HEADERS, "Authorization": f"Bearer {token}"}


def _assert_401(response: httpx.Response, *, invalid_token: bool) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is invalid_token
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "login"
    return outcome


def test_smart_configuration_and_metadata_need_no_token(smart: Smart) -> None:
    config = httpx.get(f"{smart.base_url}/.well-known/smart-configuration", timeout=10)
    assert config.status_code == 200
    assert config.headers["content-type"].startswith("application/json")
    body = config.json()
    assert body["token_endpoint"] == f"{smart.base_url}/auth/token"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert "system/*.read" in body["scopes_supported"]

    metadata = httpx.get(f"{smart.base_url}/metadata", timeout=10)
    assert metadata.status_code == 200
    assert smart.token_url in json.dumps(metadata.json()["rest"][0]["security"])


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_good_grant_gives_a_token_that_reads_and_writes(smart: Smart, alg: str) -> None:
    response = _token_response(smart, _assertion(smart, alg))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    grant = response.json()
    assert grant["token_type"] == "bearer"
    assert grant["expires_in"] == 300
    assert grant["scope"] == SCOPE
    assert len(grant["access_token"]) >= 32

    with httpx.Client(base_url=smart.base_url, headers=_auth(grant["access_token"]), timeout=10) as http:
        created = http.post("Patient", content=json.dumps(PATIENT))
        assert created.status_code == 201, created.text
        read = http.get(f"Patient/{created.json()['id']}")
        assert read.status_code == 200
        assert read.json()["name"] == PATIENT["name"]


def test_fhir_requests_without_a_good_token_are_401(smart: Smart) -> None:
    with httpx.Client(base_url=smart.base_url, headers=FHIR_HEADERS, timeout=10) as http:
        outcome = _assert_401(http.get("Patient"), invalid_token=False)
        assert "Bearer" in outcome["issue"][0]["diagnostics"]
        _assert_401(http.post("", content="{}"), invalid_token=False)
        _assert_401(http.get("Patient", headers={"Authorization": "Bearer not-a-token"}), invalid_token=True)
        _assert_401(http.get("Patient", headers={"Authorization": "Basic dXNlcjpwdw=="}), invalid_token=True)


def _sign_with_stranger(smart: Smart) -> str:
    return _assertion(smart, key=smart.stranger)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        pytest.param(lambda s: _assertion(s, kid="no-such-kid"), 'kid "no-such-kid"', id="unknown-kid"),
        pytest.param(lambda s: _assertion(s, kid=s.keys["ES384"][1]), "No RS384 key", id="kid-of-other-alg"),
        pytest.param(lambda s: _assertion(s, aud=s.base_url), "aud must be the token endpoint", id="wrong-aud"),
        pytest.param(lambda s: _assertion(s, aud=s.token_url + "/"), "aud must be", id="aud-trailing-slash"),
        pytest.param(lambda s: _assertion(s, iss="someone-else"), "iss must be the client id", id="wrong-iss"),
        pytest.param(lambda s: _assertion(s, sub="someone-else"), "sub must be the client id", id="wrong-sub"),
        pytest.param(lambda s: _assertion(s, exp=int(time.time()) - 5), "expired", id="expired"),
        pytest.param(lambda s: _assertion(s, exp=int(time.time()) + 600), "more than 300 seconds", id="exp-too-far"),
        pytest.param(lambda s: _assertion(s, exp=None), "exp is missing", id="no-exp"),
        pytest.param(lambda s: _assertion(s, jti=None), "jti is missing", id="no-jti"),
        pytest.param(_sign_with_stranger, "signature does not verify", id="bad-signature"),
        pytest.param(
            lambda s: jwt.encode({"iss": CLIENT_ID}, "x" * 48, algorithm="HS256", headers={"kid": s.keys["RS384"][1]}),
            'alg "HS256" is not supported',
            id="hs256",
        ),
        pytest.param(lambda s: "not.a.jwt!", "not a signed JWT", id="garbage"),
    ],
)
def test_bad_client_assertions_are_invalid_client(smart: Smart, make: Any, says: str) -> None:
    response = _token_response(smart, make(smart))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert error["error"] == "invalid_client"
    assert says in error["error_description"]


def test_es384_signature_tampered_is_refused(smart: Smart) -> None:
    header, payload, signature = _assertion(smart, "ES384").split(".")
    other = _assertion(smart, "ES384").split(".")[2]  # a valid signature, of another payload
    assert other != signature
    response = _token_response(smart, f"{header}.{payload}.{other}")
    assert response.status_code == 401
    assert "signature does not verify" in response.json()["error_description"]


def test_a_replayed_assertion_is_refused(smart: Smart) -> None:
    assertion = _assertion(smart)
    assert _token_response(smart, assertion).status_code == 200
    again = _token_response(smart, assertion)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
    assert "used before" in again.json()["error_description"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_request"),
        ({"scope": "launch openid patient/*.read"}, 400, "invalid_scope"),
        ({"client_assertion_type": "urn:example:password"}, 401, "invalid_client"),
        ({"client_assertion": ""}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
    ],
)
def test_bad_token_requests_get_the_rfc_6749_error(smart: Smart, form: dict[str, str], status: int, error: str) -> None:
    response = _token_response(smart, _assertion(smart), **form)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_token_request_must_be_a_form_post(smart: Smart) -> None:
    as_json = httpx.post(smart.token_url, json={"grant_type": "client_credentials"}, timeout=10)
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    assert httpx.get(smart.token_url, timeout=10).status_code == 405
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    repeated = httpx.post(smart.token_url, content="grant_type=a&grant_type=b", headers=form, timeout=10)
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    assert "repeated" in repeated.json()["error_description"]


def test_unknown_scopes_are_dropped_from_the_grant(smart: Smart) -> None:
    response = _token_response(smart, _assertion(smart), scope="openid system/Composition.cu launch")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "system/Composition.cu"


def test_stats_count_token_requests_and_fhir_requests_including_refused(smart: Smart) -> None:
    reset(smart.base_url)
    assert stats(smart.base_url) == {"token_requests": 0, "requests": 0}
    token = _token(smart)
    _token_response(smart, _assertion(smart, kid="no-such-kid"))
    assert httpx.get(f"{smart.base_url}/Patient", headers=FHIR_HEADERS, timeout=10).status_code == 401
    assert httpx.get(f"{smart.base_url}/Patient", headers=_auth(token), timeout=10).status_code == 200
    httpx.get(f"{smart.base_url}/metadata", timeout=10)  # not counted
    assert stats(smart.base_url) == {"token_requests": 2, "requests": 2}


def test_a_refused_request_does_not_use_up_a_fault(smart: Smart) -> None:
    reset(smart.base_url)
    set_faults(smart.base_url, ["429"])
    refused = httpx.post(f"{smart.base_url}/Patient", content=json.dumps(PATIENT), headers=FHIR_HEADERS, timeout=10)
    assert refused.status_code == 401
    assert pending_faults(smart.base_url) == ["429"]
    faulted = httpx.post(f"{smart.base_url}/Patient", content=json.dumps(PATIENT), headers=_auth(_token(smart)))
    assert faulted.status_code == 429
    assert faulted.headers["retry-after"] == "1"


def test_revoked_tokens_are_401(smart: Smart) -> None:
    token = _token(smart)
    assert httpx.get(f"{smart.base_url}/Patient", headers=_auth(token), timeout=10).status_code == 200
    assert revoke_tokens(smart.base_url) >= 1
    _assert_401(httpx.get(f"{smart.base_url}/Patient", headers=_auth(token), timeout=10), invalid_token=True)


def test_an_expired_access_token_is_401_saying_so(tmp_path: Path) -> None:
    pem, jwks, kid = smart_keys(tmp_path, "ES384")
    with fhir_server(smart_jwks=jwks, smart_client_id=CLIENT_ID, token_seconds=1) as base_url:
        smart = Smart(base_url, f"{base_url}/auth/token", {"ES384": (pem.read_bytes(), kid)}, b"")
        grant = _token_response(smart, _assertion(smart, "ES384")).json()
        assert grant["expires_in"] == 1
        with httpx.Client(base_url=base_url, headers=_auth(grant["access_token"]), timeout=10) as http:
            assert http.get("Patient").status_code == 200
            time.sleep(1.1)
            outcome = _assert_401(http.get("Patient"), invalid_token=True)
            assert "expired" in outcome["issue"][0]["diagnostics"]
            assert "expired" in http.get("Patient").headers["www-authenticate"]


def test_bearer_mode() -> None:
    with fhir_server(bearer="s3cret-token") as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        assert http.get("metadata").status_code == 200  # the readiness check needs no token
        assert http.get("Patient", headers=_auth("s3cret-token")).status_code == 200
        _assert_401(http.get("Patient", headers=FHIR_HEADERS), invalid_token=False)
        _assert_401(http.get("Patient", headers=_auth("s3cret-tokeN")), invalid_token=True)
        _assert_401(http.get("Patient", headers=_auth("s3cret-token-longer")), invalid_token=True)
        assert http.get(".well-known/smart-configuration").status_code == 404  # SMART is off
        assert http.post("auth/token", data={"grant_type": "client_credentials"}).status_code == 401
        created = http.post("Patient", content=json.dumps(PATIENT), headers=_auth("s3cret-token"))
        assert created.status_code == 201
        assert stats(base_url)["requests"] == 6


def test_smart_options_the_server_cannot_use_stop_it_with_the_reason(tmp_path: Path) -> None:
    _, jwks, _ = smart_keys(tmp_path)
    private_jwks = tmp_path / "private.json"
    key = json.loads(jwks.read_text())["keys"][0]
    private_jwks.write_text(json.dumps({"keys": [{**key, "d": "AQAB"}]}))
    with (
        pytest.raises(RuntimeError, match="is a private key"),
        fhir_server(smart_jwks=private_jwks, smart_client_id="c"),
    ):
        pass  # pragma: no cover
    with pytest.raises(ValueError, match="go together"), fhir_server(smart_jwks=jwks):
        pass  # pragma: no cover
