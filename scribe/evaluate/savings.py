"""Minutes saved per patient: clinician documentation time with scribe against a baseline, said plainly.

The baseline is either measured (a control arm in the review app: clinicians wrote the note
unaided, timed the same way as reviews of scribe drafts) or a figure the site entered, which is
labelled ASSUMED everywhere it appears. Without either, no saving is reported. Per clinician and
per consultation type the same kind of baseline is used as for the whole run, so a report never
mixes measured and assumed figures.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scribe.evaluate.results import CaseResult
from scribe.evaluate.stats import Estimate, bootstrap, bootstrap_difference

log = logging.getLogger(__name__)

Baseline = Literal["measured", "assumed", "none"]


class Savings(BaseModel):
    """Minutes saved per patient, with how the number was obtained and what it rests on."""

    model_config = ConfigDict(extra="forbid")

    baseline: Baseline
    label: str = Field(description="One sentence saying how the number was obtained.")
    mean_minutes: Estimate | None = Field(description="Baseline documentation minutes minus minutes with scribe.")
    median_minutes: Estimate | None
    n_scribe: int = Field(ge=0, description="Scribe-arm cases with a documentation time.")
    n_control: int = Field(ge=0, description="Control-arm cases with a documentation time.")
    scribe_minutes: Estimate | None = Field(description="Mean documentation minutes with scribe.")
    control_minutes: Estimate | None = Field(description="Mean documentation minutes unaided (measured only).")
    by_clinician: dict[str, Savings] = Field(default_factory=dict)
    by_type: dict[str, Savings] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


def documentation_minutes(case: CaseResult) -> float | None:
    """Clinician minutes spent on this case's note; None without a measured time or when the draft was rejected."""
    if case.time is None or case.time.rejected or case.time.documentation_seconds is None:
        return None
    return case.time.documentation_seconds / 60


def _arms(cases: Sequence[CaseResult]) -> tuple[list[float], list[float], int]:
    """(scribe minutes, control minutes, rejected scribe drafts) over cases that were evaluated."""
    scribe: list[float] = []
    control: list[float] = []
    rejected = 0
    for case in cases:
        if case.time is None:
            continue
        if case.time.rejected and case.time.arm == "scribe":
            rejected += 1
        minutes = documentation_minutes(case)
        if minutes is None:
            continue
        (control if case.time.arm == "control" else scribe).append(minutes)
    return scribe, control, rejected


def _few(arm: str, n: int, min_n: int) -> str:
    return f"{arm} arm has {n} cases with a documentation time (< {min_n}): too few to judge"


def _compute(cases: Sequence[CaseResult], baseline: Baseline, assumed: float | None, min_n: int, seed: int) -> Savings:
    """Savings over ``cases`` with the baseline kind already chosen for the whole run."""
    scribe, control, rejected = _arms(cases)
    warnings: list[str] = []
    if len(scribe) < min_n:
        warnings.append(_few("scribe", len(scribe), min_n))
    if rejected:
        warnings.append(
            f"{rejected} scribe drafts were rejected and are left out of documentation time,"
            " which may flatter the saving"
        )
    scribe_minutes = bootstrap(scribe, "mean", seed=seed)
    control_minutes: Estimate | None = None
    mean_minutes: Estimate | None = None
    median_minutes: Estimate | None = None
    if baseline == "measured":
        if len(control) < min_n:
            warnings.append(_few("control", len(control), min_n))
        control_minutes = bootstrap(control, "mean", seed=seed)
        mean_minutes = bootstrap_difference(control, scribe, "mean", seed=seed)
        median_minutes = bootstrap_difference(control, scribe, "median", seed=seed)
        label = (
            f"control arm measured in the review app: {len(control)} notes written unaided against"
            f" {len(scribe)} scribe drafts reviewed, timed the same way"
        )
    elif baseline == "assumed":
        assert assumed is not None
        saved = [assumed - minutes for minutes in scribe]
        mean_minutes = bootstrap(saved, "mean", seed=seed)
        median_minutes = bootstrap(saved, "median", seed=seed)
        label = (
            f"ASSUMED baseline of {assumed:.1f} min per note entered by the site, not measured;"
            f" the interval shows variation in {len(scribe)} measured scribe documentation times only"
        )
        warnings.append(
            f"ASSUMED baseline of {assumed:.1f} min per note, not measured: the saving is only as good as that figure"
        )
    else:
        label = "no baseline: no control arm was measured and no assumed figure was entered, so no saving is reported"
        warnings.append(
            "no baseline: time a control arm in the review app, or enter the site's own figure as an assumed baseline"
        )
    return Savings(
        baseline=baseline,
        label=label,
        mean_minutes=mean_minutes,
        median_minutes=median_minutes,
        n_scribe=len(scribe),
        n_control=len(control),
        scribe_minutes=scribe_minutes,
        control_minutes=control_minutes,
        warnings=warnings,
    )


def _split(cases: Sequence[CaseResult], key: Literal["clinician", "consultation_type"]) -> dict[str, list[CaseResult]]:
    groups: dict[str, list[CaseResult]] = {}
    for case in cases:
        name = getattr(case, key)
        if name:
            groups.setdefault(name, []).append(case)
    return dict(sorted(groups.items()))


def minutes_saved(
    cases: Sequence[CaseResult],
    *,
    assumed_baseline_minutes: float | None = None,
    min_n: int = 5,
    seed: int = 0,
) -> Savings:
    """Minutes saved per patient overall, per clinician and per consultation type.

    A measured control arm (cases with ``time.arm == "control"``) is used whenever there is one,
    and then an assumed figure is ignored with a warning. Otherwise an assumed figure gives
    ``assumed - scribe minutes`` per case, labelled ASSUMED. Otherwise nothing is estimated.
    Cases with an error, without a documentation time, or whose draft was rejected are left out.
    """
    if assumed_baseline_minutes is not None and not (
        math.isfinite(assumed_baseline_minutes) and assumed_baseline_minutes > 0
    ):
        raise ValueError(
            f"assumed_baseline_minutes must be a positive number of minutes per note, not {assumed_baseline_minutes}"
        )
    kept = [case for case in cases if not case.error]
    _, control, _ = _arms(kept)
    if control:
        baseline: Baseline = "measured"
    elif assumed_baseline_minutes is not None:
        baseline = "assumed"
    else:
        baseline = "none"
    overall = _compute(kept, baseline, assumed_baseline_minutes, min_n, seed)
    if control and assumed_baseline_minutes is not None:
        overall.warnings.insert(
            0,
            f"an assumed baseline of {assumed_baseline_minutes:.1f} min was entered but a control arm was measured:"
            " the assumed figure is ignored",
        )
    overall.by_clinician = {
        name: _compute(group, baseline, assumed_baseline_minutes, min_n, seed)
        for name, group in _split(kept, "clinician").items()
    }
    overall.by_type = {
        name: _compute(group, baseline, assumed_baseline_minutes, min_n, seed)
        for name, group in _split(kept, "consultation_type").items()
    }
    log.info("minutes saved: %s baseline, %d scribe and %d control cases", baseline, overall.n_scribe, len(control))
    return overall
