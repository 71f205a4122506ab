"""The grounding check: does the transcript support what a note or letter says?

Every statement and structured item of a draft cites transcript segments. The check compares
the facts of the claim (found by :mod:`scribe.notes.lexicon`) with the facts of the segments it
cites, and marks it supported or unsupported with the reason in plain words. Unsupported items
stay in the draft, flagged for the clinician; nothing is dropped.

Rules, in order:

1. "Not discussed." (and "None discussed", "Not mentioned", ...) is supported with reason "not
   discussed" and needs no evidence. An empty statement is unsupported.
2. Cited ids that are not in the transcript are removed from the evidence and named in the
   reason ("cited segment 99 does not exist").
3. A cited segment that reads as an instruction to the software (:mod:`scribe.notes.injection`)
   supports nothing: "evidence is an instruction to the software, not clinical content".
4. The claim's facts are checked against the cited segments, read with their questions settled
   by the answers ("Any chest pain?" "No." says no chest pain):

   - medicine: the same generic name (brands, US names and ASR misspellings normalised); a class
     ("antibiotics") is supported by any medicine of that class, a named medicine only by itself;
   - dose and frequency: the same amount for the same medicine (0.5 g = 500 mg, "bd" = "twice a
     day"); evidence giving that medicine another amount is a contradiction;
   - number: said in the evidence, in digits or words ("five" = 5); another number for the same
     thing ("two occasions" against "1 occasion") is a contradiction;
   - laterality: the same side of the same body part ("left arm" is not supported by "left
     hand"); the other side is a contradiction;
   - date: durations compared in days ("a fortnight" = "2 weeks"), weekdays, calendar dates;
     relative and vague times ("yesterday", "a few days") are not checked;
   - negation: a symptom, finding, problem, medicine or allergy present in the claim and absent
     in the evidence, or the reverse, is a contradiction ("negation flipped"). Absence must be
     said ("no", "denies", a "no" answer): a question left unanswered does not show it. Terms
     that are uncertain ("possible UTI", "rule out pneumonia") or hypothetical ("come back if you
     develop a fever") are neither present nor absent, and measurements ("has not measured his
     blood pressure") are never negated;
   - symptoms, red flags, medicines and allergies must appear in the evidence, by name or word by
     word ("pain in my lower abdomen" for "lower abdominal pain", negation read there too), but
     not in words the lexicon reads there as another symptom ("I feel like I need to vomit" is
     nausea, and supports no "vomiting");
     a problem (diagnosis) named in the claim must appear too (small models invent diagnoses);
     safety-netting advice needs advice of that kind in the evidence; findings need not appear
     when the claim's other facts check out, and a claim
     with no checkable fact needs 30% of its content words in the evidence (rapidfuzz, so
     "lethargic" meets "lethargy").

5. When the claim cites nothing, or its evidence lacks a fact (but contradicts none), the
   transcript is searched: first the cited segments with their neighbours, then a few
   consecutive segments around each segment that shares a fact with the claim. Facts are found
   together, never gathered from far-apart segments. If found, the evidence is set to those
   segments and the claim is supported with reason "evidence located by the grounding check"
   (small models cite badly). A contradiction is never settled by searching elsewhere.
6. Otherwise the claim is unsupported and the reason names what failed (at most two reasons).

An Allergy item is read as "allergic to <substance> (<reaction>)". In letters, courtesy
sentences with no clinical fact ("Thank you for seeing...") need no evidence. Speakers are weighed
in two places only: a claim of advice, a prescription, a referral or a plan ("advised to", "will be
reviewed") needs, when the transcript's roles are known, a line of the clinician's in its evidence
that advises, prescribes, refers or plans ("you should", "come back if", "I'll refer"); otherwise
the clinician's and the patient's words count alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process

from scribe.notes.injection import instruction_like
from scribe.notes.lexicon.dates import RELATIVE_DATES
from scribe.notes.lexicon.dialogue import segment_facts
from scribe.notes.lexicon.extraction import extract_facts
from scribe.notes.lexicon.facts import ABSENT, ASKED, NO_ALLERGIES, POLAR_KINDS, PRESENT, Fact
from scribe.notes.lexicon.negation import word_polarities
from scribe.notes.lexicon.numbers import number_spans
from scribe.notes.lexicon.tokens import tokenize
from scribe.notes.lexicon.wordlists import classes_of, is_drug_class, stopwords
from scribe.records import Allergy, Grounded, Letter, NoteDraft, Segment, SpeakerRole, Transcript

NOT_DISCUSSED_REASON = "not discussed"
LOCATED_REASON = "evidence located by the grounding check"
INSTRUCTION_REASON = "evidence is an instruction to the software, not clinical content"
NOT_FOUND_REASON = "cites no evidence, and none was found in the transcript"
EMPTY_REASON = "the statement is empty"

_NOT_DISCUSSED_RE = re.compile(
    r"^\s*(?:not|none|nothing|nil)\s+(?:discussed|mentioned|documented|recorded|reported|covered|stated)\s*\.?\s*$",
    re.IGNORECASE,
)
_COURTESY_RE = re.compile(
    r"^\s*(?:dear\b|thank\s+you|many\s+thanks|thanks\s+for|kind\s+regards|best\s+wishes|yours\s+(?:sincerely|faithfully)"
    r"|with\s+best|please\s+(?:do\s+not|don't)\s+hesitate|please\s+(?:contact|get\s+in\s+touch|call)|i\s+would\s+be\s+"
    r"grateful|i\s+saw\s+(?:your\s+patient|this\s+patient|the\s+patient|[A-Z]\w*\s+)?(?:today|in\s+clinic)"
    r"|if\s+you\s+have\s+any\s+questions|i\s+hope\s+(?:this\s+letter|you\s+are)\b)",
    re.IGNORECASE,
)
_HARD_KINDS = frozenset({"medication", "dose", "frequency", "number", "laterality", "date", "allergy"})
_HARD_KINDS |= {"red_flag", "symptom"}
_SOFT_KINDS = frozenset({"problem", "finding", "safety_netting"})
_OPPOSITE_SIDE = {"left": "right", "right": "left"}
_MIN_OVERLAP = 0.3  # share of a claim's content words that must appear in its evidence, when overlap decides
_LOCATE_WINDOW = 2  # segments either side of a candidate when searching the transcript for support


def is_not_discussed(text: str) -> bool:
    """Whether a statement only says the topic was not discussed."""
    return bool(_NOT_DISCUSSED_RE.match(text))


# --- The transcript, read once --------------------------------------------------------------------


@dataclass(frozen=True)
class _Transcript:
    """A transcript's segments, facts, words and instruction-like segments, read once for many checks."""

    order: tuple[int, ...]
    texts: dict[int, str]
    facts: dict[int, list[Fact]]
    words: dict[int, frozenset[str]]
    numbers: dict[int, frozenset[float]]
    instructions: frozenset[int]
    clinician: frozenset[int]  # segments attributed to the clinician
    advising: frozenset[int]  # the clinician's segments that advise, prescribe, refer or plan


