"""Post-market monitoring: how scribe behaves in live use, week by week, and whether it is drifting.

Reads the store through :func:`scribe.evaluate.from_store.consultation_cases` and groups the
scribe-arm consultations by ISO week (Monday start, UTC) of when they were started. For each week:
consultations, approvals, rejections, the edit rate (mean share of the draft the clinician changed),
the unsupported and omission rates of the model's drafts (pooled over the week's drafts), the median
time to draft and the median documentation time. Control-arm consultations are counted, not mixed in.

Drift: each metric of the latest week that has consultations is compared with the mean of the earlier
weeks in the window; it is flagged when the relative change, up or down, exceeds the threshold (a fall
in edits can mean clinicians have stopped checking drafts, as much as a rise can mean worse drafts),
and judged only when at least ``min_cases`` consultations stand behind the latest week's value.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from scribe.evaluate.from_store import consultation_cases
from scribe.evaluate.results import CaseResult
from scribe.evaluate.weeks import monday, week_label
from scribe.store.store import Store

Verdict = Literal["drift", "ok", "too few to judge", "no baseline"]

METRICS: dict[str, str] = {
    "rejection_rate": "rejection rate",
    "edit_rate": "edit rate (share of draft changed)",
    "unsupported_rate": "unsupported statements in drafts",
    "omission_rate": "omissions in drafts",
    "time_to_draft_seconds": "time to draft (median seconds)",
    "documentation_minutes": "documentation time (median minutes)",
}
"""The metrics checked for drift, by field of :class:`WeekRow`, with their labels."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WeekRow(_Model):
    """One ISO week of live use (scribe arm; control-arm consultations only counted)."""

    week: str = Field(description="ISO week, e.g. 2025-W10.")
    start: date = Field(description="Its Monday (UTC).")
    consultations: int = Field(default=0, description="Scribe-arm consultations with a note.")
    control: int = Field(default=0, description="Control-arm consultations (not in the metrics).")
    approved: int = 0
    rejected: int = Field(default=0, description="Whose current version the clinician rejected.")
    rejection_rate: float | None = Field(default=None, description="rejected / consultations.")
    edit_rate: float | None = Field(default=None, description="Mean share of the draft changed, approved notes.")
    unsupported_rate: float | None = Field(default=None, description="Flagged statements / statements, all drafts.")
    omission_rate: float | None = Field(default=None, description="omissions / (statements + omissions).")
    time_to_draft_seconds: float | None = Field(default=None, description="Median, end of recording to draft.")
    documentation_minutes: float | None = Field(default=None, description="Median active time, approved notes.")
    n: dict[str, int] = Field(default_factory=dict, description="Consultations behind each metric's value.")


class DriftCheck(_Model):
    """One metric of the latest week against the mean of the earlier weeks."""

    metric: str
    label: str
    latest: float | None = None
    baseline: float | None = Field(default=None, description="Mean of the earlier weeks' values.")
    baseline_weeks: int = 0
    relative_change: float | None = Field(default=None, description="(latest - baseline) / baseline.")
    n: int = Field(default=0, description="Consultations behind the latest value.")
    verdict: Verdict
    message: str


class MonitorReport(_Model):
    """Weekly rows, oldest first, and the drift checks of the latest week."""

    generated_at: datetime
    threshold: float
    min_cases: int
    weeks: list[WeekRow]
    latest_week: str | None = None
    checks: list[DriftCheck] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def flagged(self) -> list[str]:
        """The messages of the metrics that drifted."""
        return [c.message for c in self.checks if c.verdict == "drift"]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def week_row(start: date, cases: Sequence[CaseResult], approved: Collection[str]) -> WeekRow:
    """The numbers of one week from its cases (``approved``: ids of the approved ones); error cases left out."""
    usable = [c for c in cases if not c.error and c.time is not None]
    scribe = [c for c in usable if c.time and c.time.arm == "scribe"]
    row = WeekRow(week=week_label(start), start=start, consultations=len(scribe), control=len(usable) - len(scribe))
    done = [c for c in scribe if c.case_id in approved and c.time and not c.time.rejected]
    row.approved = sum(1 for c in scribe if c.case_id in approved)
    row.rejected = sum(1 for c in scribe if c.time and c.time.rejected)
    row.rejection_rate = row.rejected / len(scribe) if scribe else None
    shares = [c.time.share_edited for c in done if c.time and c.time.share_edited is not None]
    row.edit_rate = statistics.fmean(shares) if shares else None
    checked = [c.note for c in scribe if c.note is not None and c.note.unsupported_rate is not None]
    statements = sum(n.statements for n in checked)
    row.unsupported_rate = sum(n.unsupported for n in checked) / statements if statements else None
    known = [c.note for c in scribe if c.note is not None and c.note.omission_rate is not None]
    due = sum(n.statements + n.omissions for n in known)
    row.omission_rate = sum(n.omissions for n in known) / due if due else None
    drafts = [c.time.time_to_draft_seconds for c in scribe if c.time and c.time.time_to_draft_seconds is not None]
    row.time_to_draft_seconds = _median(drafts)
    minutes = [c.time.documentation_seconds / 60 for c in done if c.time and c.time.documentation_seconds is not None]
    row.documentation_minutes = _median(minutes)
    row.n = {
        "rejection_rate": len(scribe),
        "edit_rate": len(shares),
        "unsupported_rate": len(checked),
        "omission_rate": len(known),
        "time_to_draft_seconds": len(drafts),
        "documentation_minutes": len(minutes),
    }
    return row


