"""Clinical facts in free text: medicines, doses, numbers, sides, dates, negations, red flags.

``extract_facts(text)`` finds the facts a grounding check can verify and an omission check can
look for, in a transcript segment or in a note (UK or US style). Each :class:`Fact` has a kind,
the text as written with its character offsets, and a normalised ``value`` so that different
wordings compare equal: "five milligrams" and "5 mg" are both dose ``5 mg``; "Ventolin" and
"salbutamol" both medication ``salbutamol``; "amoxycillin" (an ASR spelling) is matched to
``amoxicillin`` with rapidfuzz; "the right knee" is laterality ``right`` of the knee; "three
days" and "3/7" are both date ``3 day``.

Kinds: medication (generic name, or a class such as ``antibiotic``), dose, frequency, number,
laterality, date, negation, allergy, red_flag, symptom, problem, finding (signs, and
measurements or tests, which are never negated), safety_netting. Symptoms, red flags, findings,
problems, medicines and allergies carry a ``polarity``: present, absent ("no chest pain",
"denies fever") or asked (named in a question, uncertain as in "possible UTI", or hypothetical
as in "if you develop a fever"). In a transcript, :func:`segment_facts` settles asked facts from
the answer in the next turn ("Any chest pain?" "No." makes chest pain absent).

Matching is on words, longest phrase first, ignoring case, a final plural -s and filler words
inside a phrase ("coughed up a bit of blood"). The word lists are plain text files in
``scribe/notes/lexicon/`` (one term per line, ``words = canonical`` for synonyms, # comments; an
entry in CAPITALS matches only capitals); a site can read them to see what is recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import NamedTuple

from rapidfuzz import fuzz, process

from scribe.records import Segment, SpeakerRole

PRESENT, ABSENT, ASKED = "present", "absent", "asked"
POLAR_KINDS = frozenset({"medication", "allergy", "red_flag", "symptom", "problem", "finding"})
KINDS = (
    "medication",
    "dose",
    "frequency",
    "number",
    "laterality",
    "date",
    "negation",
    "allergy",
    "red_flag",
    "symptom",
    "problem",
    "finding",
    "safety_netting",
)
RELATIVE_DATES = frozenset(
    {"today", "yesterday", "tomorrow", "tonight", "last night", "this morning", "last week", "next week"}
    | {"last month", "next month", "last year", "next year", "this week", "this afternoon", "this evening"}
)
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


# --- Word lists ---------------------------------------------------------------------------------


def _lines(name: str) -> list[str]:
    text = resources.files("scribe.notes").joinpath("lexicon", name).read_text("utf-8")
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _pairs(name: str) -> list[tuple[str, str]]:
    """``words = canonical`` lines (a bare line is its own canonical form)."""
    out = []
    for line in _lines(name):
        words, _, canonical = line.partition("=")
        words = words.strip()
        out.append((words, (canonical.strip() or words).lower()))
    return out


@cache
def _medicine_table() -> dict[str, frozenset[str]]:
    table = {}
    for line in _lines("medicines.txt"):
        name, _, classes = line.partition("|")
        table[name.strip().lower()] = frozenset(c.strip().lower() for c in classes.split(",") if c.strip())
    return table


def medicines() -> frozenset[str]:
    """Generic names of the medicines scribe recognises."""
    return frozenset(_medicine_table())


@cache
def brands() -> dict[str, str]:
    """Brand, US and other names mapped to the generic name."""
    return {words.lower(): canonical for words, canonical in _pairs("brands.txt")}


@cache
def drug_class_words() -> dict[str, str]:
    """Words naming a group of medicines ("antibiotics", "blue inhaler") mapped to the class."""
    return {words.lower(): canonical for words, canonical in _pairs("drug_classes.txt")}


@cache
def drug_class_names() -> frozenset[str]:
    """Every class name used in medicines.txt and drug_classes.txt."""
    names = {c for classes in _medicine_table().values() for c in classes}
    return frozenset(names | set(drug_class_words().values()))


def is_drug_class(value: str) -> bool:
    """Whether a medication value names a class ("antibiotic") rather than one medicine."""
    return value in drug_class_names() and value not in _medicine_table()


def classes_of(generic: str) -> frozenset[str]:
    """The classes a generic medicine belongs to (empty when unknown)."""
    return _medicine_table().get(generic, frozenset())


def red_flags() -> frozenset[str]:
    """Canonical names of the red-flag symptoms."""
    return frozenset(canonical for _, canonical in _pairs("red_flags.txt"))


@cache
def stopwords() -> frozenset[str]:
    """Words with no clinical content."""
    return frozenset(w.lower() for w in _lines("stopwords.txt"))


# --- Tokens -------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"\d{1,2}(?:st|nd|rd|th)\b"  # ordinals: 3rd
    r"|\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?"  # numbers: 1,000  2.5  500
    r"|[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)*(?:[-&][A-Za-z0-9]+(?:['’][A-Za-z]+)*)*"  # words: co-codamol, a&e
    r"|[%&/?.!;:,()\n]"
)
_SENTENCE_END = frozenset({".", "?", "!", ";", "\n"})
_PUNCT = frozenset({".", "?", "!", ";", ":", ",", "(", ")", "\n", "/", "&", "%"})


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
        if raw in _SENTENCE_END:
            sentence += 1
    return toks


def _key(words: str) -> tuple[str, ...]:
    return tuple(t.norm for t in tokenize(words))


_POSSESSIVES = frozenset({"my", "your", "the", "his", "her", "their"})


def _variants(words: str) -> set[tuple[str, ...]]:
    """Token keys of a lexicon entry, with hyphenated words also split and joined."""
    keys = {_key(words)}
    if "-" in words:
        keys.add(_key(words.replace("-", " ")))
        keys.add(_key(words.replace("-", "")))
    keys |= {(*k[:-1], _singular(k[-1])) for k in keys if k}
    keys |= {
        tuple(p if w in _POSSESSIVES else w for w in k) for k in keys for p in _POSSESSIVES if _POSSESSIVES & set(k)
    }
    return {k for k in keys if k}


class _Index:
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
        if first not in self.firsts and _singular(first) not in self.firsts:
            return None
        for n in range(min(self.longest, len(toks) - i), 0, -1):
            words = tuple(t.norm for t in toks[i : i + n])
            value = self.table.get(words)
            if value is None:
                value = self.table.get((*words[:-1], _singular(words[-1])))
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
                if k < len(toks) and (toks[k].norm == word or (word == key[-1] and _singular(toks[k].norm) == word)):
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
def _phrase_index() -> _Index:
    """Every lexicon phrase → its entry; the first kind in _KIND_ORDER wins a shared phrase."""
    sources: dict[str, list[tuple[str, str]]] = {
        "medication": [(g, g) for g in _medicine_table()] + list(brands().items()),
        "allergen": _pairs("allergens.txt"),
        "red_flag": _pairs("red_flags.txt"),
        "symptom": _pairs("symptoms.txt"),
        "problem": _pairs("problems.txt"),
        "finding": _pairs("findings.txt"),
        "measurement": _pairs("measurements.txt"),
        "class": list(drug_class_words().items()) + [(c, c) for c in drug_class_names()],
    }
    index: dict[tuple[str, ...], _Entry] = {}
    for kind in _KIND_ORDER:
        for words, value in sources[kind]:
            caps = words.isupper() and len(words) > 1
            for key in _variants(words):
                index.setdefault(key, _Entry(kind, value, caps))
    return _Index(index, _FILLERS_IN_TERMS)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@cache
def _fuzzy_choices() -> dict[str, str]:
    names = {g: g for g in _medicine_table() if " " not in g}
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


# --- Numbers ------------------------------------------------------------------------------------

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | {"hundred", "thousand", "half"}


class _Num(NamedTuple):
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


def _parse_number(toks: Sequence[Tok], i: int) -> _Num | None:
    """A number starting at token i, in digits or words ("2.5", "two and a half", "thirty-eight point five",
    "a hundred and eighty"). Consecutive small numbers ("four five times") are separate numbers."""
    if i >= len(toks):
        return None
    t = toks[i].norm
    nxt = toks[i + 1].norm if i + 1 < len(toks) else ""
    if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", t):
        j, value = i + 1, float(t.replace(",", ""))
    elif t == "half" and nxt in ("a", "an"):
        return _Num(0.5, i, i + 2, False)
    elif t in ("a", "an") and nxt not in ("hundred", "thousand"):
        return _Num(1.0, i, i + 1, True)
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
    return _Num(value, i, j, vague)


def number_spans(text: str) -> list[tuple[int, int, float]]:
    """Every number in a text as (start, end, value), in digits or words."""
    toks, out, i = tokenize(text), [], 0
    while i < len(toks):
        num = _parse_number(toks, i)
        if num is None or (num.vague and toks[i].norm in ("a", "an")):
            i += 1
            continue
        out.append((toks[num.start].start, toks[num.end - 1].end, num.value))
        i = num.end
    return out


_DOSE_UNITS = {
    "mg": ("mg", 1.0), "mgs": ("mg", 1.0), "milligram": ("mg", 1.0), "milligrams": ("mg", 1.0),
    "milligramme": ("mg", 1.0), "milligrammes": ("mg", 1.0), "mcg": ("mg", 0.001), "ug": ("mg", 0.001),
    "µg": ("mg", 0.001), "microgram": ("mg", 0.001), "micrograms": ("mg", 0.001), "g": ("mg", 1000.0),
    "gm": ("mg", 1000.0), "gram": ("mg", 1000.0), "grams": ("mg", 1000.0), "ml": ("ml", 1.0),
    "mls": ("ml", 1.0), "millilitre": ("ml", 1.0), "millilitres": ("ml", 1.0), "milliliter": ("ml", 1.0),
    "milliliters": ("ml", 1.0), "cc": ("ml", 1.0), "l": ("ml", 1000.0), "litre": ("ml", 1000.0),
    "litres": ("ml", 1000.0), "unit": ("unit", 1.0), "units": ("unit", 1.0), "iu": ("unit", 1.0),
    "puff": ("puff", 1.0), "puffs": ("puff", 1.0), "tablet": ("tablet", 1.0), "tablets": ("tablet", 1.0),
    "tab": ("tablet", 1.0), "tabs": ("tablet", 1.0), "pill": ("tablet", 1.0), "pills": ("tablet", 1.0),
    "capsule": ("capsule", 1.0), "capsules": ("capsule", 1.0), "caps": ("capsule", 1.0),
    "drop": ("drop", 1.0), "drops": ("drop", 1.0), "sachet": ("sachet", 1.0), "sachets": ("sachet", 1.0),
    "spray": ("spray", 1.0), "sprays": ("spray", 1.0), "patch": ("patch", 1.0), "patches": ("patch", 1.0),
    "teaspoon": ("ml", 5.0), "teaspoons": ("ml", 5.0), "spoonful": ("ml", 5.0), "spoonfuls": ("ml", 5.0),
    "injection": ("injection", 1.0), "injections": ("injection", 1.0), "mmol": ("mmol", 1.0),
}  # fmt: skip
_MEASURE_UNITS = {
    "%": "%", "percent": "%", "degrees": "degrees", "degree": "degrees", "c": "degrees", "celsius": "degrees",
    "bpm": "bpm", "beats": "bpm", "kg": "kg", "kgs": "kg", "kilos": "kg", "kilograms": "kg", "cm": "cm",
    "mmhg": "mmhg", "lbs": "lb", "pounds": "lb", "stone": "stone", "breaths": "breaths", "mm": "mm",
    "centimetres": "cm", "centimeters": "cm", "inches": "inch", "feet": "ft", "foot": "ft", "mmol/l": "mmol/l",
}  # fmt: skip
_DURATION_UNITS = {
    "second": 1 / 86400, "seconds": 1 / 86400, "minute": 1 / 1440, "minutes": 1 / 1440, "min": 1 / 1440,
    "mins": 1 / 1440, "hour": 1 / 24, "hours": 1 / 24, "hr": 1 / 24, "hrs": 1 / 24, "day": 1, "days": 1,
    "night": 1, "nights": 1, "week": 7, "weeks": 7, "wk": 7, "wks": 7, "fortnight": 14, "fortnights": 14,
    "month": 30, "months": 30, "year": 365, "years": 365, "yr": 365, "yrs": 365, "d": 1,
}  # fmt: skip
_DURATION_NAMES = {1 / 86400: "second", 1 / 1440: "minute", 1 / 24: "hour", 1: "day", 7: "week", 14: "week"}
_DURATION_NAMES |= {30: "month", 365: "year"}
_VAGUE_COUNTS = {"couple": 2.0, "few": 0.0, "several": 0.0, "many": 0.0}
_PERIODS = {"day": 1.0, "daily": 1.0, "week": 1 / 7, "weekly": 1 / 7, "month": 1 / 30, "monthly": 1 / 30}
_PERIODS |= {"night": 1.0, "morning": 1.0, "evening": 1.0, "hour": 24.0, "year": 1 / 365}
_PERIOD_WORDS = {"daily": 1.0, "nightly": 1.0, "weekly": 1 / 7, "monthly": 1 / 30}
_FREQ_WORDS = {"once": 1.0, "twice": 2.0, "thrice": 3.0}
_FREQ_ABBREVIATIONS = {
    "od": 1.0, "qd": 1.0, "daily": 1.0, "nightly": 1.0, "nocte": 1.0, "mane": 1.0, "bd": 2.0, "bid": 2.0,
    "tds": 3.0, "tid": 3.0, "qds": 4.0, "qid": 4.0, "weekly": 1 / 7, "fortnightly": 1 / 14, "monthly": 1 / 30,
}  # fmt: skip
_PRN = (("as", "needed"), ("as", "required"), ("when", "needed"), ("when", "required"), ("if", "needed"))
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_ORDINAL_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)")
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip


def _fmt(x: float) -> str:
    return f"{x:g}"


# --- Extraction ---------------------------------------------------------------------------------


class _Doc:
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


def _match_terms(doc: _Doc) -> list[tuple[int, int, str, str]]:
    """Lexicon phrases, longest first: (start token, end token, kind, value)."""
    index = _phrase_index()
    found, i = [], 0
    toks = doc.toks
    while i < len(toks):
        if toks[i].norm in _PUNCT:
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
_VAGUE_PARTS = frozenset({"side", "sided", "upper", "lower", "lateral", "medial", "posterior", "anterior", "base"})


def _pain_terms(doc: _Doc) -> list[tuple[int, int, str, str]]:
    """Pain in a body part said in other words: "pain in my right knee", "my knee hurts" → knee pain."""
    toks, parts, index = doc.toks, _body_parts(), _phrase_index()
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
            if toks[k].norm in _PUNCT or doc.used[k]:
                break
            if (hit := parts.at(toks, k)) and k + hit[0] <= i:
                spans.append((k, i + 1, k, k + hit[0]))
                break
        for start, end, p0, p1 in spans:
            part = " ".join(_singular(x.norm) for x in toks[p0:p1])
            if part in _VAGUE_PARTS or any(doc.used[x] for x in range(start, end)):
                continue
            entry = index.table.get(_key(f"{part} pain"))
            kind, value = (entry.kind, entry.value) if isinstance(entry, _Entry) else ("symptom", f"{part} pain")
            found.append((start, end, kind, value))
            for x in range(start, end):
                doc.used[x] = True
            break
    return found


def _numeric_facts(doc: _Doc) -> None:
    """Doses, frequencies, durations, measurements and bare numbers."""
    toks, i = doc.toks, 0
    while i < len(toks):
        if doc.used[i]:
            i += 1
            continue
        j = _frequency_at(doc, i)
        if j:
            i = j
            continue
        num = _parse_number(toks, i)
        if num is None:
            if toks[i].norm in _VAGUE_COUNTS or toks[i].norm in ("fortnight",):
                i = _vague_duration(doc, i) or i + 1
            else:
                i += 1
            continue
        i = _after_number(doc, num)


def _vague_duration(doc: _Doc, i: int) -> int:
    """'a couple of days', 'a few weeks', 'a fortnight'."""
    toks = doc.toks
    if doc.norm(i) == "fortnight":
        doc.add("date", i, i + 1, "2 week", numbers=(14.0,))
        return i + 1
    count = _VAGUE_COUNTS[doc.norm(i)]
    j = i + 1 + (doc.norm(i + 1) == "of")
    if doc.norm(j) in _DURATION_UNITS:
        start = i - 1 if doc.norm(i - 1) == "a" else i
        unit = _DURATION_UNITS[doc.norm(j)]
        name = _DURATION_NAMES.get(unit, "day")
        if count:
            doc.add("date", start, j + 1, f"{_fmt(count)} {name}", numbers=(count * unit,))
        else:
            doc.add("date", start, j + 1, f"{toks[i].norm} {name}")
        return j + 1
    return 0


def _frequency_at(doc: _Doc, i: int) -> int:
    """A frequency starting at token i ("twice a day", "bd", "every 4 hours", "as needed"); its end or 0."""
    n, toks = doc.norm(i), doc.toks
    per_day: tuple[float, ...] | None = None
    j = i
    if n in _FREQ_WORDS:
        j = i + 1
        per = _period(doc, j)
        if per is None:
            return 0
        rate, j = per
        per_day = (_FREQ_WORDS[n] * rate,)
    elif n in _FREQ_ABBREVIATIONS and (n not in ("od", "qd") or toks[i].raw.isupper() or doc.norm(i - 1) == "mg"):
        j, per_day = i + 1, (_FREQ_ABBREVIATIONS[n],)
    elif n == "every" or n == "each":
        num = _parse_number(toks, i + 1)
        k = num.end if num else i + 1
        if doc.norm(k) in ("to", "-", "or") and num is not None:
            num2 = _parse_number(toks, k + 1)
            if num2 is not None and doc.norm(num2.end) in ("hours", "hour", "hrs"):
                per_day, j = (24 / num.value, 24 / num2.value), num2.end + 1
        if per_day is None and doc.norm(k) in ("hours", "hour", "hrs", "hr") and num is not None and num.value:
            per_day, j = (24 / num.value,), k + 1
        elif per_day is None and doc.norm(k) in ("morning", "night", "evening", "day", "week", "month"):
            per_day, j = (_PERIODS[doc.norm(k)] if num is None else _PERIODS[doc.norm(k)] / num.value,), k + 1
        if per_day is None:
            return 0
    elif (n, doc.norm(i + 1)) in _PRN:
        doc.add("frequency", i, i + 2, "as needed")
        return i + 2
    elif n == "prn":
        doc.add("frequency", i, i + 1, "as needed")
        return i + 1
    elif re.fullmatch(r"q(\d{1,2})h", n):
        per_day, j = (24 / int(n[1:-1]),), i + 1
    else:
        num = _parse_number(toks, i)
        if num is None:
            return 0
        k = num.end
        nums = [num.value]
        # a range: "six or seven times", "four, five times", "four five times"
        num2 = _parse_number(toks, k + 1) if doc.norm(k) in ("to", "or", "-", ",") else _parse_number(toks, k)
        if num2 is not None and not num2.vague and doc.norm(num2.end) in ("times", "x", "hourly"):
            nums.append(num2.value)
            k = num2.end
        per_time = doc.norm(k) in ("a", "per") and doc.norm(k + 1) == "day"
        if doc.norm(k) in ("hourly",) and num.value:
            per_day, j = tuple(24 / x for x in nums if x), k + 1
        elif doc.norm(k) in ("times", "time", "x") or per_time:
            k += doc.norm(k) in ("times", "time", "x")
            per = _period(doc, k)
            if per is None:
                return 0
            rate, j = per
            per_day = tuple(x * rate for x in nums)
        else:
            return 0
    assert per_day is not None
    weekly = all(x < 1 for x in per_day)
    value = "-".join(_fmt(round(x * 7 if weekly else x, 2)) for x in sorted(per_day)) + ("/week" if weekly else "/day")
    doc.add("frequency", i, j, value, numbers=tuple(round(x, 3) for x in per_day))
    for k in range(i, j):
        doc.used[k] = True
    return j


def _period(doc: _Doc, j: int) -> tuple[float, int] | None:
    """'a day', 'per week', 'daily', 'every day', 'in the morning' at token j → (times per day factor, end)."""
    n = doc.norm(j)
    if n in _PERIOD_WORDS:
        return _PERIOD_WORDS[n], j + 1
    if n in ("a", "an", "per", "each", "every", "in", "at") and doc.norm(j + 1) in _PERIODS:
        return _PERIODS[doc.norm(j + 1)], j + 2
    if n in ("a", "per") and doc.norm(j + 1) == "the" and doc.norm(j + 2) in _PERIODS:
        return _PERIODS[doc.norm(j + 2)], j + 3
    return None


def _after_number(doc: _Doc, num: _Num) -> int:
    """Classify the number at ``num`` by what follows it; return the next token index."""
    toks, i, j = doc.toks, num.start, num.end
    nxt = doc.norm(j)
    # 140/90, 140 over 90; UK durations 3/7 (days), 2/52 (weeks), 6/12 (months); dates 12/03/2024
    if nxt in ("/", "over") and (second := _parse_number(toks, j + 1)) is not None and not num.vague:
        k = second.end
        if doc.norm(k) == "/" and (third := _parse_number(toks, k + 1)) is not None:
            doc.add("date", i, third.end, f"{_fmt(second.value)}-{_fmt(num.value)}", numbers=())
            return third.end
        if nxt == "/" and second.value in (7, 52, 12) and num.value < second.value:
            factor = {7: 1, 52: 7, 12: 30}[int(second.value)]
            name = {7: "day", 52: "week", 12: "month"}[int(second.value)]
            doc.add("date", i, k, f"{_fmt(num.value)} {name}", numbers=(num.value * factor,))
            return k
        doc.add("number", i, k, f"{_fmt(num.value)}/{_fmt(second.value)}", numbers=(num.value, second.value))
        return k
    # ranges: "5 to 10 mg", "6-7 days", "two or three days"
    values, k = [num.value], j
    second = _parse_number(toks, j + 1) if nxt in ("to", "or", "-") else None
    if second is not None and not second.vague and doc.norm(second.end) in {*_DOSE_UNITS, *_DURATION_UNITS}:
        values.append(second.value)
        k = second.end
    unit_word = doc.norm(k)
    if unit_word in _DOSE_UNITS and not (unit_word in ("l", "g") and toks[k].raw not in ("g", "L", "l")):
        unit, factor = _DOSE_UNITS[unit_word]
        amounts = tuple(round(v * factor, 6) for v in values)
        value = "-".join(_fmt(a) for a in amounts) + f" {unit}"
        doc.add("dose", i, k + 1, value, numbers=amounts)
        return k + 1
    if unit_word in _DURATION_UNITS and not (unit_word == "d" and toks[k].raw != "d"):
        if doc.norm(k + 1) == "old" or unit_word in ("year-old", "years-old"):
            doc.add("number", i, k + 2, _fmt(values[0]), numbers=tuple(values))
            return k + 2
        unit = _DURATION_UNITS[unit_word]
        name = _DURATION_NAMES.get(unit, "day")
        days = tuple(round(v * unit, 6) for v in values)
        doc.add("date", i, k + 1, "-".join(_fmt(v) for v in values) + f" {name}", numbers=days)
        return k + 1
    if unit_word in ("year-old", "years-old", "month-old", "week-old", "day-old"):
        doc.add("number", i, k + 1, _fmt(values[0]), numbers=tuple(values))
        return k + 1
    if num.vague:
        return num.end
    if unit_word in _MEASURE_UNITS:
        doc.add("number", i, k + 1, f"{_fmt(values[0])} {_MEASURE_UNITS[unit_word]}", numbers=tuple(values))
        return k + 1
    if nxt in ("per",) and doc.norm(j + 1) == "cent":
        doc.add("number", i, j + 2, f"{_fmt(num.value)} %", numbers=(num.value,))
        return j + 2
    doc.add("number", i, num.end, _fmt(num.value), numbers=(num.value,))
    return num.end


def _date_facts(doc: _Doc) -> None:
    """Weekdays, calendar dates ("3rd of March", "March 3") and relative days ("yesterday")."""
    toks = doc.toks
    for i, t in enumerate(toks):
        n = t.norm
        if _singular(n) in _WEEKDAYS:
            doc.add("date", i, i + 1, _singular(n))
        elif n in _MONTHS and not (n == "may" and not t.raw[0].isupper()) and not (n == "march" and t.raw == "march"):
            day = _day_near(doc, i)
            doc.add("date", *day[1:], f"{day[0]:02d}-{_MONTHS.index(n) + 1:02d}" if day[0] else n)
        elif n in ("today", "yesterday", "tomorrow", "tonight"):
            doc.add("date", i, i + 1, n)
        elif (n, doc.norm(i + 1)) in {
            ("last", "night"),
            ("this", "morning"),
            ("last", "week"),
            ("next", "week"),
            ("this", "week"),
        } | {("last", "month"), ("next", "month"), ("last", "year"), ("next", "year")}:
            doc.add("date", i, i + 2, f"{n} {doc.norm(i + 1)}")


def _day_near(doc: _Doc, i: int) -> tuple[int, int, int]:
    """(day of month or 0, start token, end token) around the month at token i."""

    def day(k: int) -> int:
        n = doc.norm(k)
        m = _ORDINAL_RE.fullmatch(n) or re.fullmatch(r"\d{1,2}", n)
        if m:
            return int(m.group(1) if m.groups() else m.group())
        return _ORDINAL_WORDS.get(n, 0)

    if day(i + 1):
        return day(i + 1), i, i + 2
    if doc.norm(i - 1) == "of" and day(i - 2):
        return day(i - 2), i - 2 - (doc.norm(i - 3) == "the"), i + 1
    if day(i - 1):
        return day(i - 1), i - 1, i + 1
    return 0, i, i + 1


@cache
def _body_parts() -> _Index:
    return _Index({_key(w): w for w in _lines("body_parts.txt")})


_SIDE_ABBREVIATIONS = {"llq": "left", "luq": "left", "lif": "left", "rlq": "right", "ruq": "right", "rif": "right"}
_SIDE_PREFIX = {"on", "to", "in", "at", "towards", "from", "of"}
_SIDE_DETERMINERS = {"the", "your", "my", "his", "her", "their", "its"}
_SUBJECTS = {"i", "you", "he", "she", "we", "they", "it", "have", "had", "has", "was", "were", "been", "just"}


def _laterality_facts(doc: _Doc) -> None:
    """Left, right or bilateral, only where they name a side of the body."""
    toks = doc.toks
    parts = _body_parts()
    for i, t in enumerate(toks):
        n = t.norm
        side = None
        if n in _SIDE_ABBREVIATIONS:
            side = _SIDE_ABBREVIATIONS[n]
        elif n in ("bilateral", "bilaterally", "both-sided"):
            side = "bilateral"
        elif n == "both":
            k = i + 1 + (doc.norm(i + 1) in ("of", "my", "your", "his", "her", "the"))
            k += doc.norm(k) in ("my", "your", "his", "her", "the")
            if k < len(toks) and parts.at(toks, k):
                side = "bilateral"
        elif n.split("-")[0] in ("left", "right") and ("-" in n or n in ("left", "right")):
            side = _side_word(doc, i, parts)
        if side:
            doc.add("laterality", i, i + 1, side, subject=_part_after(doc, i, parts))


def _part_after(doc: _Doc, i: int, parts: _Index) -> str:
    """The body part a side word names ("right knee" → knee, "left-sided chest pain" → chest), or ''."""
    for k in range(i + 1, min(i + 4, len(doc.toks))):
        if _stop(doc, i, k):
            break
        hit = parts.at(doc.toks, k)
        if hit is not None:
            part = " ".join(_singular(t.norm) for t in doc.toks[k : k + hit[0]])
            if part not in _VAGUE_PARTS:
                return part
    return ""


def _side_word(doc: _Doc, i: int, parts: _Index) -> str | None:
    """'left' or 'right' at token i when it names a side ("right knee", "on the left"), else None."""
    n = doc.norm(i)
    word = n.split("-")[0]
    if "-" in n:
        return word if n.split("-", 1)[1] in ("sided", "hand", "handed", "side") else None
    verb = word == "left" and doc.norm(i - 1) in _SUBJECTS  # "I left work"
    idiom = doc.norm(i - 1) == "all" or doc.norm(i + 1) in ("now", "away", "after", "before", "there", "here")
    if verb or idiom:
        return None
    toks = doc.toks
    body = any(parts.at(toks, k) for k in range(i + 1, min(i + 4, len(toks))) if not _stop(doc, i, k))
    placed = doc.norm(i - 1) in _SIDE_DETERMINERS and doc.norm(i - 2) in _SIDE_PREFIX  # "on the left"
    return word if body or placed else None


def _stop(doc: _Doc, i: int, k: int) -> bool:
    """Whether punctuation lies between tokens i and k."""
    return any(doc.toks[m].norm in _PUNCT for m in range(i + 1, k + 1))


@cache
def _negation_tables() -> tuple[_Index, frozenset[str], frozenset[tuple[str, ...]]]:
    """Cues (phrase → the polarity they give: absent, or asked for uncertainty), stop words, post-cues."""
    table: dict[tuple[str, ...], object] = {_key(w): ASKED for w in _lines("uncertainty_cues.txt")}
    table.update({_key(w): ABSENT for w in _lines("negation_cues.txt")})
    cues = _Index(table)
    post = frozenset(_key(w) for w in _lines("negation_post.txt"))
    stops = frozenset(w.lower() for w in _lines("negation_stops.txt"))
    return cues, stops, post


_PSEUDO_NEGATIONS = {
    ("not", "sure"), ("not", "certain"), ("no", "doubt"), ("not", "only"), ("not", "just"), ("no", "problem"),
    ("no", "worries"), ("not", "bad"), ("not", "too"), ("no", "change"), ("not", "necessarily"), ("no", "idea"),
    ("not", "much"), ("no", "matter"), ("not", "quite"), ("not", "that"), ("no", "longer"),
}  # fmt: skip
_NEG_WINDOW = 6  # words from the cue to the first negated term
_NOT_COUNTED = frozenset({",", "(", ")", "uh", "um", "er", "erm", "-"})
_LIST_GAP = 4  # tokens between terms of a negated list ("no fever, cough or chills")


def _negation_spans(doc: _Doc, terms: list[tuple[int, int, str, str]]) -> dict[int, tuple[int, str]]:
    """term index → (token index of the cue that negates it or makes it uncertain, polarity)."""
    cues, stops, post = _negation_tables()
    toks = doc.toks
    negated: dict[int, tuple[int, str]] = {}
    starts = {t[0]: n for n, t in enumerate(terms)}
    i = 0
    while i < len(toks):
        hit = cues.at(toks, i)
        if hit is None or (toks[i].norm, doc.norm(i + hit[0])) in _PSEUDO_NEGATIONS:
            i += 1
            continue
        n, polarity = hit
        # "No, I have had chest pain": a bare "no" answers; it does not negate what follows.
        if toks[i].norm in ("no", "none", "nope") and doc.norm(i + 1) in (",", ".", "!", "?", ";", ""):
            i += 1
            continue
        k, budget, gap = i + n, _NEG_WINDOW, 0
        while k < len(toks) and gap <= budget:
            norm = toks[k].norm
            if norm in _SENTENCE_END or norm in stops or norm == ":":
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
                if key in (("no",), ("none",)) and doc.norm(k + 1) not in (*_SENTENCE_END, ""):
                    continue
                negated[n_term] = (k, ABSENT)
    return negated


def _is_question(doc: _Doc, i: int) -> bool:
    """Whether token i is in a sentence that asks ("Any chest pain?", "Do you get headaches?")."""
    words = doc.sentences[doc.toks[i].sentence]
    if words and words[-1].norm == "?":
        return True
    first = next((t.norm for t in words if t.norm not in ("and", "so", "okay", "ok", "um", "uh", ",")), "")
    return first in ("any", "anything") and words[-1].norm not in (".", "!")  # "Any chest pain" said as a question


_CONDITIONS = frozenset({"if", "unless", "should", "whether", "case"})
_CONDITION_REACH = 20  # tokens back from a term to the "if" that makes it hypothetical


def _is_conditional(doc: _Doc, i: int) -> bool:
    """Whether token i is in an 'if' clause ("if you develop weakness", "come back if the pain gets worse")."""
    toks = doc.toks
    for k in range(i - 1, max(-1, i - _CONDITION_REACH), -1):
        if toks[k].sentence != toks[i].sentence or toks[k].norm in (";", ":"):
            return False
        if toks[k].norm in _CONDITIONS:
            return True
    return False


_ALLERGY_TRIGGERS = {
    ("allergic", "to"), ("allergy", "to"), ("allergies", "to"), ("reaction", "to"), ("reactions", "to"),
    ("intolerant", "to"), ("intolerance", "to"), ("allergic", "reaction", "to"),
}  # fmt: skip
_ALLERGY_FIRSTS = frozenset(k[0] for k in _ALLERGY_TRIGGERS)
_ALLERGY_WORDS = {"allergy", "allergies", "allergic", "nkda", "nka", "nkfa", "nkma"}
_ANY_SUBSTANCE = {"anything", "any", "something", "nothing", "medication", "medications", "medicine", "medicines"}
_ANY_SUBSTANCE |= {"drug", "drugs", "food", "foods", "things"}
_SUBSTANCE_KINDS = ("medication", "allergen", "class")


def _allergy_facts(doc: _Doc, terms: list[tuple[int, int, str, str]]) -> set[int]:
    """Allergy facts ("allergic to penicillin", "nut allergy", "no known allergies").

    Returns the indexes of the terms that are allergy substances, which are not medicines taken.
    """
    toks = doc.toks
    consumed: set[int] = set()
    by_start = {t[0]: n for n, t in enumerate(terms)}
    by_end = {t[1]: n for n, t in enumerate(terms)}
    i = 0
    while i < len(toks):
        trigger = toks[i].norm in _ALLERGY_FIRSTS and max(
            (len(k) for k in _ALLERGY_TRIGGERS if tuple(x.norm for x in toks[i : i + len(k)]) == k), default=0
        )
        if trigger:
            j = i + trigger
            j += doc.norm(j) in ("the", "any", "a", "an", "some")
            term = by_start.get(j)
            if term is not None and terms[term][2] in _SUBSTANCE_KINDS:
                consumed.add(term)
                doc.facts.append(Fact("allergy", *doc.span(i, terms[term][1]), value=terms[term][3]))
                i = terms[term][1]
                continue
            word = doc.norm(j)
            if word and word not in _PUNCT and word not in _ANY_SUBSTANCE and word not in stopwords():
                doc.facts.append(Fact("allergy", *doc.span(i, j + 1), value=word))
            else:
                doc.facts.append(Fact("allergy", *doc.span(i, i + trigger), value=NO_ALLERGIES))
            i = j + 1
            continue
        if toks[i].norm in _ALLERGY_WORDS and not doc.used[i]:
            term = by_end.get(i)
            if term is not None and terms[term][2] in _SUBSTANCE_KINDS:
                consumed.add(term)
                doc.facts.append(Fact("allergy", *doc.span(terms[term][0], i + 1), value=terms[term][3]))
            else:
                polarity = ABSENT if toks[i].norm.startswith("nk") else PRESENT
                doc.facts.append(Fact("allergy", *doc.span(i, i + 1), value=NO_ALLERGIES, polarity=polarity))
        i += 1
    return consumed


@cache
def _safety_index() -> _Index:
    index: dict[tuple[str, ...], object] = {}
    for words, value in _pairs("safety_netting.txt"):
        index.setdefault(_key(words), (value, words.isupper() and len(words) > 1))
    return _Index(index)


_SN_CONDITIONS = {"if", "should", "unless", "any", "anything", "whenever", "worse", "worsen", "worsens", "worsening"}
_SN_CONDITIONS |= {"persist", "persists", "persistent", "improve", "improving", "better", "develop", "case"}
_SN_URGENT = {"call 111", "call 999", "go to a&e"}
_SN_URGE = {"go", "call", "ring", "phone", "dial", "attend", "head", "straight", "immediately", "urgently"}


def _safety_netting_facts(doc: _Doc) -> None:
    """Advice on what to do if things change: 'if it gets worse, call 111', 'go to A&E if...'."""
    index = _safety_index()
    toks = doc.toks
    seen: set[tuple[int, str]] = set()
    for i, t in enumerate(toks):
        hit = index.at(toks, i)
        if hit is None:
            continue
        n, (value, caps) = hit  # type: ignore[misc]
        words = toks[i : i + n]
        if caps and not all(x.raw.isupper() for x in words):
            continue
        sentence = doc.sentences[t.sentence]
        near = toks[max(0, i - _CONDITION_REACH) : i + n + _CONDITION_REACH]
        conditional = any(x.norm in _SN_CONDITIONS and x.sentence == t.sentence for x in near)
        bare = n == 1 and words[0].norm in ("emergency", "er", "return")
        urged = any(x.norm in _SN_URGE for x in toks[max(0, i - 3) : i] if x.sentence == t.sentence)
        urgent = value in _SN_URGENT and not bare and (urged or words[0].norm.isdigit())
        if (urgent or conditional) and (t.sentence, value) not in seen:
            seen.add((t.sentence, value))
            body = [x for x in sentence if x.norm not in _SENTENCE_END]
            start, end = body[0].start, body[-1].end
            doc.facts.append(Fact("safety_netting", doc.text[start:end], start, end, value))


_KIND_OF = {"allergen": "allergy", "class": "medication", "measurement": "finding"}


def extract_facts(text: str) -> list[Fact]:
    """The checkable facts in one text (a transcript segment or a note), in text order.

    Polarity comes from negation cues within a few words ("no", "denies", "hasn't had", "nil")
    and, for a sentence that is a question, is ``asked`` (see :func:`segment_facts` for answers).
    A negated term also yields a ``negation`` fact spanning the cue and the term.
    """
    doc = _Doc(text)
    terms = _match_terms(doc)
    _numeric_facts(doc)
    _date_facts(doc)
    _laterality_facts(doc)
    allergy_terms = _allergy_facts(doc, terms)
    negated = _negation_spans(doc, terms)
    for n, (i, j, kind, value) in enumerate(terms):
        if n in allergy_terms or kind == "allergen":
            continue
        polarity = PRESENT
        if kind == "measurement":
            pass  # "not measured his blood pressure" does not deny a blood pressure
        elif _is_conditional(doc, i):
            polarity = ASKED  # "if you develop chest pain": hypothetical, present or not
        elif n in negated and negated[n][1] == ABSENT:
            polarity = ABSENT
            cue = negated[n][0]
            start_tok, end_tok = min(cue, i), max(j, cue + 1)
            doc.add("negation", start_tok, end_tok, value, polarity=ABSENT)
        elif n in negated or _is_question(doc, i):
            polarity = ASKED
        doc.add(_KIND_OF.get(kind, kind), i, j, value, polarity=polarity)
    _negate_allergies(doc)
    _safety_netting_facts(doc)
    _bind_subjects(doc)
    return sorted(doc.facts, key=lambda f: (f.start, f.end))


def _negate_allergies(doc: _Doc) -> None:
    """Allergy facts take polarity from a cue before them ("no known allergies", "not allergic to")."""
    cues, stops, _ = _negation_tables()
    toks = doc.toks
    for n, fact in enumerate(doc.facts):
        if fact.kind != "allergy" or fact.polarity != PRESENT:
            continue
        first = next(k for k, t in enumerate(toks) if t.start >= fact.start)
        for k in range(max(0, first - _NEG_WINDOW), first):
            if toks[k].sentence != toks[first].sentence:
                continue
            hit = cues.at(toks, k)
            blocked = any(toks[m].norm in stops for m in range(k, first))
            negates = hit is not None and hit[1] == ABSENT and not blocked
            pseudo = hit is not None and (toks[k].norm, doc.norm(k + hit[0])) in _PSEUDO_NEGATIONS
            answer = toks[k].norm == "no" and doc.norm(k + 1) in (",", ".")  # "No, I'm allergic to..."
            if negates and not pseudo and not answer:
                doc.facts[n] = replace(fact, polarity=ABSENT)
                break
        else:
            if _is_question(doc, first):
                doc.facts[n] = replace(fact, polarity=ASKED)


def _bind_subjects(doc: _Doc) -> None:
    """Give each dose and frequency the medicine it belongs to: the nearest one before it in the
    sentence, else the nearest one just after it ("5 mg of amlodipine")."""
    meds = [f for f in doc.facts if f.kind == "medication"]
    if not meds:
        return
    sentence_of = {t.start: t.sentence for t in doc.toks}
    for n, fact in enumerate(doc.facts):
        if fact.kind not in ("dose", "frequency"):
            continue
        here = sentence_of.get(fact.start)
        before = [m for m in meds if m.end <= fact.start and sentence_of.get(m.start) == here]
        after = [m for m in meds if m.start >= fact.end and m.start - fact.end <= 12]
        subject = before[-1] if before else (after[0] if after else None)
        if subject is not None:
            doc.facts[n] = replace(fact, subject=subject.value)


# --- Transcripts --------------------------------------------------------------------------------

_NO_ANSWERS = (
    ("no",), ("nope",), ("nah",), ("not", "really"), ("not", "at", "all"), ("none",), ("never",), ("nothing",),
    ("i", "don't"), ("i", "haven't"), ("i", "didn't"), ("i'm", "not"), ("not", "that"), ("negative",),
    ("neither",), ("i", "do", "not"), ("i", "have", "not"), ("not", "recently"), ("not", "lately"), ("not", "yet"),
    ("not", "so", "far"), ("no", "i"), ("i", "wouldn't"), ("i", "can't", "say"),
)  # fmt: skip
_YES_ANSWERS = (
    ("yes",), ("yeah",), ("yep",), ("yup",), ("ya",), ("uh-huh",), ("mm-hmm",), ("mhm",), ("i", "do"),
    ("i", "have"), ("i", "did"), ("i've", "had"), ("a", "little"), ("a", "bit"), ("sometimes",),
    ("occasionally",), ("definitely",), ("correct",), ("sort", "of"), ("kind", "of"), ("quite",), ("some",),
    ("a", "lot"), ("i", "get"), ("i", "am"), ("it", "does"), ("it", "is"), ("they", "are"),
)  # fmt: skip
_FILLERS = {"uh", "um", "er", "erm", "well", "so", "oh", "hmm", "mm", "ah", ",", "actually", "okay", "ok", "."}


def answer_polarity(text: str) -> str:
    """How a reply answers a yes/no question: absent ("No, never"), present ("Yes, a bit") or asked (unclear)."""
    words = [t.norm for t in tokenize(text)]
    k = 0
    while k < len(words) and words[k] in _FILLERS:
        k += 1
    head = tuple(words[k : k + 4])
    for answers, polarity in ((_NO_ANSWERS, ABSENT), (_YES_ANSWERS, PRESENT)):
        if any(head[: len(a)] == a for a in answers):
            return polarity
    return ASKED


def segment_facts(segments: Sequence[Segment]) -> dict[int, list[Fact]]:
    """Facts per segment id, with questions settled by the reply in the next turn.

    A term asked about ("Any chest pain?") becomes absent when the other speaker answers no,
    present when they answer yes, and stays ``asked`` otherwise (or takes the polarity the reply
    gives the same term). A dose or frequency with no medicine in its own segment belongs to the
    medicine named in the previous two segments ("Which inhaler?" "Ventolin." "Two puffs.").
    """
    key = tuple((s.id, SpeakerRole(s.speaker).value, s.text) for s in segments)
    return {sid: list(facts) for sid, facts in _segment_facts(key).items()}


@lru_cache(maxsize=8)
def _segment_facts(key: tuple[tuple[int, str, str], ...]) -> dict[int, tuple[Fact, ...]]:
    ordered = [Segment(id=i, start=0, end=0, speaker=SpeakerRole(speaker), text=text) for i, speaker, text in key]
    facts = {s.id: extract_facts(s.text) for s in ordered}
    for n, seg in enumerate(ordered):
        if not any(f.polarity == ASKED for f in facts[seg.id]):
            continue
        reply = _reply(ordered, n)
        if reply is None:
            continue
        if any(f.kind == "allergy" and f.value == NO_ALLERGIES and f.polarity == ASKED for f in facts[seg.id]):
            facts[reply.id] = _allergy_answer(reply.text, facts[reply.id])
        said = {f.value: f.polarity for f in facts[reply.id] if f.kind in POLAR_KINDS and f.polarity != ASKED}
        general = answer_polarity(reply.text)
        facts[seg.id] = [
            replace(f, polarity=said.get(f.value, general)) if f.polarity == ASKED else f for f in facts[seg.id]
        ]
    for n, seg in enumerate(ordered):
        recent = [f.value for s in ordered[max(0, n - 2) : n] for f in facts[s.id] if f.kind == "medication"]
        if recent and not any(f.kind == "medication" for f in facts[seg.id]):
            facts[seg.id] = [
                replace(f, subject=recent[-1]) if f.kind in ("dose", "frequency") and not f.subject else f
                for f in facts[seg.id]
            ]
    return {sid: tuple(found) for sid, found in facts.items()}


def _allergy_answer(text: str, facts: list[Fact]) -> list[Fact]:
    """The reply to "Any allergies?": substances it names are allergies, not medicines taken."""
    doc = _Doc(text)
    substances = [
        Fact("allergy", *doc.span(i, j), value=value)
        for i, j, kind, value in _match_terms(doc)
        if kind in _SUBSTANCE_KINDS and not any(f.kind == "allergy" and f.value == value for f in facts)
    ]
    if not substances:
        return facts
    named = {f.value for f in substances}
    kept = [f for f in facts if not (f.kind == "medication" and f.value in named and f.polarity == PRESENT)]
    return sorted(kept + substances, key=lambda f: (f.start, f.end))


def word_polarities(text: str, words: Iterable[str]) -> list[str]:
    """The polarity of each place ``text`` uses one of ``words`` (or a form sharing its first five
    letters): absent after a negation cue ("no blood"), asked in a question, else present."""
    wanted = [w.lower() for w in words]
    doc = _Doc(text)
    spots = [
        (i, i + 1, "word", t.norm)
        for i, t in enumerate(doc.toks)
        if any(t.norm == w or (len(w) >= 5 and t.norm[:5] == w[:5]) for w in wanted)
    ]
    negated = _negation_spans(doc, spots)
    out = []
    for n, (i, *_rest) in enumerate(spots):
        if n in negated:
            out.append(negated[n][1])
        else:
            out.append(ASKED if _is_question(doc, i) else PRESENT)
    return out


def _reply(segments: Sequence[Segment], n: int) -> Segment | None:
    """The next turn by another speaker (or simply the next segment when speakers are unknown)."""
    speaker = segments[n].speaker
    for seg in segments[n + 1 : n + 3]:
        if speaker == SpeakerRole.UNKNOWN or seg.speaker != speaker or seg.speaker == SpeakerRole.UNKNOWN:
            return seg
    return None


def values(facts: Iterable[Fact], *kinds: str) -> set[str]:
    """The values of the facts of the given kinds."""
    return {f.value for f in facts if f.kind in kinds}
