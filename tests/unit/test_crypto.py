"""Site key loading, data-key wrapping and sealed values."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from scribe.config import load_settings
from scribe.errors import KeyMissingError, StoreError, TamperedError
from scribe.store import crypto


def test_seal_round_trip_and_layout() -> None:
    key = crypto.new_key()
    associated = crypto.aad("transcripts", "abc", "abc", "transcript")
    sealed = crypto.seal(key, b"hello", associated)
    assert sealed[0] == crypto.VERSION and len(sealed) == 1 + 12 + 5 + 16
    assert crypto.unseal(key, sealed, associated, what="x") == b"hello"
    assert crypto.seal(key, b"hello", associated) != sealed  # a fresh nonce every time


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s[:-1] + bytes([s[-1] ^ 1]),  # tag
        lambda s: s[:1] + bytes([s[1] ^ 1]) + s[2:],  # nonce
        lambda s: s[:14] + bytes([s[14] ^ 1]) + s[15:],  # ciphertext
        lambda s: s[:20],  # truncated
        lambda s: b"\x02" + s[1:],  # unknown version
    ],
)
def test_unseal_detects_changes(change) -> None:
    key = crypto.new_key()
    associated = crypto.aad("t", "r", "c", "k")
    sealed = crypto.seal(key, b"some patient text", associated)
    with pytest.raises(TamperedError, match="the note of c") as caught:
        crypto.unseal(key, change(sealed), associated, what="the note of c")
    assert "patient" not in str(caught.value)


def test_unseal_detects_other_row_key_or_kind() -> None:
    key = crypto.new_key()
    sealed = crypto.seal(key, b"x", crypto.aad("versions", "c/1", "c", "note"))
    for associated in (
        crypto.aad("versions", "c/2", "c", "note"),
        crypto.aad("versions", "d/1", "d", "note"),
        crypto.aad("versions", "c/1", "c", "rejected_reason"),
        crypto.aad("letters", "c/1", "c", "note"),
    ):
        with pytest.raises(TamperedError):
            crypto.unseal(key, sealed, associated, what="x")
    with pytest.raises(TamperedError):
        crypto.unseal(crypto.new_key(), sealed, crypto.aad("versions", "c/1", "c", "note"), what="x")


def test_wrap_binds_scope_and_purpose() -> None:
    kek, data_key = crypto.new_key(), crypto.new_key()
    wrapped = crypto.wrap_key(kek, data_key, scope="abc", purpose="audio")
    assert crypto.unwrap_key(kek, wrapped, scope="abc", purpose="audio") == data_key
    with pytest.raises(TamperedError, match="record data key of abc"):
        crypto.unwrap_key(kek, wrapped, scope="abc", purpose="record")
    with pytest.raises(TamperedError):
        crypto.unwrap_key(kek, wrapped, scope="abd", purpose="audio")


def test_key_id_is_a_stable_fingerprint() -> None:
    key = bytes(range(32))
    assert crypto.key_id(key) == crypto.key_id(bytes(range(32)))
    assert len(crypto.key_id(key)) == 16 and crypto.key_id(key) != crypto.key_id(crypto.new_key())


def test_load_key_from_environment_value(tmp_path: Path) -> None:
    key = crypto.new_key()
    settings = load_settings(data_dir=tmp_path, store_key=crypto.encode_key(key), store_key_file=tmp_path / "none")
    assert crypto.load_key(settings) == key


def test_load_key_from_file(tmp_path: Path) -> None:
    key = crypto.new_key()
    path = tmp_path / "keys" / "store.key"
    crypto.write_key_file(path, key)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert crypto.load_key(load_settings(data_dir=tmp_path, store_key_file=path)) == key
    with pytest.raises(StoreError, match="never overwritten"):
        crypto.write_key_file(path, crypto.new_key())
    assert crypto.load_key(load_settings(data_dir=tmp_path, store_key_file=path)) == key


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!!", "not base64"), (base64.b64encode(b"short").decode(), "holds 5 bytes")],
)
def test_bad_keys_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(KeyMissingError, match=message):
        crypto.load_key(load_settings(data_dir=tmp_path, store_key=text))
    path = tmp_path / "bad.key"
    path.write_text(text)
    with pytest.raises(KeyMissingError, match=message):
        crypto.load_key(load_settings(data_dir=tmp_path, store_key_file=path))


def test_missing_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyMissingError, match="scribe store init-key"):
        crypto.load_key(load_settings(data_dir=tmp_path, store_key_file=tmp_path / "none.key"))
