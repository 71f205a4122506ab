"""Transcript renderings: text, JSON, SRT and WebVTT."""

from __future__ import annotations

import json

from scribe.asr.formats import format_transcript
from scribe.records import FlagCode, Segment, SegmentFlag, SpeakerRole, Transcript


def _transcript() -> Transcript:
    return Transcript(
        segments=[
            Segment(id=0, start=1.25, end=3.5, speaker=SpeakerRole.CLINICIAN, text="How can I help?"),
            Segment(
                id=1,
                start=3661.0,
                end=3662.5,
                speaker=SpeakerRole.PATIENT,
                text="I have a cough.",
                flags=[SegmentFlag(code=FlagCode.LOW_CONFIDENCE, detail="x")],
            ),
        ],
        language="en",
        duration=3663.0,
    )


def test_text_names_speakers_and_flags() -> None:
    lines = format_transcript(_transcript(), "text").splitlines()
    assert lines[0] == "[00:01.25] Clinician: How can I help?"
    assert lines[1].startswith("[61:01.00] Patient: I have a cough.")  # minutes run past 59
    assert "check: low_confidence" in lines[1]


def test_srt_cues() -> None:
    srt = format_transcript(_transcript(), "srt")
    assert srt.startswith("1\n00:00:01,250 --> 00:00:03,500\nClinician: How can I help?\n")
    assert "2\n01:01:01,000 --> 01:01:02,500\nPatient: I have a cough." in srt


def test_vtt_uses_voice_spans() -> None:
    vtt = format_transcript(_transcript(), "vtt")
    assert vtt.startswith("WEBVTT\n\n0\n00:00:01.250 --> 00:00:03.500\n<v Clinician>How can I help?")


def test_json_has_the_documented_keys() -> None:
    data = json.loads(format_transcript(_transcript(), "json"))
    assert {"segments", "language", "duration", "speakers", "rejected"} <= set(data)
    assert {"id", "start", "end", "speaker", "text", "words", "flags"} <= set(data["segments"][0])
