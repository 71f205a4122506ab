"""Allergy facts ("allergic to penicillin", "nut allergy", "no known allergies") and their polarity."""

from __future__ import annotations

from dataclasses import replace

from scribe.notes.lexicon.facts import ABSENT, ASKED, NO_ALLERGIES, PRESENT, Doc, Fact
from scribe.notes.lexicon.negation import NEG_WINDOW, PSEUDO_NEGATIONS, is_question, negation_tables
from scribe.notes.lexicon.tokens import PUNCT
from scribe.notes.lexicon.wordlists import stopwords

_ALLERGY_TRIGGERS = {
    ("allergic", "to"), ("allergy", "to"), ("allergies", "to"), ("reaction", "to"), ("reactions", "to"),
    ("intolerant", "to"), ("intolerance", "to"), ("allergic", "reaction", "to"),
}  # fmt: skip
_ALLERGY_FIRSTS = frozenset(k[0] for k in _ALLERGY_TRIGGERS)
_ALLERGY_WORDS = {"allergy", "allergies", "allergic", "nkda", "nka", "nkfa", "nkma"}
_ANY_SUBSTANCE = {"anything", "any", "something", "nothing", "medication", "medications", "medicine", "medicines"}
_ANY_SUBSTANCE |= {"drug", "drugs", "food", "foods", "things"}
SUBSTANCE_KINDS = ("medication", "allergen", "class")


def allergy_facts(doc: Doc, terms: list[tuple[int, int, str, str]]) -> set[int]:
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
            if term is not None and terms[term][2] in SUBSTANCE_KINDS:
                consumed.add(term)
                doc.facts.append(Fact("allergy", *doc.span(i, terms[term][1]), value=terms[term][3]))
                i = terms[term][1]
                continue
            word = doc.norm(j)
            if word and word not in PUNCT and word not in _ANY_SUBSTANCE and word not in stopwords():
                doc.facts.append(Fact("allergy", *doc.span(i, j + 1), value=word))
            else:
                doc.facts.append(Fact("allergy", *doc.span(i, i + trigger), value=NO_ALLERGIES))
            i = j + 1
            continue
        if toks[i].norm in _ALLERGY_WORDS and not doc.used[i]:
            term = by_end.get(i)
            if term is not None and terms[term][2] in SUBSTANCE_KINDS:
                consumed.add(term)
                doc.facts.append(Fact("allergy", *doc.span(terms[term][0], i + 1), value=terms[term][3]))
            else:
                polarity = ABSENT if toks[i].norm.startswith("nk") else PRESENT
                doc.facts.append(Fact("allergy", *doc.span(i, i + 1), value=NO_ALLERGIES, polarity=polarity))
        i += 1
    return consumed


def negate_allergies(doc: Doc) -> None:
    """Allergy facts take polarity from a cue before them ("no known allergies", "not allergic to")."""
    cues, stops, _ = negation_tables()
    toks = doc.toks
    for n, fact in enumerate(doc.facts):
        if fact.kind != "allergy" or fact.polarity != PRESENT:
            continue
        first = next(k for k, t in enumerate(toks) if t.start >= fact.start)
        for k in range(max(0, first - NEG_WINDOW), first):
            if toks[k].sentence != toks[first].sentence:
                continue
            hit = cues.at(toks, k)
            blocked = any(toks[m].norm in stops for m in range(k, first))
            negates = hit is not None and hit[1] == ABSENT and not blocked
            pseudo = hit is not None and (toks[k].norm, doc.norm(k + hit[0])) in PSEUDO_NEGATIONS
            answer = toks[k].norm == "no" and doc.norm(k + 1) in (",", ".")  # "No, I'm allergic to..."
            if negates and not pseudo and not answer:
                doc.facts[n] = replace(fact, polarity=ABSENT)
                break
        else:
            if is_question(doc, first):
                doc.facts[n] = replace(fact, polarity=ASKED)