def _content_words(text: str) -> frozenset[str]:
    stop = stopwords()
    return frozenset(t.norm for t in tokenize(text) if t.norm[:1].isalpha() and len(t.norm) > 2 and t.norm not in stop)


def _numbers(text: str, facts: list[Fact]) -> frozenset[float]:
    """Every number said in a segment: digits, words, ordinals, and normalised doses."""
    found = {round(v, 6) for *_, v in number_spans(text)}
    found |= {round(x, 6) for f in facts if f.kind in ("dose", "number") for x in f.numbers}
    found |= {float(m) for m in re.findall(r"\b(\d{1,2})(?:st|nd|rd|th)\b", text)}
    return frozenset(found)


@lru_cache(maxsize=8)
def _read(key: tuple[tuple[int, str, str], ...]) -> _Transcript:
    segments = [Segment(id=i, start=0, end=0, speaker=SpeakerRole(speaker), text=text) for i, speaker, text in key]
    facts = segment_facts(segments)
    return _Transcript(
        order=tuple(s.id for s in segments),
        texts={s.id: s.text for s in segments},
        facts=facts,
        words={s.id: _content_words(s.text) for s in segments},
        numbers={s.id: _numbers(s.text, facts[s.id]) for s in segments},
        instructions=frozenset(s.id for s in segments if instruction_like(s.text)),
        clinician=frozenset(s.id for s in segments if s.speaker == SpeakerRole.CLINICIAN),
        advising=frozenset(
            s.id for s in segments if s.speaker == SpeakerRole.CLINICIAN and _ADVISING.search(s.text) is not None
        ),
    )


