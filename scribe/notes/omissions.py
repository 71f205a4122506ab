"""The omission check: salient facts of the consultation that the draft leaves out.

Salient: medicines (taken, tried or prescribed; not ones the patient denies), allergies (named
substances, and "no known allergies"), red-flag symptoms present or absent ("no chest pain",
settled from question and answer), and safety-netting advice said by the clinician ("if it gets
worse, call 111"). A fact is covered when any statement or structured item of the draft mentions
it, whatever it says about it (a wrong polarity is the grounding check's business): the same
canonical term, a class naming the medicine ("antibiotics" covers amoxicillin), or for advice the
same action ("call 111", "go to A&E", "come back") or a note that safety-netting advice was given.
Segments that read as instructions to the software are not consultation content and are skipped.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from scribe.notes.injection import instruction_like
from scribe.notes.lexicon.dialogue import segment_facts
from scribe.notes.lexicon.extraction import extract_facts
from scribe.notes.lexicon.facts import ABSENT, ASKED, NO_ALLERGIES, PRESENT, Fact
from scribe.notes.lexicon.wordlists import classes_of, is_drug_class
from scribe.records import Allergy, NoteDraft, Omission, SpeakerRole, Transcript

_GENERIC_SAFETY_NET = re.compile(r"\bsafety[- ]?net", re.IGNORECASE)
_ALLERGY_WORDS = re.compile(r"\ballerg|\bnkda\b|\bnka\b", re.IGNORECASE)
_MAX_TEXT = 100
_FUZZY_COVER = 85  # rapidfuzz partial ratio at which the draft's wording counts as mentioning a fact


class _Mentions:
    """What a draft mentions, in the lexicon's terms."""

    def __init__(self, draft: NoteDraft) -> None:
        texts = [s.text for section in draft.sections for s in section.statements]
        texts += [f"allergic to {a.substance}" if isinstance(a, Allergy) else a.claim() for a in draft.allergies]
        texts += [item.claim() for item in (*draft.medications, *draft.problems, *draft.findings)]
        self.text = "\n".join(texts)
        self.lower = self.text.lower()
        facts = [f for text in texts for f in extract_facts(text)]
        self.values = {f.value for f in facts}
        self.classes = {c for f in facts if f.kind == "medication" for c in classes_of(f.value)}
        self.advice = {f.value for f in facts if f.kind == "safety_netting"}
        self.any_advice = bool(_GENERIC_SAFETY_NET.search(self.text))
        self.allergy_status = bool(draft.allergies) or bool(_ALLERGY_WORDS.search(self.text))

    def covers(self, fact: Fact) -> bool:
        if fact.kind == "safety_netting":
            return self.any_advice or fact.value in self.advice
        if fact.kind == "allergy" and fact.value == NO_ALLERGIES:
            return self.allergy_status
        if fact.value in self.values:
            return True
        if fact.kind == "medication":
            if is_drug_class(fact.value):
                return fact.value in self.classes
            return bool(classes_of(fact.value) & self.values)
        return fuzz.partial_ratio(fact.text.lower(), self.lower) >= _FUZZY_COVER


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _MAX_TEXT:
        return text
    return text[: _MAX_TEXT - 1].rsplit(" ", 1)[0] + "…"


def _salient(fact: Fact, speaker: SpeakerRole) -> tuple[str, str] | None:
    """(kind, text as said) when the fact is one a note should record, else None."""
    if fact.kind == "medication" and fact.polarity == PRESENT:
        said = fact.text.lower()
        return "medication", fact.text if said == fact.value or is_drug_class(
            fact.value
        ) else f"{fact.text} ({fact.value})"
    if fact.kind == "allergy" and fact.polarity != ASKED:
        if fact.value == NO_ALLERGIES:
            return ("allergy", "no known allergies") if fact.polarity == ABSENT else None
        return ("allergy", f"allergic to {fact.text.split(' to ')[-1]}") if fact.polarity == PRESENT else None
    if fact.kind == "red_flag" and fact.polarity in (PRESENT, ABSENT):
        return "red_flag", fact.text if fact.polarity == PRESENT else f"no {fact.text}"
    if fact.kind == "safety_netting" and speaker != SpeakerRole.PATIENT:
        return "safety_netting", _short(fact.text)
    return None


def find_omissions(draft: NoteDraft, transcript: Transcript) -> list[Omission]:
    """Salient transcript facts that no statement or structured item of ``draft`` mentions, in transcript order.

    One omission per fact (kind, term and polarity), citing every segment that says it.
    """
    mentions = _Mentions(draft)
    facts = segment_facts(transcript.segments)
    found: dict[tuple[str, str, str], Omission] = {}
    specific = {c for fs in facts.values() for f in fs if f.kind == "medication" for c in classes_of(f.value)}
    order = [s.id for s in transcript.segments]
    for n, segment in enumerate(transcript.segments):
        if instruction_like(segment.text):
            continue
        negations = {f.value: f.text for f in facts[segment.id] if f.kind == "negation"}
        for fact in facts[segment.id]:
            salient = _salient(fact, SpeakerRole(segment.speaker))
            if salient is None or mentions.covers(fact):
                continue
            if fact.kind == "medication" and is_drug_class(fact.value) and fact.value in specific:
                continue  # "your antibiotics" when the medicine itself is named elsewhere
            kind, text = salient
            ids = [segment.id]
            if fact.kind in ("red_flag", "allergy") and fact.value not in negations and "?" in segment.text:
                ids += order[n + 1 : n + 2]  # settled by the answer in the next turn
            elif fact.kind == "red_flag" and fact.polarity == ABSENT:
                text = negations[fact.value]
            # one sentence of advice is one omission, whatever number of actions it names
            key = (kind, text, "") if kind == "safety_netting" else (kind, fact.value, fact.polarity)
            if key in found:
                found[key].evidence.extend(i for i in ids if i not in found[key].evidence)
                continue
            found[key] = Omission(kind=kind, text=_short(text), evidence=ids)
    return list(found.values())
