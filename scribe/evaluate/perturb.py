"""Deliberate errors injected into a note draft, to measure what the grounding check catches.

:func:`perturb` makes one seeded, realistic error in a copy of a draft: a wrong dose or number, the
wrong side, a medicine the consultation never mentioned, or a flipped negation. The error goes
into one statement or structured item, which keeps its evidence, as a drafting model's error
would. :func:`injected_error_recall` injects errors into a set of drafts, runs the grounding
check on each perturbed copy and reports, per kind, how many injected errors it flagged, and how
many items of the unperturbed drafts it flagged (the false-positive rate).
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scribe.notes.grounding import ground_note, is_not_discussed
from scribe.notes.lexicon.dialogue import segment_facts
from scribe.notes.lexicon.extraction import extract_facts
from scribe.notes.lexicon.facts import PRESENT
from scribe.notes.lexicon.numbers import number_spans
from scribe.notes.lexicon.wordlists import classes_of
from scribe.records import Grounded, Medication, MedicationChange, NoteDraft, Statement, Transcript

KINDS = ("wrong_dose", "wrong_side", "added_drug", "negation_flipped")

# Common medicines with a usual adult dose and frequency, to add where the consultation had none.
_ADDABLE = (
    ("amlodipine", "5 mg", "once a day"),
    ("atorvastatin", "20 mg", "at night"),
    ("sertraline", "50 mg", "once a day"),
    ("omeprazole", "20 mg", "once a day"),
    ("metformin", "500 mg", "twice a day"),
    ("ramipril", "2.5 mg", "once a day"),
    ("amoxicillin", "500 mg", "three times a day"),
    ("prednisolone", "30 mg", "once a day"),
    ("naproxen", "500 mg", "twice a day"),
    ("citalopram", "20 mg", "once a day"),
    ("levothyroxine", "50 micrograms", "once a day"),
    ("bisoprolol", "2.5 mg", "once a day"),
    ("doxycycline", "100 mg", "once a day"),
    ("gabapentin", "300 mg", "three times a day"),
    ("warfarin", "3 mg", "once a day"),
    ("furosemide", "40 mg", "once a day"),
    ("codeine", "30 mg", "four times a day"),
    ("clarithromycin", "500 mg", "twice a day"),
    ("lansoprazole", "30 mg", "once a day"),
    ("mirtazapine", "15 mg", "at night"),
)
_FIELDS: dict[str, tuple[str, ...]] = {
    "Statement": ("text",),
    "Medication": ("name", "dose", "frequency"),
    "Problem": ("name",),
    "Finding": ("name", "value"),
    "Allergy": ("substance", "reaction"),
}
# Negation cues and what removing them leaves, longest first (case is restored on use).
_UNNEGATE = (
    ("no evidence of", "evidence of"),
    ("no signs of", "signs of"),
    ("no sign of", "signs of"),
    ("no history of", "a history of"),
    ("no known", "known"),
    ("negative for", "positive for"),
    ("hasn't had any", "has had"),
    ("hasn't had", "has had"),
    ("haven't had any", "have had"),
    ("haven't had", "have had"),
    ("has not had", "has had"),
    ("have not had", "have had"),
    ("did not have", "had"),
    ("didn't have", "had"),
    ("does not have", "has"),
    ("doesn't have", "has"),
    ("do not have", "have"),
    ("don't have", "have"),
    ("denies any", "reports"),
    ("denies", "reports"),
    ("denied", "reported"),
    ("denying", "reporting"),
    ("without", "with"),
    ("not", ""),
    ("nil", ""),
    ("never", ""),
    ("none", ""),
    ("no", ""),
)

_Site = tuple[Grounded, str, int, int]  # item, field, start, end of the span to change


def _fields(item: Grounded) -> tuple[str, ...]:
    return _FIELDS.get(type(item).__name__, ())


def _content_items(draft: NoteDraft) -> list[Grounded]:
    return [item for item in draft.grounded_items() if not is_not_discussed(item.claim())]


def _edit(item: Grounded, name: str, start: int, end: int, new: str) -> None:
    text = getattr(item, name)
    setattr(item, name, text[:start] + new + text[end:])


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _other_amount(value: float, rng: random.Random) -> float:
    """A plausible wrong amount: double, half, ten times, a tenth, one more or one less."""
    options = {value * 2, value / 2, value * 10, value / 10, value + 1, value - 1}
    options = {round(x, 3) for x in options if x > 0 and abs(x - value) > 1e-9 and (x >= 1 or value < 1)}
    return rng.choice(sorted(options))


def _wrong_dose(draft: NoteDraft, rng: random.Random, transcript: Transcript | None) -> Grounded | None:
    doses: list[_Site] = []
    others: list[_Site] = []
    for item in _content_items(draft):
        for name in _fields(item):
            text = getattr(item, name)
            spans = number_spans(text)
            for fact in extract_facts(text):
                if fact.kind not in ("dose", "number", "frequency") or not fact.numbers:
                    continue
                inside = [(s, e) for s, e, _ in spans if fact.start <= s and e <= fact.end]
                if inside:
                    target = doses if fact.kind == "dose" else others
                    target.append((item, name, *inside[0]))
    sites = doses or others
    if not sites:
        return None
    item, name, start, end = rng.choice(sites)
    value = next(v for s, e, v in number_spans(getattr(item, name)) if s == start and e == end)
    _edit(item, name, start, end, _fmt(_other_amount(value, rng)))
    return item


def _swap_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _wrong_side(draft: NoteDraft, rng: random.Random, transcript: Transcript | None) -> Grounded | None:
    sites: list[tuple[Grounded, str, int, int, str]] = []
    for item in _content_items(draft):
        for name in _fields(item):
            text = getattr(item, name)
            for fact in extract_facts(text):
                if fact.kind == "laterality" and fact.value in ("left", "right"):
                    sites.append((item, name, fact.start, fact.end, fact.value))
    if not sites:
        return None
    item, name, start, end, side = rng.choice(sites)
    text = getattr(item, name)[start:end]
    if len(text) == 3:  # LLQ → RLQ, RIF → LIF
        new = {"L": "R", "R": "L", "l": "r", "r": "l"}[text[0]] + text[1:]
    else:
        other = {"left": "right", "right": "left"}[side]
        new = re.sub(side, lambda m: _swap_case(other, m.group()), text, count=1, flags=re.IGNORECASE)
    _edit(item, name, start, end, new)
    return item


def _unused_medicines(draft: NoteDraft, transcript: Transcript | None) -> list[tuple[str, str, str]]:
    said = {f.value for item in draft.grounded_items() for f in extract_facts(item.claim())}
    if transcript is not None:
        said |= {f.value for facts in segment_facts(transcript.segments).values() for f in facts}
    said_classes = {c for value in said for c in classes_of(value)}
    return [m for m in _ADDABLE if m[0] not in said and not (classes_of(m[0]) & said_classes & {"antibiotic"})]


def _added_drug(draft: NoteDraft, rng: random.Random, transcript: Transcript | None) -> Grounded | None:
    choices = _unused_medicines(draft, transcript)
    items = _content_items(draft)
    statements = [item for item in items if isinstance(item, Statement)]
    if not choices or not items:
        return None
    name, dose, frequency = rng.choice(choices)
    if statements and rng.random() < 0.5:
        item = rng.choice(statements)
        item.text = f"{item.text.rstrip().rstrip('.')}; started {name} {dose} {frequency}."
        return item
    cited = rng.choice([item for item in items if item.evidence] or items)
    medication = Medication(
        name=name.capitalize(),
        dose=dose,
        route="oral",
        frequency=frequency,
        change=MedicationChange.STARTED,
        evidence=list(cited.evidence),
    )
    draft.medications.append(medication)
    return medication


_VERBS = frozenset({"felt", "feel", "feels", "feeling", "being", "been", "threw", "throw", "got", "having", "can't"})


def _verb_like(term: str) -> bool:
    """Whether a term reads as a verb phrase ("felt hot", "threw up"), where "no" cannot go in front."""
    first = term.split()[0].lower()
    return first in _VERBS or (first.endswith("ed") and len(first) > 4)


def _negation_sites(item: Statement) -> list[tuple[int, int, str]]:
    """(start, end, replacement) for each way to flip a negation in the statement's text."""
    text, sites = item.text, []
    for fact in extract_facts(text):
        if fact.kind == "negation":
            lowered = text[fact.start :].lower()
            for cue, plain in _UNNEGATE:
                if re.match(rf"{re.escape(cue)}\b", lowered):
                    end = fact.start + len(cue)
                    end += len(text[end:]) - len(text[end:].lstrip()) if not plain else 0
                    sites.append((fact.start, end, _swap_case(plain, text[fact.start : end])))
                    break
        elif fact.kind in ("symptom", "red_flag") and fact.polarity == PRESENT and not _verb_like(fact.text):
            before = text[: fact.start]
            article = re.search(r"\b(an?|some)\s+$", before, re.IGNORECASE)
            start = article.start() if article else fact.start
            sites.append((start, start if not article else fact.start, "no " if before.strip() else "No "))
    return sites


