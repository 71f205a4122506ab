"""How scribe proves who it is to a FHIR server: a bearer token, or SMART backend services.

SMART backend services (https://hl7.org/fhir/smart-app-launch/backend-services.html): scribe signs
a short-lived JWT (RS384 or ES384) with its private key, trades it at the token endpoint for an
access token (client credentials grant) and sends that as a bearer token until it expires. The EPR
holds only the public key. Both are ``httpx.Auth`` flows, so every request of a client carries them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Generator
from pathlib import Path

import httpx
import jwt

from scribe.config import Settings
from scribe.errors import ConfigError, ExportAuthError
from scribe.retrying import RETRY_STATUS, Transient, retry_after

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 240
"""Lifetime of a client assertion; SMART allows at most five minutes."""
EARLY_RENEWAL = 30.0
"""Renew an access token this many seconds before the server says it expires."""


class BearerAuth(httpx.Auth):
    """A fixed bearer token on every request."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ConfigError("fhir_auth is bearer but no token is set: set SCRIBE_FHIR_TOKEN")
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:  # never show the token
        return "BearerAuth(***)"


class SmartBackendAuth(httpx.Auth):
    """SMART backend services: a signed client assertion traded for an access token, renewed before it expires."""

    requires_response_body = True

    def __init__(
        self,
        *,
        fhir_base_url: str,
        client_id: str,
        private_key: bytes,
        key_id: str,
        algorithm: str = "RS384",
        scope: str = "system/*.write",
        token_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id:
            raise ConfigError("fhir_auth is smart but no client id is set: set SCRIBE_FHIR_CLIENT_ID")
        if not key_id:
            raise ConfigError("fhir_auth is smart but no key id is set: set SCRIBE_FHIR_KEY_ID (the kid in the JWKS)")
        self._base = fhir_base_url.rstrip("/")
        self._client_id = client_id
        self._key = private_key
        self._kid = key_id
        self._algorithm = algorithm
        self._scope = scope
        self._token_url = token_url
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self.token_requests = 0
        self._check_key()

    def _check_key(self) -> None:
        try:
            jwt.encode({"probe": True}, self._key, algorithm=self._algorithm)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(
                f"the SMART private key cannot sign {self._algorithm} ({exc}); RS384 needs an RSA key, ES384 a "
                "P-384 EC key, in PEM: check SCRIBE_FHIR_PRIVATE_KEY_FILE and SCRIBE_FHIR_JWT_ALGORITHM"
            ) from None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fresh = False
        if self._token is None or self._clock() >= self._expires:
            yield from self._fetch_token()
            fresh = True
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            log.info("the FHIR server refused the access token (401); asking for a new one")
            yield from self._fetch_token()
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _fetch_token(self) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token_url is None:
            response = yield httpx.Request("GET", f"{self._base}/.well-known/smart-configuration")
            self._token_url = _token_endpoint(response, self._base)
        now = self._clock()
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._token_url,
            "exp": int(now) + ASSERTION_SECONDS,
            "iat": int(now),
            "jti": uuid.uuid4().hex,
        }
        assertion = jwt.encode(claims, self._key, algorithm=self._algorithm, headers={"kid": self._kid, "typ": "JWT"})
        form = {
            "grant_type": "client_credentials",
            "scope": self._scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        self.token_requests += 1
        response = yield httpx.Request("POST", self._token_url, data=form, headers={"Accept": "application/json"})
        token, lifetime = _access_token(response, self._token_url)
        self._token = token
        self._expires = now + max(lifetime - EARLY_RENEWAL, lifetime / 2)

    def __repr__(self) -> str:  # never show the key or token
        return f"SmartBackendAuth(client_id={self._client_id!r}, kid={self._kid!r})"


def _token_endpoint(response: httpx.Response, base: str) -> str:
    """The token endpoint named by ``/.well-known/smart-configuration``."""
    if response.status_code in RETRY_STATUS:
        raise Transient(f"SMART configuration: HTTP {response.status_code}", wait=retry_after(response))
    try:
        endpoint = response.json().get("token_endpoint") if response.status_code == 200 else None
    except ValueError:
        endpoint = None
    if not isinstance(endpoint, str) or not endpoint:
        raise ExportAuthError(
            f"{base}/.well-known/smart-configuration names no token endpoint (HTTP {response.status_code}); "
            "set SCRIBE_FHIR_TOKEN_URL to the EPR's SMART token endpoint"
        )
    return endpoint


def _access_token(response: httpx.Response, token_url: str) -> tuple[str, float]:
    """The access token and its lifetime in seconds from a token endpoint's answer."""
    if response.status_code in RETRY_STATUS:
        raise Transient(f"token endpoint: HTTP {response.status_code}", wait=retry_after(response))
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        error = body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else "no JSON"
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        raise ExportAuthError(
            f"the token endpoint {token_url} refused scribe's client assertion ({error}"
            f"{': ' + description if description else ''}); check SCRIBE_FHIR_CLIENT_ID, SCRIBE_FHIR_KEY_ID and that "
            "the EPR holds the matching public key"
        )
    try:
        lifetime = float(body.get("expires_in", 300))
    except (TypeError, ValueError):
        lifetime = 300.0
    return str(body["access_token"]), lifetime


def auth_from_settings(settings: Settings, base_url: str) -> httpx.Auth | None:
    """The auth flow ``settings.fhir_auth`` names for ``base_url`` (None for ``none``)."""
    if settings.fhir_auth == "none":
        return None
    if settings.fhir_auth == "bearer":
        return BearerAuth(settings.fhir_token.get_secret_value() if settings.fhir_token else "")
    key_file = settings.fhir_private_key_file
    if key_file is None:
        raise ConfigError("fhir_auth is smart but no private key is set: set SCRIBE_FHIR_PRIVATE_KEY_FILE")
    return SmartBackendAuth(
        fhir_base_url=base_url,
        client_id=settings.fhir_client_id,
        private_key=_read_key(key_file),
        key_id=settings.fhir_key_id,
        algorithm=settings.fhir_jwt_algorithm,
        scope=settings.fhir_scope,
        token_url=settings.fhir_token_url,
    )


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the SMART private key {path}: {exc.strerror}") from None
