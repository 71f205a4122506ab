"""Lexicon phrases found in tokens: medicines (and misspelt ones), symptoms, problems, findings, body-part pain.

Matching is on words, longest phrase first, ignoring case, a final plural -s and filler words inside a
phrase ("coughed up a bit of blood"); the first kind in ``_KIND_ORDER`` wins a phrase two lists share.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

from rapidfuzz import fuzz, process

from scribe.notes.lexicon.facts import Doc
from scribe.notes.lexicon.tokens import PUNCT, Tok, phrase_key, singular
from scribe.notes.lexicon.wordlists import (
    brands,
    drug_class_names,
    drug_class_words,
    medicine_table,
    read_lines,
    read_pairs,
    stopwords,
)

_POSSESSIVES = frozenset({"my", "your", "the", "his", "her", "their"})


def _variants(words: str) -> set[tuple[str, ...]]:
    """Token keys of a lexicon entry, with hyphenated words also split and joined."""
    keys = {phrase_key(words)}
    if "-" in words:
        keys.add(phrase_key(words.replace("-", " ")))
        keys.add(phrase_key(words.replace("-", "")))
    keys |= {(*k[:-1], singular(k[-1])) for k in keys if k}
    keys |= {
        tuple(p if w in _POSSESSIVES else w for w in k) for k in keys for p in _POSSESSIVES if _POSSESSIVES & set(k)
    }
    return {k for k in keys if k}


class PhraseIndex:
    """Phrases (token tuples) → values, with what a fast lookup needs."""

    def __init__(self, table: dict[tuple[str, ...], object], fillers: frozenset[str] = frozenset()) -> None:
        self.table = table
        self.longest = max(len(k) for k in table)
        self.firsts = frozenset(k[0] for k in table)
        self.fillers = fillers
        self.by_first: dict[str, list[tuple[str, ...]]] = {}
        for key in sorted(table, key=len, reverse=True):
            if len(key) > 1:
                self.by_first.setdefault(key[0], []).append(key)

    def at(self, toks: Sequence[Tok], i: int) -> tuple[int, object] | None:
        """Longest phrase starting at token i: (number of tokens, value); a final plural -s is ignored,
        and so are filler words inside a phrase ("coughed up a bit of blood" = "coughed up blood")."""
        first = toks[i].norm
        if first not in self.firsts and singular(first) not in self.firsts:
            return None
        for n in range(min(self.longest, len(toks) - i), 0, -1):
            words = tuple(t.norm for t in toks[i : i + n])
            value = self.table.get(words)
            if value is None:
                value = self.table.get((*words[:-1], singular(words[-1])))
            if value is not None:
                if n == 1 and self.fillers and (longer := self._with_fillers(toks, i)) is not None:
                    return longer
                return n, value
        return self._with_fillers(toks, i) if self.fillers else None

    def _with_fillers(self, toks: Sequence[Tok], i: int) -> tuple[int, object] | None:
        for key in self.by_first.get(toks[i].norm, ()):
            k, skipped = i + 1, 0
            for word in key[1:]:
                while k < len(toks) and toks[k].norm != word and toks[k].norm in self.fillers and skipped < 3:
                    k, skipped = k + 1, skipped + 1
                if k < len(toks) and (toks[k].norm == word or (word == key[-1] and singular(toks[k].norm) == word)):
                    k += 1
                else:
                    break
            else:
                if skipped:
                    return k - i, self.table[key]
        return None


_FILLERS_IN_TERMS = frozenset({"any", "some", "a", "an", "bit", "little", "of", "the", "my", "your", "his", "her"})
_FILLERS_IN_TERMS |= {"really", "very", "quite", "bad", "slight", "mild", "severe", "terrible", "awful", "kind", "sort"}
_FILLERS_IN_TERMS |= {"just", "uh", "um"}


class _Entry(NamedTuple):
    kind: str
    value: str
    caps: bool  # the entry matches only text written in capitals


_KIND_ORDER = ("medication", "allergen", "red_flag", "symptom", "problem", "finding", "measurement", "class")


@cache
def _phrase_index() -> PhraseIndex:
    """Every lexicon phrase → its entry; the first kind in _KIND_ORDER wins a shared phrase."""
    sources: dict[str, list[tuple[str, str]]] = {
        "medication": [(g, g) for g in medicine_table()] + list(brands().items()),
        "allergen": read_pairs("allergens.txt"),
        "red_flag": read_pairs("red_flags.txt"),
        "symptom": read_pairs("symptoms.txt"),
        "problem": read_pairs("problems.txt"),
        "finding": read_pairs("findings.txt"),
        "measurement": read_pairs("measurements.txt"),
        "class": list(drug_class_words().items()) + [(c, c) for c in drug_class_names()],
    }
    index: dict[tuple[str, ...], _Entry] = {}
    for kind in _KIND_ORDER:
        for words, value in sources[kind]:
            caps = words.isupper() and len(words) > 1
            for key in _variants(words):
                index.setdefault(key, _Entry(kind, value, caps))
    return PhraseIndex(index, _FILLERS_IN_TERMS)


@cache
def _fuzzy_choices() -> dict[str, str]:
    names = {g: g for g in medicine_table() if " " not in g}
    names.update({b: g for b, g in brands().items() if " " not in b})
    return {n: g for n, g in names.items() if len(n) >= 6}


# Words that are close to a medicine's name but are ordinary English (found by scanning
# ACI-Bench and PriMock57 text); never read them as misspelt medicines.
_NOT_MEDICINES = frozenset({"aspiring", "clarity", "pancreatic", "medicine", "medicines"})


@cache
def fuzzy_medicine(word: str) -> str | None:
    """The generic name a misspelt medicine most likely is ("amoxycillin" → amoxicillin), else None."""
    word = word.lower()
    if len(word) < 6 or not word.isalpha() or word in _NOT_MEDICINES or word in stopwords():
        return None
    choices = _fuzzy_choices()
    if word in choices:
        return choices[word]
    best = process.extractOne(word, list(choices), scorer=fuzz.ratio, score_cutoff=87)
    if best is None:
        return None
    name = best[0]
    same_start = name[0] == word[0] or {name[:2], word[:1]} == {"ph", "f"} or {name[:1], word[:2]} == {"f", "ph"}
    if abs(len(name) - len(word)) > 2 or not same_start:
        return None
    return choices[name]


@cache
def body_parts() -> PhraseIndex:
    return PhraseIndex({phrase_key(w): w for w in read_lines("body_parts.txt")})


def match_terms(doc: Doc) -> list[tuple[int, int, str, str]]:
    """Lexicon phrases, longest first: (start token, end token, kind, value)."""
    index = _phrase_index()
    found, i = [], 0
    toks = doc.toks
    while i < len(toks):
        if toks[i].norm in PUNCT:
            i += 1
            continue
        hit = index.at(toks, i)
        if hit is not None:
            n, entry = hit
            assert isinstance(entry, _Entry)
            if not entry.caps or all(t.raw.isupper() for t in toks[i : i + n]):
                found.append((i, i + n, entry.kind, entry.value))
                for k in range(i, i + n):
                    doc.used[k] = True
                i += n
                continue
        generic = fuzzy_medicine(toks[i].norm) if toks[i].norm[:1].isalpha() else None
        if generic is not None:
            found.append((i, i + 1, "medication", generic))
            doc.used[i] = True
        i += 1
    return sorted(found + _pain_terms(doc), key=lambda term: term[0])


_PAIN_WORDS = frozenset({"pain", "pains", "painful", "ache", "aches", "aching", "achy", "sore", "soreness", "hurts"})
_PAIN_WORDS |= {"hurt", "hurting", "discomfort"}
_PAIN_SKIP = frozenset({"the", "my", "your", "his", "her", "their", "in", "on", "around", "of", "at", "left", "right"})
_PAIN_SKIP |= {"both", "is", "are", "was", "were", "has", "been", "a", "bit", "little", "really", "very", "quite"}
VAGUE_PARTS = frozenset({"side", "sided", "upper", "lower", "lateral", "medial", "posterior", "anterior", "base"})


def _pain_terms(doc: Doc) -> list[tuple[int, int, str, str]]:
    """Pain in a body part said in other words: "pain in my right knee", "my knee hurts" → knee pain."""
    toks, parts, index = doc.toks, body_parts(), _phrase_index()
    found = []
    for i, t in enumerate(toks):
        if t.norm not in _PAIN_WORDS or doc.used[i]:
            continue
        spans = []
        k = i + 1
        while k < len(toks) and k <= i + 4 and toks[k].norm in _PAIN_SKIP:
            k += 1
        if k < len(toks) and (hit := parts.at(toks, k)) and toks[k].sentence == t.sentence:
            spans.append((i, k + hit[0], k, k + hit[0]))
        for k in range(i - 1, max(-1, i - 4), -1):
            if toks[k].norm in PUNCT or doc.used[k]:
                break
            if (hit := parts.at(toks, k)) and k + hit[0] <= i:
                spans.append((k, i + 1, k, k + hit[0]))
                break
        for start, end, p0, p1 in spans:
            part = " ".join(singular(x.norm) for x in toks[p0:p1])
            if part in VAGUE_PARTS or any(doc.used[x] for x in range(start, end)):
                continue
            entry = index.table.get(phrase_key(f"{part} pain"))
            kind, value = (entry.kind, entry.value) if isinstance(entry, _Entry) else ("symptom", f"{part} pain")
            found.append((start, end, kind, value))
            for x in range(start, end):
                doc.used[x] = True
            break
    return found
