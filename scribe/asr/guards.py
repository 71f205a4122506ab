"""Guards against Whisper hallucination: text in silence, phrase loops and low confidence.

Each finding is kept on the segment as a :class:`~scribe.records.SegmentFlag` with the measured
value. Segments that are almost certainly invented (speech in silence, stock phrases, loops that
fill the segment) are moved to ``Transcript.rejected``; low-confidence text stays in the
transcript, flagged, for the clinician to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from scribe.audio.decode import SAMPLE_RATE
from scribe.records import FlagCode, Segment, SegmentFlag

DROPPING = frozenset({FlagCode.SILENCE, FlagCode.REPETITION, FlagCode.KNOWN_HALLUCINATION})

# Phrases Whisper is known to produce from silence or noise (subtitle credits and sign-offs).
STOCK_PHRASES = (
    "thank you for watching",
    "thanks for watching",
    "please subscribe",
    "like and subscribe",
    "subtitles by",
    "subtitled by",
    "captions by",
    "transcribed by",
    "amara.org",
    "see you in the next video",
)
_WORD = re.compile(r"[\w']+")


@dataclass(frozen=True)
class GuardThresholds:
    """Where each guard trips; defaults follow Whisper's own decoding fallbacks."""

    silence_dbfs: float = -55.0
    no_speech_prob: float = 0.6
    no_speech_logprob: float = -0.7
    compression_ratio: float = 2.4
    loop_repeats: int = 4
    loop_share: float = 0.5
    loop_min_words: int = 10  # so a real "no, no, no, no" is never dropped
    low_logprob: float = -1.0
    low_word_probability: float = 0.45


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for empty or zero input)."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def longest_loop(words: list[str], max_n: int = 6) -> tuple[int, int]:
    """The most repeated back-to-back n-gram: (repeats, words covered)."""
    best = (1, 0)
    for n in range(1, max_n + 1):
        for start in range(0, max(0, len(words) - 2 * n + 1)):
            gram = words[start : start + n]
            repeats = 1
            while words[start + repeats * n : start + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats > 1 and repeats * n > best[1]:
                best = (repeats, repeats * n)
    return best


def inspect(
    segment: Segment, audio: np.ndarray | None, thresholds: GuardThresholds = GuardThresholds(), offset: float = 0.0
) -> list[SegmentFlag]:
    """Every guard's finding on one segment; ``audio`` is the 16 kHz mono signal starting at ``offset`` s."""
    flags: list[SegmentFlag] = []
    text = segment.text.lower()
    words = _WORD.findall(text)

    if audio is not None:
        # times are rounded to the millisecond, so a segment may start a hair before the audio does
        first = max(0, int((segment.start - offset) * SAMPLE_RATE))
        span = audio[first : max(first, int((segment.end - offset) * SAMPLE_RATE))]
        level = rms_dbfs(span)
        if level < thresholds.silence_dbfs:
            flags.append(SegmentFlag(code=FlagCode.SILENCE, detail=f"audio level {level:.0f} dBFS under the text"))
    if (
        segment.no_speech_prob is not None
        and segment.avg_logprob is not None
        and segment.no_speech_prob > thresholds.no_speech_prob
        and segment.avg_logprob < thresholds.no_speech_logprob
    ):
        flags.append(
            SegmentFlag(
                code=FlagCode.SILENCE,
                detail=f"no-speech probability {segment.no_speech_prob:.2f}, log-probability {segment.avg_logprob:.2f}",
            )
        )
    if any(phrase in text for phrase in STOCK_PHRASES):
        flags.append(
            SegmentFlag(code=FlagCode.KNOWN_HALLUCINATION, detail="a stock phrase Whisper invents in quiet audio")
        )

    repeats, covered = longest_loop(words)
    if (
        repeats >= thresholds.loop_repeats
        and covered >= thresholds.loop_min_words
        and covered >= thresholds.loop_share * len(words)
    ):
        flags.append(SegmentFlag(code=FlagCode.REPETITION, detail=f"a phrase repeated {repeats} times in a row"))
    elif segment.compression_ratio is not None and segment.compression_ratio > thresholds.compression_ratio:
        flags.append(SegmentFlag(code=FlagCode.REPETITION, detail=f"compression ratio {segment.compression_ratio:.2f}"))

    if segment.avg_logprob is not None and segment.avg_logprob < thresholds.low_logprob:
        flags.append(
            SegmentFlag(code=FlagCode.LOW_CONFIDENCE, detail=f"average log-probability {segment.avg_logprob:.2f}")
        )
    elif segment.confidence is not None and segment.confidence < thresholds.low_word_probability:
        flags.append(
            SegmentFlag(code=FlagCode.LOW_CONFIDENCE, detail=f"mean word probability {segment.confidence:.2f}")
        )
    return flags


def apply_guards(
    segments: list[Segment],
    audio: np.ndarray | None,
    thresholds: GuardThresholds = GuardThresholds(),
    offset: float = 0.0,
) -> tuple[list[Segment], list[Segment]]:
    """Flag every segment; return (kept, rejected). ``audio`` starts at ``offset`` seconds."""
    kept: list[Segment] = []
    rejected: list[Segment] = []
    for segment in segments:
        flags = inspect(segment, audio, thresholds, offset)
        flagged = segment.model_copy(update={"flags": flags})
        (rejected if any(f.code in DROPPING for f in flags) else kept).append(flagged)
    return kept, rejected
