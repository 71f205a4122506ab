"""Speech metrics: WER with Whisper's English normalisation, medical-term recall, speaker attribution."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jiwer
from whisper_normalizer.english import EnglishTextNormalizer

from scribe.asr.vocabulary import read_terms
from scribe.records import SpeakerRole, Transcript


@dataclass(frozen=True)
class RefSegment:
    """A reference utterance: who said what, when."""

    start: float
    end: float
    speaker: SpeakerRole
    text: str


@dataclass(frozen=True)
class Ratio:
    """A count-based rate, kept with its counts so rates can be pooled honestly."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.hits + other.hits, self.total + other.total)


@cache
def _normaliser() -> EnglishTextNormalizer:
    return EnglishTextNormalizer()


def normalise(text: str) -> str:
    """Whisper's English normaliser: case, punctuation, British to American spelling, numbers."""
    return re.sub(r"\s+", " ", _normaliser()(text)).strip()


def word_errors(reference: str, hypothesis: str) -> Ratio:
    """(substitutions + deletions + insertions, reference words) after normalisation."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return Ratio(len(hyp.split()), 0)
    out = jiwer.process_words(ref, hyp or "")
    return Ratio(out.substitutions + out.deletions + out.insertions, len(ref.split()))


@cache
def medical_terms() -> tuple[str, ...]:
    """The evaluation lexicon of clinical terms (normalised)."""
    text = resources.files("scribe.evaluate").joinpath("medical_terms.txt").read_text("utf-8")
    return tuple(normalise(t) for t in read_terms(text))


def _term_counts(normalised: str, terms: Sequence[str]) -> Counter[str]:
    padded = f" {normalised} "
    return Counter({t: padded.count(f" {t} ") for t in terms if f" {t} " in padded})


def term_recall(reference: str, hypothesis: str, terms: Sequence[str] | None = None) -> Ratio:
    """Occurrences of clinical terms in the reference that the hypothesis also has."""
    terms = terms or medical_terms()
    wanted = _term_counts(normalise(reference), terms)
    found = _term_counts(normalise(hypothesis), terms)
    return Ratio(sum(min(n, found[t]) for t, n in wanted.items()), sum(wanted.values()))


def attribution(transcript: Transcript, reference: Sequence[RefSegment]) -> Ratio:
    """Recognised words whose speaker matches the reference speaker at the word's midpoint.

    Words whose midpoint falls in no reference utterance, or in two speakers' overlapping
    utterances, are not counted.
    """
    hits = total = 0
    for word in transcript.words():
        middle = (word.start + word.end) / 2
        owners = {r.speaker for r in reference if r.start - 0.2 <= middle <= r.end + 0.2}
        if len(owners) != 1:
            continue
        total += 1
        hits += word.speaker in owners
    return Ratio(hits, total)


def invented_segments(transcript: Transcript, reference: Sequence[RefSegment], min_overlap: float = 0.2) -> Ratio:
    """Kept segments with less than ``min_overlap`` of their duration under any reference utterance.

    Text where nobody spoke is what Whisper invents over silence and noise; a segment of zero
    length counts as invented when its time falls outside every reference utterance.
    """
    spans = sorted((r.start, r.end) for r in reference)
    invented = 0
    for segment in transcript.segments:
        length = segment.end - segment.start
        covered = sum(max(0.0, min(segment.end, end) - max(segment.start, start)) for start, end in spans)
        if length <= 0:
            inside = any(start <= segment.start <= end for start, end in spans)
            invented += not inside
        elif covered / length < min_overlap:
            invented += 1
    return Ratio(invented, len(transcript.segments))
