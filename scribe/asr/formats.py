"""Render a Transcript as plain text, JSON, SubRip (SRT) or WebVTT."""

from __future__ import annotations

from typing import Literal

from scribe.records import Segment, Transcript

OutputFormat = Literal["text", "json", "srt", "vtt"]


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _minutes(seconds: float) -> str:
    """mm:ss.cc, minutes running past 59 for long consultations."""
    minutes, secs = divmod(round(seconds, 2), 60)
    return f"{int(minutes):02d}:{secs:05.2f}"


def _label(segment: Segment) -> str:
    return segment.speaker.value.capitalize()


def _flags(segment: Segment) -> str:
    return f"  [check: {', '.join(f.code.value for f in segment.flags)}]" if segment.flags else ""


def to_text(transcript: Transcript) -> str:
    """One line per segment: time, speaker, words; flagged segments say so."""
    lines = [f"[{_minutes(s.start)}] {_label(s)}: {s.text}{_flags(s)}" for s in transcript.segments]
    return "\n".join(lines) + "\n"


def to_srt(transcript: Transcript) -> str:
    """SubRip subtitles with the speaker named in each cue."""
    cues = [
        f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{_label(s)}: {s.text}\n"
        for i, s in enumerate(transcript.segments, start=1)
    ]
    return "\n".join(cues)


def to_vtt(transcript: Transcript) -> str:
    """WebVTT with voice spans (<v Clinician>) so players show who speaks."""
    cues = [
        f"{s.id}\n{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n<v {_label(s)}>{s.text}\n"
        for s in transcript.segments
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_json(transcript: Transcript) -> str:
    """The Transcript record itself, indented."""
    return transcript.model_dump_json(indent=2) + "\n"


RENDERERS = {"text": to_text, "json": to_json, "srt": to_srt, "vtt": to_vtt}


def format_transcript(transcript: Transcript, output_format: OutputFormat) -> str:
    """Render ``transcript`` in ``output_format``."""
    return RENDERERS[output_format](transcript)
