"""The record of one fact found in a text, its polarities, and the working document extractors fill."""

from __future__ import annotations

from dataclasses import dataclass

from scribe.notes.lexicon.tokens import Tok, tokenize

PRESENT, ABSENT, ASKED = "present", "absent", "asked"
POLAR_KINDS = frozenset({"medication", "allergy", "red_flag", "symptom", "problem", "finding"})


NO_ALLERGIES = "allergies"  # the value of an allergy fact about allergies in general ("no known allergies")


@dataclass(frozen=True)
class Fact:
    """One checkable fact found in a text.

    ``value`` is the normalised form compared across wordings; ``numbers`` the numeric values
    (doses in mg/mcg/ml..., durations in days, frequencies per day); ``subject`` the medicine a
    dose or frequency belongs to; ``polarity`` present, absent or asked.
    """

    kind: str
    text: str
    start: int
    end: int
    value: str = ""
    polarity: str = PRESENT
    numbers: tuple[float, ...] = ()
    subject: str = ""


class Doc:
    """A tokenised text and the facts found in it so far."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.used = [False] * len(self.toks)  # tokens inside a lexicon phrase or a numeric fact
        self.facts: list[Fact] = []
        self.sentences: dict[int, list[Tok]] = {}
        for tok in self.toks:
            self.sentences.setdefault(tok.sentence, []).append(tok)

    def span(self, i: int, j: int) -> tuple[str, int, int]:
        start, end = self.toks[i].start, self.toks[j - 1].end
        return self.text[start:end], start, end

    def add(self, kind: str, i: int, j: int, value: str, **extra: object) -> Fact:
        text, start, end = self.span(i, j)
        fact = Fact(kind, text, start, end, value, **extra)  # type: ignore[arg-type]
        self.facts.append(fact)
        return fact

    def norm(self, i: int) -> str:
        return self.toks[i].norm if 0 <= i < len(self.toks) else ""
