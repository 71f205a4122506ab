"""Tests for scribe.evaluate.savings: a measured control arm, an assumed baseline labelled as such,
no baseline, the split per clinician and per consultation type, and which cases are left out."""

from __future__ import annotations

import pytest

from scribe.evaluate.results import CaseResult, TimeScores
from scribe.evaluate.savings import documentation_minutes, minutes_saved
from scribe.evaluate.stats import bootstrap

CONTROL = [9.0, 10.0, 11.0, 10.0, 10.0, 9.5, 10.5]  # mean and median 10 minutes
SCRIBE = [6.0, 7.0, 8.0, 7.0, 7.0, 6.5, 7.5]  # mean and median 7 minutes


def timed(
    case_id: str,
    minutes: float | None,
    arm: str = "scribe",
    *,
    clinician: str = "",
    kind: str = "",
    rejected: bool = False,
    error: str = "",
) -> CaseResult:
    seconds = None if minutes is None else minutes * 60
    return CaseResult(
        case_id=case_id,
        dataset="hand",
        synthetic_audio=False,
        clinician=clinician,
        consultation_type=kind,
        time=TimeScores(arm=arm, documentation_seconds=seconds, rejected=rejected),
        error=error,
    )


def arms(control: list[float], scribe: list[float], **fields: str) -> list[CaseResult]:
    return [timed(f"c{i}", m, "control", **fields) for i, m in enumerate(control)] + [
        timed(f"s{i}", m, **fields) for i, m in enumerate(scribe)
    ]


def test_documentation_minutes():
    assert documentation_minutes(timed("a", 1.5)) == pytest.approx(1.5)
    assert documentation_minutes(timed("a", None)) is None
    assert documentation_minutes(timed("a", 4.0, rejected=True)) is None
    assert documentation_minutes(CaseResult(case_id="a", dataset="d", synthetic_audio=False)) is None


def test_measured_control_arm_ten_against_seven_minutes():
    out = minutes_saved(arms(CONTROL, SCRIBE))
    assert out.baseline == "measured"
    assert "control arm measured in the review app" in out.label
    assert (out.n_scribe, out.n_control) == (7, 7)
    assert out.mean_minutes.statistic == "difference of means" and out.mean_minutes.n == 14
    assert out.mean_minutes.value == pytest.approx(3.0)
    assert out.mean_minutes.low < 3.0 < out.mean_minutes.high
    assert out.mean_minutes.low > 0  # 10 vs 7 with this little spread is clearly a saving
    assert out.median_minutes.statistic == "difference of medians"
    assert out.median_minutes.value == pytest.approx(3.0)
    assert out.control_minutes.value == pytest.approx(10.0)
    assert out.scribe_minutes.value == pytest.approx(7.0)
    assert out.warnings == []


def test_assumed_figure_is_ignored_when_a_control_arm_was_measured():
    out = minutes_saved(arms(CONTROL, SCRIBE), assumed_baseline_minutes=20.0)
    assert out.baseline == "measured"
    assert out.mean_minutes.value == pytest.approx(3.0)
    assert out.warnings == [
        "an assumed baseline of 20.0 min was entered but a control arm was measured: the assumed figure is ignored"
    ]


def test_assumed_baseline_is_labelled_and_its_interval_comes_from_scribe_times_only():
    out = minutes_saved([timed(f"s{i}", m) for i, m in enumerate(SCRIBE)], assumed_baseline_minutes=10.0)
    assert out.baseline == "assumed"
    assert out.label.startswith("ASSUMED baseline of 10.0 min per note entered by the site, not measured")
    assert any(w.startswith("ASSUMED baseline of 10.0 min") for w in out.warnings)
    assert (out.n_scribe, out.n_control, out.control_minutes) == (7, 0, None)
    assert out.mean_minutes.value == pytest.approx(3.0)
    assert out.median_minutes.value == pytest.approx(3.0)
    # 10 - scribe minutes, resampled with the same seed: the interval is the scribe interval mirrored.
    scribe = bootstrap(SCRIBE)
    assert out.mean_minutes.low == pytest.approx(10 - scribe.high)
    assert out.mean_minutes.high == pytest.approx(10 - scribe.low)


