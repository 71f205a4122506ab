"""Passwords and second factors: Argon2id hashes (memory-hard) and RFC 6238 TOTP codes."""

from __future__ import annotations

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommended profile (64 MiB, 3 passes, 4 lanes).
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
ISSUER = "scribe"


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``; raises ValueError when it is too short to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; False (never an exception) for a wrong password or a bad hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's, so sign-in should re-hash."""
    return _HASHER.check_needs_rehash(password_hash)


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app enrols from."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def verify_totp(secret: str, code: str) -> bool:
    """Whether ``code`` is the current 6-digit code (one 30-s step of clock drift either side)."""
    code = code.strip().replace(" ", "")
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)