def _read_transcript(segments: Sequence[Segment]) -> _Transcript:
    """Read once and cached: ground_items is called section by section on the same transcript."""
    return _read(tuple((s.id, SpeakerRole(s.speaker).value, s.text) for s in segments))


# --- One claim against its evidence ---------------------------------------------------------------


@dataclass
class _Verdict:
    contradictions: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.contradictions and not self.missing

    def reason(self) -> str:
        return "; ".join((self.contradictions + self.missing)[:2])


@dataclass
class _Evidence:
    ids: list[int]
    facts: list[tuple[int, Fact]]
    words: frozenset[str]
    numbers: frozenset[float]
    texts: list[str]
    clinician_advises: bool | None = None  # a clinician's advising line among them (None: roles unknown)


def _evidence(t: _Transcript, ids: Iterable[int]) -> _Evidence:
    wanted = set(ids)
    ordered = [i for i in t.order if i in wanted]
    facts = [(i, f) for i in ordered for f in t.facts[i]]
    words = frozenset(w for i in ordered for w in t.words[i])
    numbers = frozenset(x for i in ordered for x in t.numbers[i])
    advises = any(i in t.advising for i in ordered) if t.clinician else None
    return _Evidence(ordered, facts, words, numbers, [t.texts[i] for i in ordered], advises)


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    return any(abs(x - y) <= 1e-6 * max(1.0, abs(x)) for x in a for y in b)


def _dose_unit(f: Fact) -> str:
    return f.value.rsplit(" ", 1)[-1]


def _subject_matches(claim_subject: str, evidence_subject: str) -> bool:
    if not claim_subject or not evidence_subject:
        return False
    if claim_subject == evidence_subject:
        return True
    return claim_subject in classes_of(evidence_subject) or evidence_subject in classes_of(claim_subject)


def _with_products(doses: list[tuple[int, Fact]]) -> list[tuple[int, Fact]]:
    """Add '2 x 500 mg' = 1000 mg where a count and a strength of one medicine share a segment."""
    out = list(doses)
    for sid, a in doses:
        for sid2, b in doses:
            count = _dose_unit(a) in ("tablet", "capsule") and a.numbers
            strength = _dose_unit(b) in ("mg", "ml") and b.numbers
            if sid == sid2 and a.subject == b.subject and count and strength:
                amount = round(a.numbers[0] * b.numbers[0], 6)
                value = f"{amount:g} {_dose_unit(b)}"
                out.append((sid, Fact("dose", b.text, b.start, b.end, value, numbers=(amount,), subject=b.subject)))
    return out


