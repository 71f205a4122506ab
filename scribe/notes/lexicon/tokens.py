"""Tokens: words, numbers and punctuation with offsets and sentence numbers, normalised for matching."""

from __future__ import annotations

import re
from typing import NamedTuple

_TOKEN_RE = re.compile(
    r"\d{1,2}(?:st|nd|rd|th)\b"  # ordinals: 3rd
    r"|\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?"  # numbers: 1,000  2.5  500
    r"|[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)*(?:[-&][A-Za-z0-9]+(?:['’][A-Za-z]+)*)*"  # words: co-codamol, a&e
    r"|[%&/?.!;:,()\n]"
)
SENTENCE_END = frozenset({".", "?", "!", ";", "\n"})
PUNCT = frozenset({".", "?", "!", ";", ":", ",", "(", ")", "\n", "/", "&", "%"})


class Tok(NamedTuple):
    """A token: normalised (lower case) and raw text, character span, sentence number."""

    norm: str
    raw: str
    start: int
    end: int
    sentence: int


def tokenize(text: str) -> list[Tok]:
    """Words, numbers and punctuation with their offsets and sentence numbers."""
    toks, sentence = [], 0
    for m in _TOKEN_RE.finditer(text):
        raw = m.group()
        toks.append(Tok(raw.lower().replace("’", "'"), raw, m.start(), m.end(), sentence))
        if raw in SENTENCE_END:
            sentence += 1
    return toks


def phrase_key(words: str) -> tuple[str, ...]:
    return tuple(t.norm for t in tokenize(words))


def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
