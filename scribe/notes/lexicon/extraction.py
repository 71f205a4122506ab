"""``extract_facts``: every checkable fact in one text, each extractor run in turn and polarity settled."""

from __future__ import annotations

from dataclasses import replace

from scribe.notes.lexicon.allergies import allergy_facts, negate_allergies
from scribe.notes.lexicon.dates import date_facts
from scribe.notes.lexicon.facts import ABSENT, ASKED, PRESENT, Doc, Fact
from scribe.notes.lexicon.laterality import laterality_facts
from scribe.notes.lexicon.negation import is_conditional, is_question, negation_spans
from scribe.notes.lexicon.phrases import match_terms
from scribe.notes.lexicon.quantities import numeric_facts
from scribe.notes.lexicon.safety_netting import safety_netting_facts

_KIND_OF = {"allergen": "allergy", "class": "medication", "measurement": "finding"}


def extract_facts(text: str) -> list[Fact]:
    """The checkable facts in one text (a transcript segment or a note), in text order.

    Polarity comes from negation cues within a few words ("no", "denies", "hasn't had", "nil")
    and, for a sentence that is a question, is ``asked`` (see :func:`segment_facts` for answers).
    A negated term also yields a ``negation`` fact spanning the cue and the term.
    """
    doc = Doc(text)
    terms = match_terms(doc)
    numeric_facts(doc)
    date_facts(doc)
    laterality_facts(doc)
    allergy_terms = allergy_facts(doc, terms)
    negated = negation_spans(doc, terms)
    for n, (i, j, kind, value) in enumerate(terms):
        if n in allergy_terms or kind == "allergen":
            continue
        polarity = PRESENT
        if kind == "measurement":
            pass  # "not measured his blood pressure" does not deny a blood pressure
        elif is_conditional(doc, i):
            polarity = ASKED  # "if you develop chest pain": hypothetical, present or not
        elif n in negated and negated[n][1] == ABSENT:
            polarity = ABSENT
            cue = negated[n][0]
            start_tok, end_tok = min(cue, i), max(j, cue + 1)
            doc.add("negation", start_tok, end_tok, value, polarity=ABSENT)
        elif n in negated or is_question(doc, i):
            polarity = ASKED
        doc.add(_KIND_OF.get(kind, kind), i, j, value, polarity=polarity)
    negate_allergies(doc)
    safety_netting_facts(doc)
    _bind_subjects(doc)
    return sorted(doc.facts, key=lambda f: (f.start, f.end))


def _bind_subjects(doc: Doc) -> None:
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