def _check_amounts(kind: str, claim: Fact, ev: _Evidence, verdict: _Verdict) -> None:
    """A dose or frequency: same amount, for the same medicine when the claim names one."""
    found = [(i, f) for i, f in ev.facts if f.kind == kind]
    if kind == "dose":
        found = _with_products(found)

    def same(f: Fact) -> bool:
        if kind == "dose":
            return _dose_unit(f) == _dose_unit(claim) and _same(f.numbers, claim.numbers)
        if not claim.numbers or not f.numbers:
            return f.value == claim.value
        return _same(f.numbers, claim.numbers)

    comparable = [(i, f) for i, f in found if kind != "dose" or _dose_unit(f) == _dose_unit(claim)]
    if claim.subject:
        bound = [(i, f) for i, f in comparable if _subject_matches(claim.subject, f.subject)]
        if bound and not any(same(f) for _, f in bound):
            said = ", ".join(sorted({f.text for _, f in bound}))
            verdict.contradictions.append(
                f"{kind} {claim.text} for {claim.subject} contradicts the evidence (it says {said}, "
                f"segment {bound[0][0]})"
            )
            return
        if bound:
            return
    if any(same(f) for _, f in found):
        return
    if kind == "frequency" and claim.numbers and all(_same((x,), ev.numbers) for x in claim.numbers):
        return
    said = ", ".join(sorted({f.text for _, f in comparable})[:3])
    verdict.missing.append(f"{kind} {claim.text} not in the cited evidence" + (f" (it says {said})" if said else ""))


def _polar_occurrences(ev: _Evidence, value: str) -> list[tuple[int, Fact]]:
    return [(i, f) for i, f in ev.facts if f.kind in POLAR_KINDS and f.value == value]


def _check_polarity(claim: Fact, found: list[tuple[int, Fact]], ev: _Evidence, verdict: _Verdict) -> None:
    """A claim present where all the evidence says absent, or the reverse, is a flipped negation."""
    said = [(i, f) for i, f in found if f.polarity != ASKED]
    if claim.polarity == ASKED:
        return
    want = ABSENT if claim.polarity == ABSENT else PRESENT
    if any(f.polarity == want for _, f in said):
        return
    if not said:
        if want == ABSENT:  # only asked about, never answered no: absence is not shown
            verdict.missing.append(f"the cited evidence does not say there is no {claim.text}")
        return
    i, f = said[0]
    if want == PRESENT:
        negation = next(
            (g.text for j, g in ev.facts if j == i and g.kind == "negation" and g.value == f.value),
            f"no {f.text}",
        )
        verdict.contradictions.append(f"negation flipped: evidence says '{_quote(negation)}' (segment {i})")
    else:
        verdict.contradictions.append(
            f"negation flipped: the statement says no {claim.text} but segment {i} says '{_quote(f.text)}'"
        )


def _check_word_polarity(claim: Fact, ev: _Evidence, verdict: _Verdict) -> None:
    """A term found in the evidence only word by word ("pain in my lower abdomen"): compare how it is said."""
    said = {
        word: [p for text in ev.texts for p in word_polarities(text, [word]) if p != ASKED]
        for word in _content_words(claim.text)
    }
    if claim.polarity == ABSENT and not any(ABSENT in found for found in said.values()):
        verdict.missing.append(f"the cited evidence does not say there is no {claim.text}")
    elif claim.polarity == PRESENT and any(found and PRESENT not in found for found in said.values()):
        verdict.contradictions.append(f"negation flipped: the evidence says there is no {claim.text}")


def _check_medication(claim: Fact, ev: _Evidence, verdict: _Verdict) -> None:
    value = claim.value
    mentions = [(i, f) for i, f in ev.facts if f.kind in ("medication", "allergy") and f.value == value]
    if not mentions and is_drug_class(value):
        mentions = [(i, f) for i, f in ev.facts if f.kind == "medication" and value in classes_of(f.value)]
    if not mentions:
        verdict.missing.append(f"medicine '{claim.text}' is not in the cited evidence")
        return
    _check_polarity(claim, [(i, f) for i, f in mentions if f.kind == "medication"], ev, verdict)


