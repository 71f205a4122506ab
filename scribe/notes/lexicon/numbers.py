"""Numbers in digits or words ("2.5", "two and a half", "a hundred and eighty") found in tokens."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from scribe.notes.lexicon.tokens import Tok, tokenize

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | {"hundred", "thousand", "half"}


class Num(NamedTuple):
    value: float
    start: int  # token index
    end: int  # token index, exclusive
    vague: bool  # "one", "a", "an": a number only before a unit


def _word_number(words: list[str]) -> float | None:
    """'twenty five' → 25, 'one hundred and fifty' → 150, 'two thousand' → 2000."""
    total, current, seen = 0.0, 0.0, False
    for w in words:
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = (current or 1) * 100
        elif w == "thousand":
            total += (current or 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _follows(previous: str, word: str) -> bool:
    """Whether number word ``word`` continues a number ending in ``previous`` ("twenty" "five", not "four" "five")."""
    if word in ("hundred", "thousand"):
        return previous in _UNITS or previous in _TENS or previous == "hundred" and word == "thousand"
    if previous in _TENS:
        return word in _UNITS and 0 < _UNITS[word] < 10
    if previous in ("hundred", "thousand"):
        return word in _UNITS or word in _TENS
    return False


def parse_number(toks: Sequence[Tok], i: int) -> Num | None:
    """A number starting at token i, in digits or words ("2.5", "two and a half", "thirty-eight point five",
    "a hundred and eighty"). Consecutive small numbers ("four five times") are separate numbers."""
    if i >= len(toks):
        return None
    t = toks[i].norm
    nxt = toks[i + 1].norm if i + 1 < len(toks) else ""
    if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", t):
        j, value = i + 1, float(t.replace(",", ""))
    elif t == "half" and nxt in ("a", "an"):
        return Num(0.5, i, i + 2, False)
    elif t in ("a", "an") and nxt not in ("hundred", "thousand"):
        return Num(1.0, i, i + 1, True)
    elif t in ("a", "an") or (all(p in _NUMBER_WORDS for p in t.split("-")) and t != "half"):
        words, j = (["one"] if t in ("a", "an") else t.split("-")), i + 1
        while j < len(toks):
            word = toks[j].norm
            if word == "and" and words[-1] in ("hundred", "thousand") and j + 1 < len(toks):
                following = toks[j + 1].norm.split("-")[0]
                if following in _UNITS or following in _TENS:
                    j += 1
                    continue
                break
            parts = word.split("-")
            if not all(p in _NUMBER_WORDS - {"half"} for p in parts) or not _follows(words[-1], parts[0]):
                break
            words.extend(parts)
            j += 1
        value = _word_number(words)
        if value is None:
            return None
        if j < len(toks) and toks[j].norm == "point":
            k, digits = j + 1, ""
            while k < len(toks) and toks[k].norm in _UNITS and _UNITS[toks[k].norm] < 10:
                digits += str(_UNITS[toks[k].norm])
                k += 1
            if digits:
                value, j = float(f"{int(value)}.{digits}"), k
    else:
        return None
    if [x.norm for x in toks[j : j + 3]] == ["and", "a", "half"]:
        value, j = value + 0.5, j + 3
    vague = j == i + 1 and t == "one"
    return Num(value, i, j, vague)


def number_spans(text: str) -> list[tuple[int, int, float]]:
    """Every number in a text as (start, end, value), in digits or words."""
    toks, out, i = tokenize(text), [], 0
    while i < len(toks):
        num = parse_number(toks, i)
        if num is None or (num.vague and toks[i].norm in ("a", "an")):
            i += 1
            continue
        out.append((toks[num.start].start, toks[num.end - 1].end, num.value))
        i = num.end
    return out
