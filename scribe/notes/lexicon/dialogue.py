"""Facts in a transcript: questions settled by the other speaker's answer, doses given the medicine just named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from scribe.notes.lexicon.allergies import SUBSTANCE_KINDS
from scribe.notes.lexicon.extraction import extract_facts
from scribe.notes.lexicon.facts import ABSENT, ASKED, NO_ALLERGIES, POLAR_KINDS, PRESENT, Doc, Fact
from scribe.notes.lexicon.phrases import match_terms
from scribe.notes.lexicon.tokens import tokenize
from scribe.records import Segment, SpeakerRole

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
    doc = Doc(text)
    substances = [
        Fact("allergy", *doc.span(i, j), value=value)
        for i, j, kind, value in match_terms(doc)
        if kind in SUBSTANCE_KINDS and not any(f.kind == "allergy" and f.value == value for f in facts)
    ]
    if not substances:
        return facts
    named = {f.value for f in substances}
    kept = [f for f in facts if not (f.kind == "medication" and f.value in named and f.polarity == PRESENT)]
    return sorted(kept + substances, key=lambda f: (f.start, f.end))


def _reply(segments: Sequence[Segment], n: int) -> Segment | None:
    """The next turn by another speaker (or simply the next segment when speakers are unknown)."""
    speaker = segments[n].speaker
    for seg in segments[n + 1 : n + 3]:
        if speaker == SpeakerRole.UNKNOWN or seg.speaker != speaker or seg.speaker == SpeakerRole.UNKNOWN:
            return seg
    return None