def _check_allergy(claim: Fact, ev: _Evidence, verdict: _Verdict) -> None:
    allergies = [(i, f) for i, f in ev.facts if f.kind == "allergy"]
    if claim.value == NO_ALLERGIES:
        if claim.polarity == ABSENT:
            positive = [(i, f) for i, f in allergies if f.value != NO_ALLERGIES and f.polarity == PRESENT]
            if any(f.polarity == ABSENT for _, f in allergies):
                return
            if positive:
                verdict.contradictions.append(
                    f"the statement says no allergies but segment {positive[0][0]} says '{_quote(positive[0][1].text)}'"
                )
                return
        elif allergies:
            return
        verdict.missing.append("allergy status is not in the cited evidence")
        return
    mentions = [(i, f) for i, f in ev.facts if f.value == claim.value]
    if not mentions:
        verdict.missing.append(f"allergy to {claim.value} is not in the cited evidence")
        return
    _check_polarity(claim, [(i, f) for i, f in mentions if f.kind == "allergy"], ev, verdict)


def _check_dates(claim: Fact, ev: _Evidence, verdict: _Verdict) -> None:
    if claim.value in RELATIVE_DATES or (not claim.numbers and " " in claim.value):
        return  # "yesterday", "a few days": too loose to check
    dates = [f for _, f in ev.facts if f.kind == "date"]
    if claim.numbers:
        if any(f.numbers and _same(f.numbers, claim.numbers) for f in dates):
            return
    elif any(f.value == claim.value for f in dates):
        return
    said = ", ".join(sorted({f.text for f in dates if f.value not in RELATIVE_DATES})[:3])
    verdict.missing.append(f"date '{claim.text}' not in the cited evidence" + (f" (it says {said})" if said else ""))


def _check_laterality(claim: Fact, ev: _Evidence, verdict: _Verdict) -> None:
    """The same side, of the same body part where both name one ("left arm" is not "left hand")."""
    sides = [(i, f) for i, f in ev.facts if f.kind == "laterality"]
    if claim.subject:
        sides = [(i, f) for i, f in sides if not f.subject or set(f.subject.split()) & set(claim.subject.split())]
    values = {f.value for _, f in sides}
    if claim.value in values or (claim.value == "bilateral" and {"left", "right"} <= values):
        return
    opposite = [(i, f) for i, f in sides if f.value == _OPPOSITE_SIDE.get(claim.value) or claim.value == "bilateral"]
    if opposite:
        i, f = opposite[0]
        verdict.contradictions.append(
            f"laterality '{claim.text.lower()}' contradicts '{f.text.lower()}' in segment {i}"
        )
    else:
        verdict.missing.append(f"laterality '{claim.text.lower()}' is not in the cited evidence")


def _overlap(claim_words: frozenset[str], evidence_words: frozenset[str]) -> float:
    """Share of the claim's content words found in the evidence (fuzzy, so word forms match)."""
    if not claim_words:
        return 1.0
    if not evidence_words:
        return 0.0
    choices = list(evidence_words)
    hits = 0
    for word in claim_words:
        stem = len(word) >= 5 and any(e[:5] == word[:5] for e in choices)
        if word in evidence_words or stem or process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=85):
            hits += 1
    return hits / len(claim_words)


def _counted_differently(claim_text: str, f: Fact, ev: _Evidence) -> tuple[int, str] | None:
    """Evidence that gives another number for the same thing ("two occasions" against "1 occasions")."""
    after = re.match(r"\s*([a-z]+)", claim_text[f.end :].lower())
    if after is None or after.group(1) in stopwords():
        return None
    noun = after.group(1).rstrip("s")
    for sid, text in zip(ev.ids, ev.texts, strict=True):
        for start, end, value in number_spans(text):
            said = re.match(r"\s*([a-z]+)", text[end:].lower())
            if said and said.group(1).rstrip("s") == noun and not _same((value,), f.numbers):
                return sid, text[start : end + len(said.group(0))].strip()
    return None


