"""Shared fixtures: the bundled SYNTHETIC sample consultation and real packaged models."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from scribe.config import Settings, load_settings
from scribe.evaluate.asr_metrics import RefSegment
from scribe.records import SpeakerRole

DATA = Path(__file__).parent / "data"

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


@pytest.fixture(scope="session")
def sample_stereo() -> Path:
    """45 s of a PriMock57 consultation spoken by two TTS voices, one per channel (synthetic)."""
    return DATA / "sample_stereo.flac"


@pytest.fixture(scope="session")
def sample_mono() -> Path:
    """The same synthetic consultation mixed to mono."""
    return DATA / "sample_mono.flac"


@pytest.fixture(scope="session")
def sample_reference() -> list[RefSegment]:
    """Reference utterances (placed times, speaker, text) of the synthetic sample."""
    data = json.loads((DATA / "sample_reference.json").read_text())
    return [RefSegment(s["start"], s["end"], SpeakerRole(s["speaker"]), s["text"]) for s in data["segments"]]


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a private data directory, so tests never touch the user's."""
    return load_settings(data_dir=tmp_path_factory.mktemp("scribe-data"))


@pytest.fixture(scope="session")
def tiny_engine(settings: Settings):
    """Real faster-whisper on the packaged Whisper tiny.en, loaded once per session."""
    from scribe.asr.engine import load_engine

    return load_engine(settings, model="whisper-tiny.en", device="cpu")


@pytest.fixture(scope="session")
def smollm2_gguf(settings: Settings) -> Path:
    """The packaged SmolLM2-135M-Instruct GGUF (tiny and weak: for fast tests of the LLM machinery)."""
    from scribe.catalogue import resolve_gguf

    return resolve_gguf("smollm2-135m-instruct", settings)


@pytest.fixture(scope="module")
def llm_server_url(smollm2_gguf: Path) -> Iterator[str]:
    """A real llama-cpp-python OpenAI-compatible server on 127.0.0.1 serving SmolLM2, one per test module."""
    from helpers.llm_server import llm_server

    with llm_server(smollm2_gguf, n_ctx=2048) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real, throwaway PostgreSQL server on 127.0.0.1 (skips where the server is not installed)."""
    from helpers.pg_server import postgres_server

    with postgres_server() as url:
        yield url
