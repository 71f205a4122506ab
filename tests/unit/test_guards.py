"""Hallucination guards: text in silence, phrase loops, stock phrases and low confidence."""

from __future__ import annotations

import numpy as np
import pytest

from scribe.asr.guards import apply_guards, inspect, longest_loop, rms_dbfs
from scribe.records import FlagCode, Segment

RATE = 16_000


def _segment(text: str, start: float = 0.0, end: float = 2.0, **fields: float) -> Segment:
    values = {"avg_logprob": -0.2, "no_speech_prob": 0.05, "compression_ratio": 1.3, "confidence": 0.9}
    values.update(fields)
    return Segment(id=0, start=start, end=end, text=text, **values)


def _speech_then_silence() -> np.ndarray:
    rng = np.random.default_rng(0)
    speech = 0.1 * rng.standard_normal(2 * RATE)
    return np.concatenate([speech, np.zeros(2 * RATE)]).astype(np.float32)


def test_rms_dbfs_of_known_signals() -> None:
    assert rms_dbfs(np.ones(100)) == pytest.approx(0.0)
    assert rms_dbfs(0.5 * np.ones(100)) == pytest.approx(-6.02, abs=0.01)
    assert rms_dbfs(np.zeros(10)) == float("-inf")


def test_longest_loop_counts_back_to_back_repeats() -> None:
    words = ["i", "think", "so", "i", "think", "so", "i", "think", "so", "i", "think", "so"]
    assert longest_loop(words) == (4, 12)
    assert longest_loop(["no", "pain", "at", "all"]) == (1, 0)


def test_text_over_silence_is_rejected_with_its_level() -> None:
    audio = _speech_then_silence()
    kept, rejected = apply_guards([_segment("I have a cough.", 0, 2), _segment("Okay.", 2.2, 3.8)], audio)
    assert [s.text for s in kept] == ["I have a cough."]
    assert rejected[0].flags[0].code is FlagCode.SILENCE
    assert "dBFS" in rejected[0].flags[0].detail


def test_no_speech_probability_with_low_logprob_is_silence() -> None:
    flags = inspect(_segment("Bye.", no_speech_prob=0.9, avg_logprob=-1.2), None)
    assert FlagCode.SILENCE in {f.code for f in flags}


def test_stock_phrase_is_rejected() -> None:
    kept, rejected = apply_guards([_segment("Thank you for watching!")], None)
    assert not kept and rejected[0].flags[0].code is FlagCode.KNOWN_HALLUCINATION


def test_long_loop_is_rejected_but_short_real_repetition_is_kept() -> None:
    loop = _segment("take the tablets " * 8)
    emphatic = _segment("No, no, no, no.")
    kept, rejected = apply_guards([loop, emphatic], None)
    assert [s.text for s in kept] == ["No, no, no, no."]
    assert rejected[0].flags[0].code is FlagCode.REPETITION


def test_high_compression_ratio_is_a_repetition() -> None:
    flags = inspect(_segment("a long text", compression_ratio=3.1), None)
    assert [f.code for f in flags] == [FlagCode.REPETITION]


def test_low_confidence_is_kept_and_flagged() -> None:
    kept, rejected = apply_guards(
        [_segment("Metformin 500.", avg_logprob=-1.4), _segment("Ramipril.", confidence=0.3)], None
    )
    assert not rejected
    assert [f.code for s in kept for f in s.flags] == [FlagCode.LOW_CONFIDENCE, FlagCode.LOW_CONFIDENCE]
    assert "-1.40" in kept[0].flags[0].detail


def test_clean_segment_has_no_flags() -> None:
    audio = _speech_then_silence()
    kept, rejected = apply_guards([_segment("I've had a headache for three days.", 0, 2)], audio)
    assert kept[0].flags == [] and rejected == []


def test_offset_audio_is_aligned_with_segment_times() -> None:
    audio = _speech_then_silence()  # starts at 10 s in the consultation
    kept, rejected = apply_guards([_segment("Speech.", 10.0, 12.0), _segment("Ghost.", 12.2, 13.8)], audio, offset=10.0)
    assert [s.text for s in kept] == ["Speech."] and [s.text for s in rejected] == ["Ghost."]


def test_segment_starting_a_hair_before_the_audio_is_not_silence() -> None:
    """Live chunks: a segment rounded to start 1 ms before its chunk must be measured, not read as empty."""
    audio = _speech_then_silence()  # the chunk starts at 86.31 s
    kept, rejected = apply_guards([_segment("Real speech.", 86.309, 88.0)], audio, offset=86.31)
    assert [s.text for s in kept] == ["Real speech."] and not rejected