# What a clinician says when advising, prescribing, referring or planning (in their own words).
_ADVISING = re.compile(
    r"\b(?:should|must|need to|have to|try|take|use|keep|avoid|stop|start|come back|call|ring|contact|seek|"
    r"let (?:me|us) know|make sure|if (?:it|you|things|the|there)|recommend|advise|suggest|prescribe|refer|"
    r"book|arrange|send|order|check|review|follow[- ]up|see you|(?:we|i)(?:'ll| will| would like| want| am going| "
    r"are going|'m going|'d like))\b",
    re.IGNORECASE,
)
_ADVICE = re.compile(
    r"\b(?:advised|advises|advice|told to|instructed|recommended|recommends|counsell?ed|reassured|prescribed|"
    r"referred|will be (?:reviewed|seen|followed|started|given|sent)|"
    r"should (?:contact|return|seek|call|come|look out|watch|keep an eye|avoid|rest|take|try))\b",
    re.IGNORECASE,
)


def _read_otherwise(f: Fact, ev: _Evidence) -> Fact | None:
    """A fact of the evidence made of the claim's words but read as something else.

    "I feel like I need to vomit" is nausea, not vomiting: the word is there, the symptom is not.
    """
    words = _content_words(f.text)
    for _, g in ev.facts:
        if g.kind == f.kind and g.value != f.value and words and _overlap(words, _content_words(g.text)) >= 1.0:
            return g
    return None


def _judge(claim_text: str, claim_facts: list[Fact], ev: _Evidence) -> _Verdict:
    """Every check of one claim against one body of evidence."""
    verdict = _Verdict()
    dated = [(f.start, f.end) for f in claim_facts if f.kind == "date"]
    hard = any(f.kind in _HARD_KINDS for f in claim_facts)
    needs_overlap = not hard
    if any(f.kind in ("problem", "finding") and _polar_occurrences(ev, f.value) for f in claim_facts):
        needs_overlap = False  # a named problem or finding is in the evidence
    for f in claim_facts:
        if f.kind == "medication":
            _check_medication(f, ev, verdict)
        elif f.kind in ("dose", "frequency"):
            _check_amounts(f.kind, f, ev, verdict)
        elif f.kind == "number":
            if any(s <= f.start and f.end <= e for s, e in dated):
                continue
            missing = [x for x in f.numbers if not _same((x,), ev.numbers)]
            clash = _counted_differently(claim_text, f, ev) if missing else None
            if clash:
                verdict.contradictions.append(f"number {f.text} contradicts '{clash[1]}' in segment {clash[0]}")
            elif missing:
                said = ", ".join(sorted({g.text for _, g in ev.facts if g.kind == "number"})[:3])
                verdict.missing.append(
                    f"number {f.text} not in the cited evidence" + (f" (it says {said})" if said else "")
                )
        elif f.kind == "laterality":
            _check_laterality(f, ev, verdict)
        elif f.kind == "date":
            _check_dates(f, ev, verdict)
        elif f.kind == "allergy":
            _check_allergy(f, ev, verdict)
        elif f.kind in ("red_flag", "symptom", "problem"):  # an unnamed diagnosis: a small model's commonest invention
            found = _polar_occurrences(ev, f.value)
            other = None if found else _read_otherwise(f, ev)
            if found:
                _check_polarity(f, found, ev, verdict)
            elif other is not None:
                verdict.missing.append(f"'{f.text}' is not in the cited evidence (its words there say {other.value})")
            elif _overlap(_content_words(f.text), ev.words) < 1.0:
                verdict.missing.append(f"'{f.text}' is not in the cited evidence")
            else:
                _check_word_polarity(f, ev, verdict)
        elif f.kind == "finding":
            found = _polar_occurrences(ev, f.value)
            if found:
                _check_polarity(f, found, ev, verdict)
            elif _overlap(_content_words(f.text), ev.words) < 1.0:
                needs_overlap = needs_overlap or not hard  # verified hard facts carry the claim
            else:
                _check_word_polarity(f, ev, verdict)
        elif f.kind == "safety_netting" and not any(g.kind == "safety_netting" for _, g in ev.facts):
            verdict.missing.append("no advice of this kind was given in the cited evidence")
    if ev.clinician_advises is False and _ADVICE.search(claim_text):
        verdict.missing.append("advice or a plan the clinician did not give in the cited evidence")
    if needs_overlap and not verdict.contradictions:
        words = _content_words(claim_text)
        if _overlap(words, ev.words) < _MIN_OVERLAP or (words and not ev.words):
            verdict.missing.append("the cited evidence does not say this" if ev.ids else "cites no evidence")
    return verdict


