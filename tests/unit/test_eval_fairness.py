"""Tests for scribe.evaluate.fairness on a hand-built set of cases: subgroup means, the too-few
warning and its exclusion from the gap, the gap worked out by hand, and which pairs are skipped."""

from __future__ import annotations

import pytest

from scribe.evaluate.fairness import METRICS, Metric, attributes, breakdown, breakdowns
from scribe.evaluate.results import CaseResult, NoteScores, SpeechScores, TimeScores

# (case, gender, age band, WER). Female: 8 cases, mean 1.5 / 8 = 0.1875. Male: 3 cases (too few).
# Young: 0.1 + 0.2 + 0.1 + 0.9 + 0.8 = 2.1 over 5 = 0.42. Old: 0.2 + 0.1 + 0.2 + 0.3 + 0.3 + 0.7 = 1.8 over 6 = 0.30.
TABLE = [
    ("f1", "female", "young", 0.1),
    ("f2", "female", "young", 0.2),
    ("f3", "female", "young", 0.1),
    ("f4", "female", "old", 0.2),
    ("f5", "female", "old", 0.1),
    ("f6", "female", "old", 0.2),
    ("f7", "female", "old", 0.3),
    ("f8", "female", "old", 0.3),
    ("m1", "male", "young", 0.9),
    ("m2", "male", "young", 0.8),
    ("m3", "male", "old", 0.7),
]


def case(case_id: str, subgroups: dict[str, str], wer: float | None, **fields: object) -> CaseResult:
    speech = None
    if wer is not None:
        speech = SpeechScores(reference_words=10, word_errors=round(wer * 10), wer=wer, attribution_accuracy=1 - wer)
    return CaseResult(
        case_id=case_id, dataset="hand", synthetic_audio=True, subgroups=subgroups, speech=speech, **fields
    )


@pytest.fixture
def cases() -> list[CaseResult]:
    built = [
        case(cid, {"gender": g, "age_band": a}, w, clinician="dr-a" if cid.startswith("f") else "")
        for cid, g, a, w in TABLE
    ]
    # Left out: a case that failed (its WER of 0 would move the female mean) and a case without audio.
    built.append(case("err", {"gender": "female", "age_band": "old"}, 0.0, error="audio missing"))
    built.append(case("noaudio", {"gender": "female", "age_band": "old"}, None))
    return built


def metric(name: str) -> Metric:
    return next(m for m in METRICS if m.name == name)


def test_metrics_are_the_standard_per_case_metrics():
    assert [m.name for m in METRICS] == [
        "wer",
        "medical_term_wer",
        "attribution_accuracy",
        "hallucinated_segment_rate",
        "real_time_factor",
        "rouge1",
        "rouge2",
        "rougeL",
        "fact_precision",
        "fact_recall",
        "unsupported_rate",
        "omission_rate",
        "letter_grade",
        "time_to_draft_seconds",
        "documentation_minutes",
        "share_edited",
    ]
    better = {m.name for m in METRICS if m.higher_is_better}
    assert better == {"attribution_accuracy", "rouge1", "rouge2", "rougeL", "fact_precision", "fact_recall"}
    assert all(m.label for m in METRICS)


def test_attributes_lists_subgroup_keys_then_clinician(cases):
    assert attributes(cases) == ["age_band", "gender", "clinician"]
    typed = [*cases, case("t", {}, 0.1, consultation_type="follow-up")]
    assert attributes(typed) == ["age_band", "gender", "consultation_type", "clinician"]
    # A key only an errored case carries is not an attribute.
    assert attributes([case("e", {"voice": "joe"}, 0.1, error="x")]) == []


def test_small_subgroup_is_warned_about_and_kept_out_of_the_gap(cases):
    out = breakdown(cases, metric("wer"), "gender")
    assert [(r.group, r.estimate.n, r.too_few) for r in out.rows] == [("female", 8, False), ("male", 3, True)]
    assert out.rows[0].estimate.value == pytest.approx(0.1875)
    assert out.rows[1].estimate.value == pytest.approx(0.8)  # shown, but not judged
    assert out.warnings == [
        "gender=male has 3 cases (< 5): too few to judge",
        "only one subgroup with enough cases (>= 5): no gap",
    ]
    assert (out.best, out.worst, out.gap) == (None, None, None)  # with male counted it would be 0.6125


def test_gap_between_best_and_worst_by_hand(cases):
    out = breakdown(cases, metric("wer"), "age_band")
    assert (out.metric, out.attribute, out.higher_is_better) == ("wer", "age_band", False)
    means = {r.group: r.estimate.value for r in out.rows}
    assert means == {"old": pytest.approx(0.30), "young": pytest.approx(0.42)}
    assert (out.best, out.worst) == ("old", "young")  # lower WER is better
    assert out.gap == pytest.approx(0.12)
    assert out.warnings == []
    for row in out.rows:
        assert row.estimate.low <= row.estimate.value <= row.estimate.high


def test_higher_is_better_flips_best_and_worst(cases):
    out = breakdown(cases, metric("attribution_accuracy"), "age_band")  # 1 - WER per case
    assert (out.best, out.worst) == ("old", "young")
    assert out.gap == pytest.approx(0.12)
    custom = Metric(
        "neg", lambda c: None if c.speech is None else c.speech.wer, True, "WER read as if higher is better"
    )
    flipped = breakdown(cases, custom, "age_band")
    assert (flipped.best, flipped.worst) == ("young", "old")


def test_min_n_and_cases_without_the_attribute(cases):
    out = breakdown(cases, metric("wer"), "gender", min_n=3)
    assert (out.best, out.worst) == ("female", "male") and out.gap == pytest.approx(0.8 - 0.1875)
    by_clinician = breakdown(cases, metric("wer"), "clinician")
    assert [(r.group, r.estimate.n) for r in by_clinician.rows] == [("dr-a", 8)]
    assert "3 cases with a wer value carry no clinician: left out" in by_clinician.warnings
    none = breakdown(cases, metric("wer"), "gender", min_n=20)
    assert none.warnings[-1] == "no subgroup has enough cases (>= 20): no gap" and none.gap is None


def test_same_seed_same_rows(cases):
    assert breakdown(cases, metric("wer"), "age_band", seed=3) == breakdown(cases, metric("wer"), "age_band", seed=3)


def test_breakdowns_skip_pairs_without_values(cases):
    note_case = case("n1", {"gender": "female"}, None, note=NoteScores(rouge1=40.0))
    out = breakdowns([*cases, note_case])
    pairs = [(b.metric, b.attribute) for b in out]
    assert pairs == [
        ("wer", "age_band"),
        ("wer", "gender"),
        ("wer", "clinician"),
        ("attribution_accuracy", "age_band"),
        ("attribution_accuracy", "gender"),
        ("attribution_accuracy", "clinician"),
        ("rouge1", "gender"),
    ]
    assert breakdowns(cases, [metric("rouge1")]) == []


def test_documentation_minutes_counts_only_the_scribe_arm():
    timed = [
        case("s", {"gender": "female"}, None, time=TimeScores(arm="scribe", documentation_seconds=120)),
        case("c", {"gender": "female"}, None, time=TimeScores(arm="control", documentation_seconds=600)),
        case("r", {"gender": "female"}, None, time=TimeScores(documentation_seconds=60, rejected=True)),
    ]
    out = breakdown(timed, metric("documentation_minutes"), "gender", min_n=1)
    assert [(r.group, r.estimate.value, r.estimate.n) for r in out.rows] == [("female", 2.0, 1)]
