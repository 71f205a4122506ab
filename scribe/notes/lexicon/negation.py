"""Polarity of terms: negated ("no chest pain", "denies fever"), uncertain, asked in a question, or hypothetical."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from scribe.notes.lexicon.facts import ABSENT, ASKED, PRESENT, Doc
from scribe.notes.lexicon.phrases import PhraseIndex
from scribe.notes.lexicon.tokens import SENTENCE_END, phrase_key
from scribe.notes.lexicon.wordlists import read_lines


@cache
def negation_tables() -> tuple[PhraseIndex, frozenset[str], frozenset[tuple[str, ...]]]:
    """Cues (phrase → the polarity they give: absent, or asked for uncertainty), stop words, post-cues."""
    table: dict[tuple[str, ...], object] = {phrase_key(w): ASKED for w in read_lines("uncertainty_cues.txt")}
    table.update({phrase_key(w): ABSENT for w in read_lines("negation_cues.txt")})
    cues = PhraseIndex(table)
    post = frozenset(phrase_key(w) for w in read_lines("negation_post.txt"))
    stops = frozenset(w.lower() for w in read_lines("negation_stops.txt"))
    return cues, stops, post


PSEUDO_NEGATIONS = {
    ("not", "sure"), ("not", "certain"), ("no", "doubt"), ("not", "only"), ("not", "just"), ("no", "problem"),
    ("no", "worries"), ("not", "bad"), ("not", "too"), ("no", "change"), ("not", "necessarily"), ("no", "idea"),
    ("not", "much"), ("no", "matter"), ("not", "quite"), ("not", "that"), ("no", "longer"),
}  # fmt: skip
NEG_WINDOW = 6  # words from the cue to the first negated term
_NOT_COUNTED = frozenset({",", "(", ")", "uh", "um", "er", "erm", "-"})
_LIST_GAP = 4  # tokens between terms of a negated list ("no fever, cough or chills")


def negation_spans(doc: Doc, terms: list[tuple[int, int, str, str]]) -> dict[int, tuple[int, str]]:
    """term index → (token index of the cue that negates it or makes it uncertain, polarity)."""
    cues, stops, post = negation_tables()
    toks = doc.toks
    negated: dict[int, tuple[int, str]] = {}
    starts = {t[0]: n for n, t in enumerate(terms)}
    i = 0
    while i < len(toks):
        hit = cues.at(toks, i)
        if hit is None or (toks[i].norm, doc.norm(i + hit[0])) in PSEUDO_NEGATIONS:
            i += 1
            continue
        n, polarity = hit
        # "No, I have had chest pain": a bare "no" answers; it does not negate what follows.
        if toks[i].norm in ("no", "none", "nope") and doc.norm(i + 1) in (",", ".", "!", "?", ";", ""):
            i += 1
            continue
        k, budget, gap = i + n, NEG_WINDOW, 0
        while k < len(toks) and gap <= budget:
            norm = toks[k].norm
            if norm in SENTENCE_END or norm in stops or norm == ":":
                break
            if k in starts:
                negated.setdefault(starts[k], (i, str(polarity)))
                k, gap, budget = terms[starts[k]][1], 0, _LIST_GAP
                continue
            gap += norm not in _NOT_COUNTED  # "no, uh, fever": fillers and commas do not use up the window
            k += 1
        i += n
    for n_term, (_, end, _, _) in enumerate(terms):
        if n_term in negated:
            continue
        k = end + (doc.norm(end) in (":", "-", ",", "was", "is", "are", "were"))
        for key in post:
            if tuple(t.norm for t in toks[k : k + len(key)]) == key:
                if key in (("no",), ("none",)) and doc.norm(k + 1) not in (*SENTENCE_END, ""):
                    continue
                negated[n_term] = (k, ABSENT)
    return negated


def is_question(doc: Doc, i: int) -> bool:
    """Whether token i is in a sentence that asks ("Any chest pain?", "Do you get headaches?")."""
    words = doc.sentences[doc.toks[i].sentence]
    if words and words[-1].norm == "?":
        return True
    first = next((t.norm for t in words if t.norm not in ("and", "so", "okay", "ok", "um", "uh", ",")), "")
    return first in ("any", "anything") and words[-1].norm not in (".", "!")  # "Any chest pain" said as a question


_CONDITIONS = frozenset({"if", "unless", "should", "whether", "case"})
CONDITION_REACH = 20  # tokens back from a term to the "if" that makes it hypothetical


def is_conditional(doc: Doc, i: int) -> bool:
    """Whether token i is in an 'if' clause ("if you develop weakness", "come back if the pain gets worse")."""
    toks = doc.toks
    for k in range(i - 1, max(-1, i - CONDITION_REACH), -1):
        if toks[k].sentence != toks[i].sentence or toks[k].norm in (";", ":"):
            return False
        if toks[k].norm in _CONDITIONS:
            return True
    return False


def word_polarities(text: str, words: Iterable[str]) -> list[str]:
    """The polarity of each place ``text`` uses one of ``words`` (or a form sharing its first five
    letters): absent after a negation cue ("no blood"), asked in a question, else present."""
    wanted = [w.lower() for w in words]
    doc = Doc(text)
    spots = [
        (i, i + 1, "word", t.norm)
        for i, t in enumerate(doc.toks)
        if any(t.norm == w or (len(w) >= 5 and t.norm[:5] == w[:5]) for w in wanted)
    ]
    negated = negation_spans(doc, spots)
    out = []
    for n, (i, *_rest) in enumerate(spots):
        if n in negated:
            out.append(negated[n][1])
        else:
            out.append(ASKED if is_question(doc, i) else PRESENT)
    return out