# --- Searching the transcript ---------------------------------------------------------------------


def _candidates(t: _Transcript, claim_facts: list[Fact], claim_words: frozenset[str]) -> dict[int, float]:
    """Segments that share checkable facts (or, failing that, content words) with the claim, and how many."""
    usable = [i for i in t.order if i not in t.instructions]
    wanted = [f for f in claim_facts if f.kind in _HARD_KINDS | _SOFT_KINDS and f.kind != "date"]
    hits: dict[int, float] = {}
    for i in usable:
        for f in wanted:
            if f.kind in ("dose", "number", "frequency"):
                shared = _same(f.numbers, tuple(t.numbers[i])) or any(g.value == f.value for g in t.facts[i])
            else:
                shared = any(g.value == f.value for g in t.facts[i])
            if shared:
                hits[i] = hits.get(i, 0) + 1
    if not hits:
        scored = sorted(((_overlap(claim_words, t.words[i]), i) for i in usable), reverse=True)
        hits = {i: score for score, i in scored[:3] if score >= _MIN_OVERLAP}
    return hits


def _locate(t: _Transcript, claim_text: str, claim_facts: list[Fact], cited: list[int]) -> list[int] | None:
    """Segments of the transcript that support the claim; None if none do.

    First the cited segments with their neighbours, widening step by step; then a few consecutive
    segments around each segment that shares facts with the claim (most shared, then nearest the
    cited ones, first). Facts are looked for together, never gathered from far-apart segments.
    """
    usable = [i for i in t.order if i not in t.instructions]
    position = {sid: n for n, sid in enumerate(usable)}
    tried: set[tuple[int, ...]] = set()

    def attempt(ids: Iterable[int]) -> list[int] | None:
        key = tuple(sorted(set(ids)))
        if not key or key in tried:
            return None
        tried.add(key)
        if _judge(claim_text, claim_facts, _evidence(t, key)).ok:
            return _trim(t, claim_text, claim_facts, list(key))
        return None

    anchors = [position[i] for i in cited if i in position]
    for width in range(1, _LOCATE_WINDOW + 2):
        if anchors:
            around = {usable[n] for a in anchors for n in range(max(0, a - width), min(len(usable), a + width + 1))}
            if (found := attempt(around)) is not None:
                return found
    shared = _candidates(t, claim_facts, _content_words(claim_text))
    centre = sum(anchors) / len(anchors) if anchors else 0.0
    ranked = sorted(shared, key=lambda i: (-shared[i], abs(position[i] - centre) if anchors else position[i]))
    for c in ranked[:20]:
        n = position[c]
        for ids in ([c, *usable[n + 1 : n + 2]], usable[max(0, n - _LOCATE_WINDOW) : n + _LOCATE_WINDOW + 1]):
            if (found := attempt(ids)) is not None:
                return found
    return None


def _trim(t: _Transcript, claim_text: str, claim_facts: list[Fact], ids: list[int]) -> list[int]:
    """Drop segments the support does not need, so the located evidence is short."""
    for i in list(ids):
        if len(ids) > 1:
            rest = [j for j in ids if j != i]
            if _judge(claim_text, claim_facts, _evidence(t, rest)).ok:
                ids = rest
    return ids


