"""Post-market monitoring: weekly numbers and drift checks on hand-built cases, values computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from scribe.evaluate.monitor import drift, week_row
from scribe.evaluate.results import CaseResult, NoteScores, TimeScores
from scribe.evaluate.weeks import monday, week_label

MONDAY = date(2025, 3, 3)  # ISO week 2025-W10


def case(
    cid: str,
    *,
    share: float | None = 0.2,
    arm: str = "scribe",
    rejected: bool = False,
    draft_s: float | None = 60.0,
    doc_s: float | None = 120.0,
    statements: int = 10,
    unsupported: int = 1,
    omissions: int | None = 0,
    error: str = "",
) -> CaseResult:
    note = None
    if arm == "scribe":
        note = NoteScores(
            statements=statements,
            unsupported=unsupported,
            unsupported_rate=unsupported / statements,
            omissions=omissions or 0,
            omission_rate=None if omissions is None else omissions / (statements + omissions),
        )
    return CaseResult(
        case_id=cid,
        dataset="store",
        synthetic_audio=False,
        consulted_at=datetime(2025, 3, 4, 10, tzinfo=UTC),
        note=note,
        error=error,
        time=None
        if error
        else TimeScores(
            arm=arm,  # type: ignore[arg-type]
            time_to_draft_seconds=draft_s,
            documentation_seconds=doc_s,
            review_seconds=doc_s,
            share_edited=share,
            rejected=rejected,
        ),
    )


def test_monday_and_week_labels() -> None:
    assert monday(datetime(2025, 3, 9, 23, 59, tzinfo=UTC)) == MONDAY  # Sunday night still W10
    assert monday(datetime(2025, 3, 10, 0, 30, tzinfo=UTC)) == date(2025, 3, 10)
    # 00:30 on Monday in UTC+2 is Sunday 22:30 UTC: the week before
    assert monday(datetime(2025, 3, 10, 0, 30, tzinfo=timezone(timedelta(hours=2)))) == MONDAY
    assert week_label(MONDAY) == "2025-W10"
    assert week_label(date(2024, 12, 30)) == "2025-W01"  # ISO year, not calendar year


def test_week_row_by_hand() -> None:
    cases = [
        case("a", share=0.2, draft_s=60, doc_s=120, statements=10, unsupported=1, omissions=2),
        case("b", share=0.4, draft_s=100, doc_s=240, statements=5, unsupported=0, omissions=0),
        case("c", share=None, rejected=True, draft_s=80, doc_s=30, statements=5, unsupported=4, omissions=None),
        case("k", arm="control", share=None, draft_s=None, doc_s=600),
        case("x", error="written unaided after the patient objected"),
    ]
    row = week_row(MONDAY, cases, approved={"a", "b", "k"})
    assert (row.week, row.start, row.consultations, row.control) == ("2025-W10", MONDAY, 3, 1)
    assert (row.approved, row.rejected) == (2, 1)
    assert row.rejection_rate == pytest.approx(1 / 3)
    assert row.edit_rate == pytest.approx(0.3)  # mean of 0.2 and 0.4
    assert row.unsupported_rate == pytest.approx(5 / 20)  # (1 + 0 + 4) of (10 + 5 + 5) statements
    assert row.omission_rate == pytest.approx(2 / 17)  # c's omissions unknown: (2 + 0) of (12 + 5)
    assert row.time_to_draft_seconds == 80.0  # median of 60, 100, 80
    assert row.documentation_minutes == 3.0  # approved and not rejected: median of 2 and 4 minutes
    assert row.n == {
        "rejection_rate": 3,
        "edit_rate": 2,
        "unsupported_rate": 3,
        "omission_rate": 2,
        "time_to_draft_seconds": 3,
        "documentation_minutes": 2,
    }


def test_an_empty_week_has_no_values() -> None:
    row = week_row(MONDAY, [], approved=set())
    assert row.consultations == 0 and row.rejection_rate is None and row.edit_rate is None
    assert row.time_to_draft_seconds is None and row.documentation_minutes is None


def _weeks(*shares_per_week: list[float]) -> list:
    rows = []
    for k, shares in enumerate(shares_per_week):
        ids = [f"w{k}c{i}" for i in range(len(shares))]
        cases = [case(cid, share=s) for cid, s in zip(ids, shares, strict=True)]
        rows.append(week_row(MONDAY + timedelta(weeks=k), cases, approved=set(ids)))
    return rows


def _check(checks: list, metric: str):
    return next(c for c in checks if c.metric == metric)


def test_a_week_with_double_the_edit_rate_is_flagged() -> None:
    rows = _weeks([0.2] * 5, [0.1, 0.3, 0.2, 0.2, 0.2], [0.2] * 6, [0.4] * 5)
    latest, checks = drift(rows, threshold=0.5, min_cases=5)
    assert latest == "2025-W13"
    edit = _check(checks, "edit_rate")
    assert edit.verdict == "drift" and edit.latest == pytest.approx(0.4) and edit.baseline == pytest.approx(0.2)
    assert edit.relative_change == pytest.approx(1.0) and edit.baseline_weeks == 3 and edit.n == 5
    assert edit.message.startswith("DRIFT edit rate (share of draft changed) rose by 100% in 2025-W13")
    # everything else stayed the same: judged and within the threshold
    for metric in ("rejection_rate", "unsupported_rate", "omission_rate", "time_to_draft_seconds"):
        assert _check(checks, metric).verdict == "ok", metric
    assert _check(checks, "rejection_rate").relative_change == 0.0
    assert [c.message for c in checks if c.verdict == "drift"] == [edit.message]


def test_a_small_latest_week_is_not_judged() -> None:
    rows = _weeks([0.2] * 5, [0.2] * 5, [0.8] * 3, [])  # the last week is empty: the latest is the one before
    latest, checks = drift(rows, threshold=0.5, min_cases=5)
    assert latest == "2025-W12"
    assert all(c.verdict == "too few to judge" for c in checks)
    assert _check(checks, "edit_rate").message == (
        "edit rate (share of draft changed): 3 consultations in 2025-W12 (< 5): too few to judge"
    )
    # with a lower bar the same week is judged, and flagged
    _, judged = drift(rows, threshold=0.5, min_cases=3)
    assert _check(judged, "edit_rate").verdict == "drift"


def test_a_fall_is_drift_too_and_the_threshold_is_configurable() -> None:
    fell = _weeks([0.4] * 5, [0.4] * 5, [0.1] * 5)
    edit = _check(drift(fell, threshold=0.5, min_cases=5)[1], "edit_rate")
    assert edit.verdict == "drift" and edit.relative_change == pytest.approx(-0.75) and " fell by 75% " in edit.message
    rose = _weeks([0.2] * 5, [0.28] * 5)  # +40%
    assert _check(drift(rose, threshold=0.5, min_cases=5)[1], "edit_rate").verdict == "ok"
    assert _check(drift(rose, threshold=0.3, min_cases=5)[1], "edit_rate").verdict == "drift"


def test_from_zero_and_without_a_baseline() -> None:
    rows = _weeks([0.2] * 5, [0.2] * 5)
    first = [case(f"r{i}", share=0.2, rejected=i == 0) for i in range(5)]
    rows[1] = week_row(MONDAY + timedelta(weeks=1), first, approved={f"r{i}" for i in range(1, 5)})
    rejection = _check(drift(rows, threshold=0.5, min_cases=5)[1], "rejection_rate")
    assert rejection.latest == pytest.approx(0.2) and rejection.baseline == 0.0
    assert rejection.verdict == "drift" and rejection.relative_change is None and "rose from 0" in rejection.message
    only = _weeks([0.2] * 5)
    assert {c.verdict for c in drift(only, threshold=0.5, min_cases=5)[1]} == {"no baseline"}
    assert drift(_weeks([], []), threshold=0.5, min_cases=5) == (None, [])
