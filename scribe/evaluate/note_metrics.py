"""Note metrics: ROUGE as ACI-Bench computes it, fact-level precision and recall, unsupported share.

ROUGE follows ACI-Bench's own evaluation (``evaluation/evaluate_fullnote.py`` in wyim/aci-bench),
which calls Hugging Face ``evaluate``'s ``rouge``: Google's ``rouge-score`` with its default
tokenizer and **no stemming**, F1 per note, averaged over notes. Its published "ROUGE-L" is
``rougeLsum`` (longest common subsequence over newline-separated lines, then pooled): copying the
ACI-Bench test1 dialogues gives 32.84 / 12.53 / 30.61 with exactly these settings, the figures the
paper reports, while plain ``rougeL`` gives 18.86 and stemming raises ROUGE-1 to 34.08. So the
prediction is written one statement per line, as the reference notes put one paragraph per line.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Protocol

from rapidfuzz import fuzz, process
from rouge_score import rouge_scorer

from scribe.evaluate.asr_metrics import Ratio
from scribe.records import NoteDraft

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# The issue asks for medicines, allergies, problems and findings; symptoms (the lexicon keeps them apart
# from examination findings) are most of a history, so they are scored too.
FACT_KINDS = ("medication", "allergy", "problem", "finding", "symptom")
# Two facts are the same when rapidfuzz's token_sort_ratio of their normalised texts reaches this:
# word order and small spelling differences pass ("ibuprofen 600 mg" ~ "600mg ibuprofen",
# "metformin" ~ "metformine"); a word more or less on a short fact does not ("pain" vs "chest pain" 57).
# Numbers must also agree when both facts have some: "lisinopril 20 mg" is not "lisinopril 10 mg" (94).
FACT_MATCH_THRESHOLD = 85.0
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


class FactLike(Protocol):
    """What the lexicon's extractor returns (``scribe.notes.lexicon.Fact``): a kind and the text as found;
    its ``value`` (normalised form) and ``polarity`` (present, absent, asked) are used when present."""

    kind: str
    text: str


Extractor = Callable[[str], Sequence[FactLike]]


@cache
def _scorer(types: tuple[str, ...], use_stemmer: bool) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(types), use_stemmer=use_stemmer)


def rouge(
    prediction: str, reference: str, *, use_stemmer: bool = False, types: Sequence[str] = ROUGE_TYPES
) -> dict[str, float]:
    """ROUGE-1, -2, -L and -Lsum F1 (x100) of one prediction against one reference.

    Defaults match ACI-Bench's evaluation (no stemming; ``rougeLsum`` splits on newlines).
    ``types`` picks fewer (each LCS type costs about 0.2 s on a long note).
    """
    scores = _scorer(tuple(types), use_stemmer).score(reference, prediction)
    return {name: 100.0 * scores[name].fmeasure for name in types}


def mean_rouge(
    pairs: Iterable[tuple[str, str]], *, use_stemmer: bool = False, types: Sequence[str] = ROUGE_TYPES
) -> dict[str, float]:
    """Mean per-note ROUGE over (prediction, reference) pairs, as ACI-Bench averages; ``n`` is the count."""
    per = [rouge(p, r, use_stemmer=use_stemmer, types=types) for p, r in pairs]
    if not per:
        return {"n": 0}
    return {name: statistics.fmean(s[name] for s in per) for name in types} | {"n": len(per)}


def draft_text(draft: NoteDraft, keys: Iterable[str] | None = None, *, titles: bool = True) -> str:
    """The note as plain text for scoring: each section's title, then one statement per line.

    Evidence marks, grounding flags and the structured lists are left out; incomplete sections
    contribute their statements only. ``keys`` restricts it to those sections.
    """
    wanted = None if keys is None else set(keys)
    blocks = []
    for section in draft.sections:
        if wanted is not None and section.key not in wanted:
            continue
        lines = [" ".join(s.text.split()) for s in section.statements if s.text.strip()]
        if not lines:
            continue
        blocks.append("\n".join(([section.title.upper()] if titles else []) + lines))
    return "\n\n".join(blocks)


def draft_claims(draft: NoteDraft) -> str:
    """What the draft asserts, for the fact-level score: its statements and its structured lists."""
    items = [*draft.medications, *draft.allergies, *draft.problems, *draft.findings]
    return "\n".join([draft_text(draft, titles=False), *(item.claim() for item in items)]).strip()


def normalise_fact(text: str) -> str:
    """Lower case, punctuation to spaces (keeping decimal points and slashes in numbers), one space."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"(?<!\d)[./]|[./](?!\d)", " ", text)
    text = re.sub(r"[^\w./%' ]+", " ", text)
    return " ".join(text.split())