# --- Public API -----------------------------------------------------------------------------------


def check(claim: str, evidence: Sequence[Segment]) -> tuple[bool, str]:
    """Whether ``evidence`` supports ``claim``, and why, by the rules in this module's docstring.

    Only the given segments are read (no search elsewhere); questions among them are settled by
    the segment that follows.
    """
    if is_not_discussed(claim):
        return True, NOT_DISCUSSED_REASON
    if not claim.strip():
        return False, EMPTY_REASON
    if not evidence:
        return False, "cites no evidence"
    t = _read_transcript(evidence)
    usable = [i for i in t.order if i not in t.instructions]
    if not usable:
        return False, INSTRUCTION_REASON
    verdict = _judge(claim, extract_facts(claim), _evidence(t, usable))
    if verdict.ok:
        return True, _supported_reason(usable)
    return False, verdict.reason()


def _supported_reason(ids: Sequence[int]) -> str:
    return f"supported by segment{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}"


def _claim_text(item: Grounded) -> str:
    if isinstance(item, Allergy):
        return f"allergic to {item.substance}{f' ({item.reaction})' if item.reaction else ''}"
    return item.claim()


def _ground_one(item: Grounded, t: _Transcript, courtesy: bool) -> None:
    text = _claim_text(item)
    if is_not_discussed(text):
        item.supported, item.reason = True, NOT_DISCUSSED_REASON
        return
    if not text.strip():
        item.supported, item.reason = False, EMPTY_REASON
        return
    if courtesy and _COURTESY_RE.match(text) and not extract_facts(text):
        item.supported, item.reason = True, "courtesy text, nothing clinical to check"
        return
    notes = [f"cited segment {i} does not exist" for i in dict.fromkeys(item.evidence) if i not in t.texts]
    cited = [i for i in dict.fromkeys(item.evidence) if i in t.texts]
    if cited != item.evidence:
        item.evidence = cited
    usable = [i for i in cited if i not in t.instructions]
    ignored = [str(i) for i in cited if i in t.instructions]
    if usable and ignored:
        notes.append(f"segment {', '.join(ignored)} ignored: {INSTRUCTION_REASON}")
    facts = extract_facts(text)
    verdict = _judge(text, facts, _evidence(t, usable)) if usable else None
    if verdict is not None and verdict.ok:
        item.supported, item.reason = True, "; ".join([_supported_reason(usable), *notes])
        return
    if verdict is None or not verdict.contradictions:
        located = _locate(t, text, facts, usable)
        if located is not None:
            item.evidence = located
            item.supported, item.reason = True, "; ".join([LOCATED_REASON, *notes])
            return
    if verdict is not None:
        reason = verdict.reason()
    elif ignored:
        reason = INSTRUCTION_REASON
    elif notes:
        reason = notes.pop(0)
    else:
        reason = NOT_FOUND_REASON
    item.supported, item.reason = False, "; ".join([reason, *notes])


def ground_items(items: Sequence[Grounded], transcript: Transcript) -> None:
    """Set ``supported``, ``reason`` (and, where rules 2 and 5 say so, ``evidence``) on each item in place."""
    t = _read_transcript(transcript.segments)
    for item in items:
        _ground_one(item, t, courtesy=False)


def ground_note(draft: NoteDraft, transcript: Transcript) -> NoteDraft:
    """Ground every statement and structured item of ``draft`` and list its omissions; returns the same draft."""
    from scribe.notes.omissions import find_omissions

    ground_items(draft.grounded_items(), transcript)
    draft.omissions = find_omissions(draft, transcript)
    return draft


def ground_letter(letter: Letter, transcript: Transcript) -> Letter:
    """Ground every sentence of ``letter``; courtesy sentences ("Thank you for...") need no evidence."""
    t = _read_transcript(transcript.segments)
    for statement in letter.statements():
        _ground_one(statement, t, courtesy=True)
    return letter
