"""Encryption at rest: the site key, data keys wrapped under it, and AES-GCM sealed values.

Envelope encryption. The site key (the key-encryption key, KEK: 32 bytes, from
``SCRIBE_STORE_KEY`` or ``SCRIBE_STORE_KEY_FILE``) never encrypts patient data itself: it wraps
random 32-byte data keys, one per consultation and purpose ('record', 'audio') plus one 'system'
key for TOTP secrets. Deleting a data key makes everything sealed under it unreadable, in the
database and in every backup of it (crypto-shredding). Rotating the site key re-wraps the data
keys only.

Every sealed value is ``version byte | 12-byte random nonce | AES-GCM ciphertext and tag``; the
associated data names the table, the row, the consultation and the kind of value, so ciphertext
copied into another row fails its integrity check instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from scribe.config import Settings
from scribe.errors import KeyMissingError, StoreError, TamperedError

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = 1
_VERSION_BYTE = bytes([VERSION])

NO_KEY_HELP = (
    "no store key is configured: set SCRIBE_STORE_KEY (base64 of 32 bytes) or SCRIBE_STORE_KEY_FILE, "
    "or create one with `scribe store init-key`"
)


def new_key() -> bytes:
    """32 random bytes from the operating system's CSPRNG: a site key or a data key."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The key as base64 text, the form kept in key files and ``SCRIBE_STORE_KEY``."""
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, *, source: str) -> bytes:
    """Parse base64 key text; KeyMissingError naming ``source`` when it is not 32 bytes of base64."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyMissingError(f"{source} is not base64 text; make a key with `scribe store init-key`") from None
    if len(key) != KEY_BYTES:
        raise KeyMissingError(
            f"{source} holds {len(key)} bytes, not {KEY_BYTES}; make a key with `scribe store init-key`"
        )
    return key


def key_id(key: bytes) -> str:
    """A public fingerprint of a key (first 16 hex digits of its sha256): says which key wrapped what."""
    return hashlib.sha256(key).hexdigest()[:16]


def load_key(settings: Settings) -> bytes:
    """The site key from ``settings.store_key`` or else ``settings.store_key_file``; KeyMissingError if neither."""
    if settings.store_key is not None and settings.store_key.get_secret_value().strip():
        return decode_key(settings.store_key.get_secret_value(), source="SCRIBE_STORE_KEY")
    path = settings.store_key_file
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyMissingError(f"{NO_KEY_HELP} (no key file at {path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyMissingError(f"cannot read the store key file {path}: {exc}") from None
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("store key file %s is readable by other users; run: chmod 600 %s", path, path)
    return decode_key(text, source=f"key file {path}")


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` (mode 0600, parent 0700 when created) holding ``key`` in base64; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreError(
            f"{path} already exists; a store key is never overwritten (it would make the store unreadable). "
            "Choose another --key-file, or use `scribe store rotate-key` to change keys"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encode_key(key) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def aad(table: str, row: str, consultation: str, kind: str) -> bytes:
    """Associated data binding a sealed value to its table, row identity, consultation and kind."""
    return f"scribe|{table}|{row}|{consultation}|{kind}".encode()


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """Encrypt and authenticate: version byte, random nonce, then AES-GCM ciphertext with its tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _VERSION_BYTE + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, blob: bytes, associated: bytes, *, what: str) -> bytes:
    """Decrypt a sealed value; TamperedError naming ``what`` (never its contents) when it fails its check."""
    blob = bytes(blob)
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != VERSION:
        raise TamperedError(f"{what} is damaged (not a sealed value of version {VERSION}); restore it from a backup")
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], associated)
    except InvalidTag:
        raise TamperedError(
            f"{what} failed its integrity check: it was altered, truncated or moved from another record; "
            "restore it from a backup"
        ) from None


def _wrap_aad(scope: str, purpose: str) -> bytes:
    return aad("data_keys", f"{scope}/{purpose}", scope, purpose)


def wrap_key(kek: bytes, data_key: bytes, *, scope: str, purpose: str) -> bytes:
    """Seal a data key under the site key, bound to its consultation (or 'system') and purpose."""
    return seal(kek, data_key, _wrap_aad(scope, purpose))


def unwrap_key(kek: bytes, wrapped: bytes, *, scope: str, purpose: str) -> bytes:
    """Open a wrapped data key; TamperedError when it was altered or moved."""
    return unseal(kek, wrapped, _wrap_aad(scope, purpose), what=f"the {purpose} data key of {scope}")
