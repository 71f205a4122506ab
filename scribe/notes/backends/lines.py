"""Hold a model's answer to fact lines (``CODE [4,5] one sentence``) cheaply, token by token.

Only two places of a line are constrained: its head (a known code, then one to ``max_ids``
line numbers in brackets) and its end (after one sentence, or ``max_words`` words, the line must
end). Everything between is the model's free choice. The head's allowed tokens depend only on the
head written so far, with digits collapsed, so each mask is computed once (over the few thousand
tokens made of head characters) and reused; elsewhere a precomputed mask is applied with one numpy
operation. A GBNF grammar over the same format made llama.cpp check all 151k tokens at every
step; this costs a fraction of a millisecond per token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import regex

_HEAD_CHARS = re.compile(r"^[A-Z0-9 \[\],]+$")
_INNER_STOP = re.compile(r"[.!?]\s+\S")
_SENTENCE_END = re.compile(r"[.!?]\s*$")


@dataclass(frozen=True)
class LineFormat:
    """Answers made of lines ``CODE [n,n] text``, or the single word ``none``."""

    codes: tuple[str, ...]
    none: str = "NONE"
    max_ids: int = 3
    max_words: int = 30
    no_repeat: int = 5  # writing a run of this many tokens of fact text a second time ends the answer (0: off)


class LineConstraint:
    """Masks a model's next-token scores so that its answer keeps to a :class:`LineFormat`.

    ``pieces`` is the text of every token of the vocabulary (index = token id); ``stops`` are the
    ids that end the answer (allowed where a line may end). Call :meth:`allowed` with the answer
    so far to get the boolean mask of tokens that may come next.
    """

    def __init__(self, form: LineFormat, pieces: Sequence[str], stops: Sequence[int]) -> None:
        self.form = form
        self.pieces = list(pieces)
        codes = "|".join(re.escape(c) for c in sorted(form.codes, key=len, reverse=True))
        ids = rf"\d{{1,4}}(?:, ?\d{{1,4}}){{0,{form.max_ids - 1}}}"
        self._head = regex.compile(rf"(?:{re.escape(form.none)}|(?:{codes}) ?\[{ids}\] ?)")
        self._complete_head = re.compile(rf"^(?:{codes}) ?\[{ids}\] ?")
        n = len(self.pieces)
        self._head_candidates = [i for i, p in enumerate(self.pieces) if p and _HEAD_CHARS.match(p)]
        self._stops = np.zeros(n, dtype=bool)
        self._stops[list(stops)] = True
        newline_only = np.array([bool(p) and not p.strip("\n") for p in self.pieces])
        self._line_end = newline_only | self._stops
        inner_newline = np.array(["\n" in p.rstrip("\n") for p in self.pieces])
        inner_stop = np.array([bool(_INNER_STOP.search(p)) for p in self.pieces])
        self._text = ~inner_newline & ~self._stops
        self._text_start = self._text & np.array(["\n" not in p for p in self.pieces])
        self._text_after_words = self._text & ~inner_stop
        self._cache: dict[str, np.ndarray] = {}

    def allowed(self, answer: str) -> np.ndarray | None:
        """The tokens allowed after ``answer`` (None: every token)."""
        line = answer.rsplit("\n", 1)[-1]
        if line.strip() == self.form.none:
            return self._line_end
        head = self._complete_head.match(line)
        if head is None:
            return self._head_mask(line)
        text = line[head.end() :]
        words = len(text.split())
        if words >= self.form.max_words or (words and _SENTENCE_END.search(text)):
            return self._line_end
        if words >= 2:
            return self._text_after_words
        return self._text if words else self._text_start

    def _head_mask(self, line: str) -> np.ndarray:
        key = re.sub(r"\d+", lambda m: "9" * min(len(m.group()), 4), line)
        mask = self._cache.get(key)
        if mask is None:
            mask = np.zeros(len(self.pieces), dtype=bool)
            for i in self._head_candidates:
                if self._head.fullmatch(key + self.pieces[i], partial=True):
                    mask[i] = True
            if not line or not mask.any():  # a line may be empty (the answer ends); a dead end ends the line
                mask |= self._line_end
            self._cache[key] = mask
        return mask

    @property
    def end(self) -> np.ndarray:
        """The mask that lets only the end of the answer through."""
        return self._stops

    def repeats(self, tokens: Sequence[int], answer: str) -> list[int]:
        """Tokens that would repeat, inside a fact's text, a run of ``no_repeat`` tokens already in ``answer``.

        Greedy decoding of a small model loops ("Heart murmur 3/6. Heart murmur 3/6. ..."). When the
        model's choice is one of these, the answer ends there (:attr:`end`): banning the token
        instead made it vary the loop ("aged 55", "aged 56", ...), inventing numbers. Line heads
        are exempt (every line starts with a code and brackets).
        """
        n = self.form.no_repeat
        if n < 2 or len(tokens) < n:
            return []
        line = answer.rsplit("\n", 1)[-1]
        head = self._complete_head.match(line)
        context = tuple(tokens[-(n - 1) :])
        if head is None or len("".join(self.pieces[t] for t in context)) > len(line) - head.end():
            return []  # the run reaches back into the head or an earlier line
        return [tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n - 1]) == context]


def apply(scores: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``scores`` with every token outside ``mask`` made impossible."""
    if mask is None:
        return scores
    scores[~mask[: scores.shape[-1]]] = -np.inf
    return scores