def _default_extractor() -> Extractor:
    from scribe.notes.lexicon.extraction import extract_facts  # the lexicon the grounding check uses

    return extract_facts


def fact_key(fact: FactLike) -> str:
    """The comparable form of a fact: its normalised value (else text), ``no ...`` when it is absent."""
    key = normalise_fact(getattr(fact, "value", "") or fact.text)
    return f"no {key}" if key and getattr(fact, "polarity", "") == "absent" else key


def fact_sets(text: str, kinds: Sequence[str] = FACT_KINDS, extract: Extractor | None = None) -> dict[str, list[str]]:
    """Distinct comparable facts (:func:`fact_key`) of each kind in ``text``, in order of appearance."""
    found: dict[str, list[str]] = {k: [] for k in kinds}
    for fact in (extract or _default_extractor())(text):
        if fact.kind not in found:
            continue
        key = fact_key(fact)
        if key and key not in found[fact.kind]:
            found[fact.kind].append(key)
    return found


def _numbers_agree(a: str, b: str) -> bool:
    na, nb = sorted(_NUMBER_RE.findall(a)), sorted(_NUMBER_RE.findall(b))
    return not na or not nb or na == nb


def match_facts(predicted: Sequence[str], reference: Sequence[str], threshold: float = FACT_MATCH_THRESHOLD) -> int:
    """How many facts pair up one to one (greedy, best pairs first): similar enough, numbers agreeing."""
    if not predicted or not reference:
        return 0
    scores = process.cdist(predicted, reference, scorer=fuzz.token_sort_ratio)
    pairs = sorted(
        (
            (float(scores[i][j]), i, j)
            for i in range(len(predicted))
            for j in range(len(reference))
            if _numbers_agree(predicted[i], reference[j])
        ),
        reverse=True,
    )
    used_p: set[int] = set()
    used_r: set[int] = set()
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
    return len(used_p)


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def fact_scores(
    prediction: str,
    reference: str,
    kinds: Sequence[str] = FACT_KINDS,
    extract: Extractor | None = None,
    threshold: float = FACT_MATCH_THRESHOLD,
) -> dict[str, dict[str, Any]]:
    """Per kind: precision and recall of the prediction's distinct facts against the reference's.

    Each kind maps to ``{precision, recall, tp, fp, fn}``; precision (recall) is None when the
    prediction (reference) has no fact of that kind. Pool tp/fp/fn over notes for a corpus score.
    """
    extract = extract or _default_extractor()
    pred, ref = fact_sets(prediction, kinds, extract), fact_sets(reference, kinds, extract)
    out = {}
    for kind in kinds:
        tp = match_facts(pred[kind], ref[kind], threshold)
        out[kind] = _prf(tp, len(pred[kind]) - tp, len(ref[kind]) - tp)
    return out


def pool_facts(per_note: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Micro-averaged fact scores: tp, fp and fn summed over notes per kind, plus ``all`` kinds together."""
    sums: dict[str, list[int]] = {}
    for scores in per_note:
        for kind, s in scores.items():
            total = sums.setdefault(kind, [0, 0, 0])
            total[0] += s["tp"]
            total[1] += s["fp"]
            total[2] += s["fn"]
    out = {kind: _prf(*t) for kind, t in sums.items()}
    if sums:
        out["all"] = _prf(*(sum(t[i] for t in sums.values()) for i in range(3)))
    return out


def unsupported(draft: NoteDraft, *, structured: bool = False) -> Ratio:
    """Statements (and structured items, if asked) the grounding check flagged, of those it checked."""
    items = draft.grounded_items() if structured else [s for sec in draft.sections for s in sec.statements]
    checked = [item for item in items if item.supported is not None]
    return Ratio(sum(1 for item in checked if item.supported is False), len(checked))


def unsupported_rate(draft: NoteDraft) -> float | None:
    """Share of the note's statements flagged unsupported; None when none was checked."""
    return unsupported(draft).value