def _negation_flipped(draft: NoteDraft, rng: random.Random, transcript: Transcript | None) -> Grounded | None:
    sites = [
        (item, *site) for item in _content_items(draft) if isinstance(item, Statement) for site in _negation_sites(item)
    ]
    if not sites:
        return None
    item, start, end, new = rng.choice(sites)
    text = item.text[:start] + new + item.text[end:]
    if start == 0 and not new and text:
        text = text[0].upper() + text[1:]
    elif start == 0 and new == "No ":
        text = "No " + text[3].lower() + text[4:] if len(text) > 3 else text
    item.text = text
    return item


_PERTURBERS: dict[str, Callable[[NoteDraft, random.Random, Transcript | None], Grounded | None]] = {
    "wrong_dose": _wrong_dose,
    "wrong_side": _wrong_side,
    "added_drug": _added_drug,
    "negation_flipped": _negation_flipped,
}


def perturb(
    draft: NoteDraft, kind: str, rng: random.Random, transcript: Transcript | None = None
) -> tuple[NoteDraft, Grounded] | None:
    """A copy of ``draft`` with one error of ``kind`` injected, and the item that now carries it.

    Returns None when the draft has nothing to perturb that way (no dose, no side, ...). Every
    item of the copy has its grounding verdict cleared. With ``transcript``, an added medicine is
    one the consultation never mentions; without it, one the draft never mentions.
    """
    if kind not in _PERTURBERS:
        raise ValueError(f"unknown perturbation {kind!r}; expected one of {', '.join(KINDS)}")
    copy = draft.model_copy(deep=True)
    for item in copy.grounded_items():
        item.supported, item.reason = None, ""
    item = _PERTURBERS[kind](copy, rng, transcript)
    return None if item is None else (copy, item)