def test_no_baseline_reports_no_saving():
    out = minutes_saved([timed(f"s{i}", m) for i, m in enumerate(SCRIBE)])
    assert out.baseline == "none"
    assert (out.mean_minutes, out.median_minutes, out.control_minutes) == (None, None, None)
    assert out.scribe_minutes.value == pytest.approx(7.0)  # still measured, still shown
    assert "no baseline" in out.label
    assert out.warnings == [
        "no baseline: time a control arm in the review app, or enter the site's own figure as an assumed baseline"
    ]


def test_split_per_clinician_and_per_consultation_type():
    cases = arms([10.0, 10.0], [7.0, 7.0], clinician="dr-a", kind="new") + arms(
        [12.0, 12.0, 12.0], [6.0, 6.0], clinician="dr-b", kind="follow-up"
    )
    out = minutes_saved(cases)
    # Overall: control mean 56 / 5 = 11.2, scribe mean 26 / 4 = 6.5, so 4.7 minutes saved.
    assert out.mean_minutes.value == pytest.approx(4.7)
    assert list(out.by_clinician) == ["dr-a", "dr-b"]
    a, b = out.by_clinician["dr-a"], out.by_clinician["dr-b"]
    assert (a.mean_minutes.value, a.n_control, a.n_scribe) == (pytest.approx(3.0), 2, 2)
    assert (b.mean_minutes.value, b.n_control, b.n_scribe) == (pytest.approx(6.0), 3, 2)
    assert a.baseline == b.baseline == "measured"
    assert a.by_clinician == a.by_type == {}
    assert "scribe arm has 2 cases with a documentation time (< 5): too few to judge" in a.warnings
    assert "control arm has 2 cases with a documentation time (< 5): too few to judge" in a.warnings
    assert out.by_type["new"].mean_minutes.value == pytest.approx(3.0)
    assert out.by_type["follow-up"].mean_minutes.value == pytest.approx(6.0)


def test_a_clinician_without_control_cases_gets_no_saving_not_an_assumed_one():
    cases = arms(CONTROL, SCRIBE, clinician="dr-a") + [timed("x", 5.0, clinician="dr-c")]
    out = minutes_saved(cases, assumed_baseline_minutes=9.0)
    c = out.by_clinician["dr-c"]
    assert c.baseline == "measured" and c.mean_minutes.value is None and c.n_control == 0
    assert "control arm has 0 cases with a documentation time (< 5): too few to judge" in c.warnings


def test_errors_missing_times_and_rejected_drafts_are_left_out():
    cases = [
        *arms(CONTROL, SCRIBE),
        timed("err", 60.0, error="review not found"),
        timed("untimed", None),
        timed("rej", 30.0, rejected=True),
    ]
    out = minutes_saved(cases)
    assert (out.n_scribe, out.n_control) == (7, 7)
    assert out.mean_minutes.value == pytest.approx(3.0)
    assert out.warnings == [
        "1 scribe drafts were rejected and are left out of documentation time, which may flatter the saving"
    ]


def test_bad_assumed_baseline_says_what_to_enter():
    with pytest.raises(ValueError, match="positive number of minutes per note"):
        minutes_saved([], assumed_baseline_minutes=0)


def test_deterministic_by_seed():
    cases = arms(CONTROL, SCRIBE)
    assert minutes_saved(cases, seed=1) == minutes_saved(cases, seed=1)
    assert minutes_saved(cases, seed=1).mean_minutes != minutes_saved(cases, seed=2).mean_minutes


def test_savings_round_trip_through_json():
    from scribe.evaluate.savings import Savings

    out = minutes_saved(arms([10.0, 10.0], [7.0, 7.0], clinician="dr-a"))
    assert Savings.model_validate_json(out.model_dump_json()) == out
