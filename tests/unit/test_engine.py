"""Engine choices: decoding options from settings, English-only models."""

from __future__ import annotations

import os

import numpy as np
import pytest

from scribe.asr.engine import DecodeOptions, decode_options
from scribe.config import Settings
from scribe.errors import TranscriptionError


def test_decode_options_follow_settings(settings: Settings) -> None:
    plain = decode_options(settings)
    assert plain.hotwords is None and plain.beam_size == settings.beam_size
    steered = decode_options(settings.model_copy(update={"vocabulary": True}), beam_size=2, language="en")
    assert steered.hotwords and "paracetamol" in steered.hotwords
    assert (steered.beam_size, steered.language) == (2, "en")


def test_english_only_model_refuses_other_languages(tiny_engine) -> None:
    assert not tiny_engine.multilingual
    with pytest.raises(TranscriptionError, match="English-only"):
        tiny_engine.decode(np.zeros(16_000, dtype=np.float32), DecodeOptions(language="fr"))


def test_engine_loads_on_cpu_with_one_thread_per_core(tiny_engine) -> None:
    assert (tiny_engine.device, tiny_engine.compute_type) == ("cpu", "int8")
    assert tiny_engine.threads == os.cpu_count()
