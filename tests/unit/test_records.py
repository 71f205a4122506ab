"""The contracts round-trip through JSON and refuse what they do not define."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scribe.records import (
    AudioInfo,
    FlagCode,
    Segment,
    SegmentFlag,
    Speaker,
    SpeakerRole,
    StageTiming,
    Transcript,
    Word,
)
from scribe.rows import Consultation


def _transcript() -> Transcript:
    words = [
        Word(start=0.0, end=0.4, text=" Any", probability=0.9, speaker=SpeakerRole.CLINICIAN),
        Word(start=0.4, end=0.9, text=" allergies?", probability=0.8, speaker=SpeakerRole.CLINICIAN),
    ]
    segment = Segment(
        id=0,
        start=0.0,
        end=0.9,
        speaker=SpeakerRole.CLINICIAN,
        text="Any allergies?",
        words=words,
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        compression_ratio=1.1,
        confidence=0.85,
        flags=[SegmentFlag(code=FlagCode.LOW_CONFIDENCE, detail="mean word probability 0.40")],
    )
    return Transcript(
        segments=[segment],
        speakers=[Speaker(id="ch0", role=SpeakerRole.CLINICIAN, channel=0)],
        speaker_method="channel",
        language="en",
        language_probability=0.99,
        duration=0.9,
        model="whisper-tiny.en",
        device="cpu",
        compute_type="int8",
        timings=[StageTiming(stage="asr", wall_seconds=0.5, audio_seconds=2.0)],
    )


def test_transcript_and_consultation_round_trip_through_json() -> None:
    original = _transcript()
    restored = Transcript.model_validate_json(original.model_dump_json())
    assert restored == original
    assert restored.segments[0].flags[0].code is FlagCode.LOW_CONFIDENCE
    assert restored.words()[1].text == " allergies?"
    consultation = Consultation(audio=AudioInfo(duration=2.0, sample_rate=44100, channels=2, synthetic=True))
    assert Consultation.model_validate_json(consultation.model_dump_json()) == consultation


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="speeker"):
        Segment.model_validate({"id": 0, "start": 0, "end": 1, "text": "x", "speeker": "patient"})


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        Word(start=-1.0, end=0.2, text="x")
    with pytest.raises(ValidationError):
        Word(start=0.0, end=0.2, text="x", probability=1.5)
    with pytest.raises(ValidationError):
        Segment(id=0, start=0, end=1, text="x", speaker="nurse")


def test_real_time_factor_and_transcript_text() -> None:
    transcript = _transcript()
    assert transcript.timings[0].real_time_factor == pytest.approx(0.25)
    assert StageTiming(stage="x", wall_seconds=1.0).real_time_factor is None
    assert transcript.text == "Any allergies?"
    assert len({Consultation().id for _ in range(3)}) == 3