def _format(metric: str, value: float) -> str:
    if metric.endswith("_rate"):
        return f"{value:.1%}"
    return f"{value:.1f}"


def drift(rows: Sequence[WeekRow], *, threshold: float, min_cases: int) -> tuple[str | None, list[DriftCheck]]:
    """The latest week with consultations, and each metric's drift check against the earlier weeks' mean."""
    latest_index = next((i for i in range(len(rows) - 1, -1, -1) if rows[i].consultations), None)
    if latest_index is None:
        return None, []
    latest, earlier = rows[latest_index], rows[:latest_index]
    checks = []
    for metric, label in METRICS.items():
        value: float | None = getattr(latest, metric)
        n = latest.n.get(metric, 0)
        history = [v for r in earlier if (v := getattr(r, metric)) is not None]
        baseline = statistics.fmean(history) if history else None
        check = DriftCheck(
            metric=metric,
            label=label,
            latest=value,
            baseline=baseline,
            baseline_weeks=len(history),
            n=n,
            verdict="ok",
            message="",
        )
        if value is None or n < min_cases:
            check.verdict = "too few to judge"
            check.message = f"{label}: {n} consultations in {latest.week} (< {min_cases}): too few to judge"
        elif baseline is None:
            check.verdict = "no baseline"
            check.message = f"{label}: no earlier week in the window to compare {latest.week} with"
        else:
            now, before = _format(metric, value), _format(metric, baseline)
            if baseline == 0:
                check.relative_change = 0.0 if value == 0 else None
                moved = value != 0
            else:
                check.relative_change = (value - baseline) / baseline
                moved = abs(check.relative_change) > threshold
            direction = "rose" if value > baseline else "fell"
            change = "from 0" if check.relative_change is None else f"by {abs(check.relative_change):.0%}"
            where = f"in {latest.week} ({now}, n={n}) against the mean of {len(history)} earlier weeks ({before})"
            if moved:
                check.verdict = "drift"
                check.message = f"DRIFT {label} {direction} {change} {where}, beyond the {threshold:.0%} threshold"
            else:
                check.message = f"{label}: {now} {where}, within {threshold:.0%}"
        checks.append(check)
    return latest.week, checks


def monitor(
    store: Store,
    *,
    weeks: int = 12,
    threshold: float = 0.5,
    min_cases: int = 5,
    now: datetime | None = None,
) -> MonitorReport:
    """The last ``weeks`` ISO weeks up to the one ``now`` falls in (default: the current time), with drift checks."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    now = now or datetime.now(UTC)
    last = monday(now)
    starts = [last - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    since = datetime.combine(starts[0], time(), tzinfo=UTC)
    until = datetime.combine(last + timedelta(weeks=1), time(), tzinfo=UTC)
    pairs = consultation_cases(store, since=since, until=until, include_unapproved=True)
    approved = {c.id for c, _ in pairs if c.metrics.approved_at is not None}
    by_week: dict[date, list[CaseResult]] = {start: [] for start in starts}
    for _, case in pairs:
        if case.consulted_at is not None:
            by_week[monday(case.consulted_at)].append(case)
    rows = [week_row(start, by_week[start], approved) for start in starts]
    latest, checks = drift(rows, threshold=threshold, min_cases=min_cases)
    return MonitorReport(
        generated_at=now, threshold=threshold, min_cases=min_cases, weeks=rows, latest_week=latest, checks=checks
    )
