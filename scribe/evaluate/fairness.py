"""Every per-case metric broken down by the subgroups the cases carry, with the best-worst gap.

A subgroup with fewer than ``min_n`` cases is shown but marked too few to judge and kept out of
the gap, and each breakdown says so in its warnings. Each subgroup's number is the mean of its
cases' values with a bootstrap interval. Cases with an error are left out; a case without a value
for a metric (no audio, no reference note, no review) is not counted for that metric.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from scribe.evaluate.results import CaseResult
from scribe.evaluate.savings import documentation_minutes
from scribe.evaluate.stats import Estimate, bootstrap

log = logging.getLogger(__name__)

_FIELD_ATTRIBUTES = ("consultation_type", "clinician")


class SubgroupRow(BaseModel):
    """One subgroup's estimate of one metric."""

    model_config = ConfigDict(extra="forbid")

    group: str
    estimate: Estimate
    too_few: bool


class Breakdown(BaseModel):
    """One metric by one attribute (e.g. WER by gender): a row per subgroup, the gap, and what to doubt."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    attribute: str
    higher_is_better: bool
    rows: list[SubgroupRow]
    best: str | None
    worst: str | None
    gap: float | None
    warnings: list[str]


@dataclass(frozen=True)
class Metric:
    """A per-case number: its name, how to read it from a case, and which direction is better."""

    name: str
    get: Callable[[CaseResult], float | None]
    higher_is_better: bool
    label: str


def _speech(field: str) -> Callable[[CaseResult], float | None]:
    def get(case: CaseResult) -> float | None:
        return None if case.speech is None else getattr(case.speech, field)

    return get


def _note(field: str) -> Callable[[CaseResult], float | None]:
    def get(case: CaseResult) -> float | None:
        return None if case.note is None else getattr(case.note, field)

    return get


def _time(field: str) -> Callable[[CaseResult], float | None]:
    def get(case: CaseResult) -> float | None:
        return None if case.time is None else getattr(case.time, field)

    return get


def _scribe_documentation_minutes(case: CaseResult) -> float | None:
    """Documentation minutes of scribe-arm cases only: control-arm notes were written unaided."""
    if case.time is None or case.time.arm != "scribe":
        return None
    return documentation_minutes(case)


METRICS: tuple[Metric, ...] = (
    Metric("wer", _speech("wer"), False, "word error rate"),
    Metric("medical_term_wer", _speech("medical_term_wer"), False, "medical-term error rate"),
    Metric("attribution_accuracy", _speech("attribution_accuracy"), True, "speaker attribution accuracy"),
    Metric("hallucinated_segment_rate", _speech("hallucinated_segment_rate"), False, "hallucinated-segment rate"),
    Metric("real_time_factor", _speech("real_time_factor"), False, "real-time factor (ASR seconds / audio seconds)"),
    Metric("rouge1", _note("rouge1"), True, "ROUGE-1 F1"),
    Metric("rouge2", _note("rouge2"), True, "ROUGE-2 F1"),
    Metric("rougeL", _note("rougeL"), True, "ROUGE-L F1"),
    Metric("fact_precision", _note("fact_precision"), True, "fact precision"),
    Metric("fact_recall", _note("fact_recall"), True, "fact recall"),
    Metric("unsupported_rate", _note("unsupported_rate"), False, "unsupported-statement rate"),
    Metric("omission_rate", _note("omission_rate"), False, "omission rate"),
    Metric("letter_grade", _note("letter_grade"), False, "patient letter reading grade (Flesch-Kincaid)"),
    Metric("time_to_draft_seconds", _time("time_to_draft_seconds"), False, "seconds from end of consultation to draft"),
    Metric("documentation_minutes", _scribe_documentation_minutes, False, "documentation minutes with scribe"),
    Metric("share_edited", _time("share_edited"), False, "share of the draft edited"),
)


def _kept(cases: Sequence[CaseResult]) -> list[CaseResult]:
    return [case for case in cases if not case.error]


def _group_of(case: CaseResult, attribute: str) -> str:
    """The case's subgroup for ``attribute``, or "" when it carries none."""
    if attribute in case.subgroups:
        return case.subgroups[attribute]
    if attribute in _FIELD_ATTRIBUTES:
        return getattr(case, attribute)
    return ""


def attributes(cases: Sequence[CaseResult]) -> list[str]:
    """Every subgroup key the cases carry (sorted), then consultation_type and clinician when cases have them."""
    kept = _kept(cases)
    keys = sorted({key for case in kept for key in case.subgroups})
    keys += [name for name in _FIELD_ATTRIBUTES if name not in keys and any(getattr(c, name) for c in kept)]
    return keys


def _values(cases: Sequence[CaseResult], metric: Metric, attribute: str) -> tuple[dict[str, list[float]], int]:
    """Metric values by subgroup, and how many cases with a value carry no subgroup for the attribute."""
    groups: dict[str, list[float]] = {}
    unlabelled = 0
    for case in _kept(cases):
        value = metric.get(case)
        if value is None:
            continue
        group = _group_of(case, attribute)
        if not group:
            unlabelled += 1
            continue
        groups.setdefault(group, []).append(float(value))
    return dict(sorted(groups.items())), unlabelled


def breakdown(
    cases: Sequence[CaseResult],
    metric: Metric,
    attribute: str,
    *,
    min_n: int = 5,
    level: float = 0.95,
    seed: int = 0,
) -> Breakdown:
    """``metric`` by subgroup of ``attribute``: mean and bootstrap interval per subgroup, best, worst and gap.

    Best, worst and gap are taken only over subgroups with at least ``min_n`` cases; the gap is
    the absolute difference of their means, None when fewer than two subgroups qualify.
    """
    groups, unlabelled = _values(cases, metric, attribute)
    rows = [
        SubgroupRow(group=name, estimate=(est := bootstrap(vals, level=level, seed=seed)), too_few=est.n < min_n)
        for name, vals in groups.items()
    ]
    warnings = [
        f"{attribute}={row.group} has {row.estimate.n} cases (< {min_n}): too few to judge"
        for row in rows
        if row.too_few
    ]
    if unlabelled:
        warnings.append(f"{unlabelled} cases with a {metric.name} value carry no {attribute}: left out")
    judged = [(row.estimate.value, row.group) for row in rows if not row.too_few and row.estimate.value is not None]
    best = worst = None
    gap = None
    if len(judged) >= 2:
        ranked = sorted(judged, key=lambda pair: pair[0], reverse=metric.higher_is_better)
        best, worst = ranked[0][1], ranked[-1][1]
        gap = abs(ranked[0][0] - ranked[-1][0])
    elif len(judged) == 1:
        warnings.append(f"only one subgroup with enough cases (>= {min_n}): no gap")
    else:
        warnings.append(f"no subgroup has enough cases (>= {min_n}): no gap")
    return Breakdown(
        metric=metric.name,
        attribute=attribute,
        higher_is_better=metric.higher_is_better,
        rows=rows,
        best=best,
        worst=worst,
        gap=gap,
        warnings=warnings,
    )


def breakdowns(
    cases: Sequence[CaseResult],
    metrics: Sequence[Metric] = METRICS,
    *,
    min_n: int = 5,
    seed: int = 0,
) -> list[Breakdown]:
    """A breakdown for every metric and attribute the cases have values for, metric by metric."""
    out = []
    for metric in metrics:
        for attribute in attributes(cases):
            if not _values(cases, metric, attribute)[0]:
                continue
            out.append(breakdown(cases, metric, attribute, min_n=min_n, seed=seed))
    log.info("fairness: %d breakdowns over %d cases", len(out), len(_kept(cases)))
    return out