# --- The benchmark -------------------------------------------------------------------------------


@dataclass
class KindResult:
    """Injected errors of one kind and how many the grounding check flagged."""

    injected: int = 0
    caught: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.caught / self.injected if self.injected else None


@dataclass
class ErrorRecall:
    """What the grounding check caught of the injected errors, and what it flagged in clean drafts."""

    kinds: dict[str, KindResult]
    already_flagged: int = 0  # injections into items the check flagged before the error: not counted
    items: int = 0
    false_positives: int = 0
    false_positive_reasons: list[str] = field(default_factory=list)

    @property
    def injected(self) -> int:
        return sum(k.injected for k in self.kinds.values())

    @property
    def caught(self) -> int:
        return sum(k.caught for k in self.kinds.values())

    @property
    def recall(self) -> float | None:
        return self.caught / self.injected if self.injected else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.items if self.items else None

    def as_dict(self) -> dict:
        """A JSON-ready summary."""
        return {
            "kinds": {
                name: {"injected": k.injected, "caught": k.caught, "recall": k.recall, "missed": k.missed}
                for name, k in self.kinds.items()
            },
            "injected": self.injected,
            "caught": self.caught,
            "already_flagged": self.already_flagged,
            "recall": self.recall,
            "clean_items": self.items,
            "false_positives": self.false_positives,
            "false_positive_rate": self.false_positive_rate,
            "false_positive_reasons": self.false_positive_reasons,
        }


def injected_error_recall(
    cases: Sequence[tuple[NoteDraft, Transcript]],
    kinds: Sequence[str] = KINDS,
    trials: int = 5,
    seed: int = 0,
) -> ErrorRecall:
    """Inject up to ``trials`` errors of each kind into each draft, ground each copy, count the catches.

    An error is caught when the grounding check marks the perturbed item unsupported. Repeated
    identical injections count once, and an injection into an item the check already flagged in
    the unperturbed draft is not counted (``already_flagged``), so model drafts can be used too.
    The false-positive rate is the share of the unperturbed drafts' items (other than "Not
    discussed.") that the check marks unsupported.
    """
    result = ErrorRecall(kinds={kind: KindResult() for kind in kinds})
    for n, (draft, transcript) in enumerate(cases):
        clean = ground_note(draft.model_copy(deep=True), transcript)
        verdicts = [item.supported for item in clean.grounded_items()]
        for item in _content_items(clean):
            result.items += 1
            if item.supported is False:
                result.false_positives += 1
                result.false_positive_reasons.append(f"case {n}: {item.claim()!r}: {item.reason}")
        for kind in kinds:
            seen: set[str] = set()
            for trial in range(trials):
                made = perturb(draft, kind, random.Random(f"{seed}:{n}:{kind}:{trial}"), transcript)
                if made is None:
                    break
                perturbed, item = made
                if item.claim() in seen:
                    continue
                seen.add(item.claim())
                position = next(k for k, other in enumerate(perturbed.grounded_items()) if other is item)
                if position < len(verdicts) and verdicts[position] is False:
                    result.already_flagged += 1
                    continue
                ground_note(perturbed, transcript)
                tally = result.kinds[kind]
                tally.injected += 1
                if item.supported is False:
                    tally.caught += 1
                else:
                    tally.missed.append(f"case {n}: {item.claim()!r}: {item.reason}")
    return result


def load_case(path: str | os.PathLike[str]) -> tuple[NoteDraft, Transcript]:
    """A benchmark case from JSON: ``{"transcript": {...}, "draft": {...}}`` (other keys are notes for people)."""
    data = json.loads(Path(path).read_text("utf-8"))
    return NoteDraft.model_validate(data["draft"]), Transcript.model_validate(data["transcript"])
