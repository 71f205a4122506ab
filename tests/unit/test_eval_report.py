"""The evaluation report: HTML with no outside resources, summary JSON, one CSV row per case, the run itself."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scribe.evaluate.cost import Prices
from scribe.evaluate.report import Summary, cases_csv, flags_by_week, summarise, write_report
from scribe.evaluate.results import (
    CaseResult,
    EvaluationRun,
    FactScore,
    NoteScores,
    SpeechScores,
    StageCost,
    TimeScores,
)

# Six scribe-arm cases (three female, three male), one failed case, three control-arm cases.
_WORDS = [10, 10, 10, 20, 10, 10]
_ERRORS = [1, 2, 3, 0, 1, 2]  # per-case WER 0.1 0.2 0.3 0.0 0.1 0.2; mean 0.15; pooled 9/70
_GENDER = ["female", "female", "female", "male", "male", "male"]
_MED = [(2, 0, 1), (1, 1, 0), (3, 0, 0), (0, 0, 2), (1, 0, 1), (2, 1, 0)]  # tp, fp, fn
_REVIEW_S = [240, 300, 360, 240, 300, 360]  # 4, 5, 6 minutes twice: mean 5
_CONTROL_S = [600, 660, 540]  # 10, 11, 9 minutes: mean 10
_SHARE = [0.1, 0.2, 0.0, 0.4, 0.3, 0.05]
_WEEKS = [
    datetime(2026, 3, 2, 9, tzinfo=UTC),
    datetime(2026, 3, 4, 9, tzinfo=UTC),
    datetime(2026, 3, 10, 9, tzinfo=UTC),
]


def _scribe_case(i: int, *, speech: bool = True, dated: bool = False) -> CaseResult:
    tp, fp, fn = _MED[i]
    return CaseResult(
        case_id=f"c{i + 1}",
        dataset="primock57",
        synthetic_audio=True,
        has_audio=speech,
        consultation_type="gp" if i % 2 == 0 else "follow-up",
        clinician="clinician-1" if i < 3 else "clinician-2",
        subgroups={"gender": _GENDER[i], "voice": "piper-a"},
        consulted_at=_WEEKS[i % 3] if dated else None,
        speech=SpeechScores(reference_words=_WORDS[i], word_errors=_ERRORS[i], wer=_ERRORS[i] / _WORDS[i])
        if speech
        else None,
        note=NoteScores(
            rouge1=0.5,
            facts={"medication": FactScore(tp=tp, fp=fp, fn=fn, recall=tp / (tp + fn) if tp + fn else None)},
            statements=10,
            unsupported=i % 2,
            unsupported_rate=(i % 2) / 10,
            omissions=1 if i == 0 else 0,
        ),
        time=TimeScores(
            arm="scribe",
            reviewed=True,
            time_to_draft_seconds=20.0 + i,
            documentation_seconds=_REVIEW_S[i],
            share_edited=_SHARE[i],
        ),
        costs=[
            StageCost(stage="transcribe", wall_seconds=30, cpu_seconds=36, peak_rss_mb=500.0 + i),
            StageCost(stage="draft", wall_seconds=60, cpu_seconds=72, peak_rss_mb=1500.0),
        ],
    )


def _control_case(i: int) -> CaseResult:
    return CaseResult(
        case_id=f"k{i + 1}",
        dataset="primock57",
        synthetic_audio=False,
        clinician="clinician-1",
        consultation_type="gp",
        time=TimeScores(arm="control", documentation_seconds=_CONTROL_S[i]),
    )


def _run(*, speech: bool = True, control: bool = True, assumed: float | None = None, dated: bool = False):
    cases = [_scribe_case(i, speech=speech, dated=dated) for i in range(6)]
    cases.append(
        CaseResult(case_id="bad", dataset="primock57", synthetic_audio=True, error="audio <could not> be decoded")
    )
    if control:
        cases += [_control_case(i) for i in range(3)]
    return EvaluationRun(
        dataset="primock57",
        started_at=datetime(2026, 3, 12, 10, 30, tzinfo=UTC),
        config={"asr_model": "whisper-base", "llm": {"model": "qwen", "temperature": 0.0}},
        models={"asr": "whisper-base 1.0.0 sha256:ab12", "llm": "qwen2.5-1.5b-q4 sha256:cd34"},
        machine={"cpu": "test cpu", "cores": 2},
        assumed_baseline_minutes=assumed,
        cases=cases,
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _images(html: str) -> dict[str, str]:
    """id of each figure -> alt text of its image."""
    found = re.findall(r'<figure id="([^"]+)">\s*<img src="data:image/png;base64,[^"]+" alt="([^"]*)">', html)
    return dict(found)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("report")
    run = _run(dated=True)
    return out, write_report(run, out, min_n=2)


def test_files_exist_and_html_is_self_contained(written) -> None:
    out, files = written
    for path in (files.html, files.summary, files.cases, files.run):
        assert path.parent == out and path.is_file() and path.stat().st_size > 0
    html = files.html.read_text("utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert '<html lang="en">' in html
    assert "SYNTHETIC for 7 of 10 consultations" in html
    assert "Small sample: only 9 consultations" in html
    # the failed case is escaped, listed and counted
    assert "audio &lt;could not&gt; be decoded" in html and "<could not>" not in html
    assert "10 consultations: 9 evaluated, 1 failed, 3 of them in the control arm" in html


def test_every_plot_has_alt_text_and_a_real_png(written) -> None:
    _, files = written
    html = files.html.read_text("utf-8")
    images = _images(html)
    assert set(images) == {
        "wer-gender",
        "wer-voice",
        "wer-consultation_type",
        "wer-clinician",
        "edit-effort",
        "time-to-draft",
        "minutes-saved",
        "flags-over-time",
    }
    assert images["wer-gender"].startswith("Bar chart of mean word error rate by gender: female 0.2 (95% CI")
    assert "male 0.1 (95% CI" in images["wer-gender"]
    assert images["edit-effort"].startswith("Histogram of share of the draft edited over 6 consultations: median 0.15")
    assert "overall 5 (95% CI" in images["minutes-saved"]
    assert images["flags-over-time"].startswith("Line chart of flags over time (share per week): week of 2026-03-02:")
    for alt in images.values():
        assert len(alt) > 40
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG\r\n\x1a\n")


def test_headline_numbers_are_hand_computed(written) -> None:
    _, files = written
    summary = Summary.model_validate_json(files.summary.read_text("utf-8"))
    rows = {row.name: row for row in summary.headline}
    assert rows["wer"].estimate.value == pytest.approx(0.15)
    assert rows["wer"].estimate.n == 6
    assert rows["wer.pooled"].estimate.value == pytest.approx(9 / 70)
    assert rows["wer.pooled"].how == "pooled: word errors / reference words"
    # medication: tp 9, fn 4 over six cases
    assert rows["fact_recall.medication"].estimate.value == pytest.approx(9 / 13)
    # unsupported: 3 of 60 statements; omissions 1 of 61
    assert rows["unsupported_rate.pooled"].estimate.value == pytest.approx(3 / 60)
    assert rows["documentation_minutes.scribe"].estimate.value == pytest.approx(5.0)
    assert rows["documentation_minutes.control"].estimate.value == pytest.approx(10.0)
    assert rows["minutes_saved.mean"].estimate.value == pytest.approx(5.0)
    assert rows["rejected_rate"].estimate.value == 0.0
    assert "documentation_minutes" not in rows  # shown per arm, not as one mixed mean
    assert summary.n_cases == 10 and summary.n_evaluated == 9 and summary.n_failed == 1 and summary.n_control == 3
    assert summary.failures == {"bad": "audio <could not> be decoded"}
    assert summary.savings.baseline == "measured"


def test_cost_per_consultation_and_stage(written) -> None:
    _, files = written
    summary = Summary.model_validate_json(files.summary.read_text("utf-8"))
    cost = summary.cost
    assert cost is not None and summary.cost_n == 6
    # 108 CPU-seconds at 10 W per core = 0.3 Wh; 0.3 Wh at 150 g/kWh = 0.045 g; at 0.25 GBP/kWh = 0.000075 GBP
    assert cost.cpu_seconds == pytest.approx(108)
    assert cost.energy_wh == pytest.approx(0.3)
    assert cost.carbon_g == pytest.approx(0.045)
    assert cost.total_cost == pytest.approx(0.000075)
    assert cost.peak_rss_mb == 1500.0
    assert list(summary.cost_by_stage) == ["transcribe", "draft"]
    assert summary.cost_by_stage["transcribe"].energy_wh == pytest.approx(0.1)
    assert summary.cost_by_stage["transcribe"].peak_rss_mb == 505.0  # highest of 500..505
    html = files.html.read_text("utf-8")
    assert "electricity at 0.25 GBP per kWh" in html


def test_summary_json_round_trips(written) -> None:
    _, files = written
    text = files.summary.read_text("utf-8")
    summary = Summary.model_validate_json(text)
    assert Summary.model_validate_json(summary.model_dump_json()) == summary
    assert summary == summarise(_run(dated=True), min_n=2)


def test_run_json_is_the_run(written) -> None:
    _, files = written
    run = EvaluationRun.model_validate_json(files.run.read_text("utf-8"))
    assert run == _run(dated=True)
    html = files.html.read_text("utf-8")
    assert "qwen2.5-1.5b-q4 sha256:cd34" in html
    assert "{&#34;model&#34;: &#34;qwen&#34;, &#34;temperature&#34;: 0.0}" in html  # nested config, escaped


def test_csv_has_one_row_per_case_with_flattened_scalars(written) -> None:
    _, files = written
    text = files.cases.read_text("utf-8")
    rows = _rows(text)
    assert [row["case_id"] for row in rows] == ["c1", "c2", "c3", "c4", "c5", "c6", "bad", "k1", "k2", "k3"]
    header = text.splitlines()[0].split(",")
    for column in (
        "speech.wer",
        "speech.word_errors",
        "note.facts.medication.recall",
        "note.facts.medication.tp",
        "subgroups.gender",
        "subgroups.voice",
        "time.arm",
        "time.documentation_seconds",
        "costs.transcribe.cpu_seconds",
        "costs.draft.peak_rss_mb",
        "cost.energy_wh",
        "error",
    ):
        assert column in header
    first, bad, control = rows[0], rows[6], rows[7]
    assert first["speech.wer"] == "0.1"
    assert first["speech.word_errors"] == "1"
    assert float(first["note.facts.medication.recall"]) == pytest.approx(2 / 3)
    assert first["subgroups.gender"] == "female"
    assert first["synthetic_audio"] == "true"
    assert first["consulted_at"] == "2026-03-02T09:00:00+00:00"
    assert first["costs.transcribe.cpu_seconds"] == "36.0"
    assert float(first["cost.energy_wh"]) == pytest.approx(0.3)
    assert bad["error"] == "audio <could not> be decoded" and bad["speech.wer"] == ""
    assert control["time.arm"] == "control" and control["time.documentation_seconds"] == "600.0"
    assert control["note.facts.medication.recall"] == "" and control["cost.energy_wh"] == ""


def test_assumed_baseline_label_appears_verbatim(tmp_path: Path) -> None:
    files = write_report(_run(control=False, assumed=8.0), tmp_path, min_n=2)
    summary = Summary.model_validate_json(files.summary.read_text("utf-8"))
    assert summary.savings.baseline == "assumed"
    label = summary.savings.label
    assert label.startswith("ASSUMED baseline of 8.0 min per note")
    html = files.html.read_text("utf-8")
    assert label in html
    assert "Time-saved baseline: ASSUMED." in html
    assert "Minutes saved per patient (mean), ASSUMED baseline" in html
    rows = {row.name: row for row in summary.headline}
    assert rows["minutes_saved.mean"].estimate.value == pytest.approx(3.0)  # 8 - 5
    assert rows["minutes_saved.mean"].label == "Minutes saved per patient (ASSUMED baseline)"


def test_no_speech_results_render_without_a_wer_plot_and_say_why(tmp_path: Path) -> None:
    files = write_report(_run(speech=False, control=False), tmp_path, min_n=2)
    html = files.html.read_text("utf-8")
    images = _images(html)
    assert not any(key.startswith("wer") for key in images)
    assert "edit-effort" in images
    assert "No consultation has speech results" in html
    assert "No consultation had audio: speech recognition was not evaluated." in html
    # no baseline and no dates: said in words instead of empty axes
    assert "minutes-saved" not in images and "No minutes-saved figure" in html
    assert "flags-over-time" not in images and "The consultations carry no dates" in html
    assert "Time-saved baseline: NONE." in html


def test_flags_by_week_are_counted_per_monday() -> None:
    cases = [_scribe_case(i, dated=True) for i in range(6)] + [_control_case(0)]
    weeks = flags_by_week(cases)
    # cases 0,3 on Mon 2 March; 1,4 on Wed 4 March (same week); 2,5 on Tue 10 March
    assert [week.week.isoformat() for week in weeks] == ["2026-03-02", "2026-03-09"]
    first, second = weeks
    assert first.cases == 4 and first.statements == 40
    assert first.unsupported == 2  # cases 1 and 3
    assert first.omissions == 1 and first.omission_rate == pytest.approx(1 / 41)
    assert second.cases == 2 and second.unsupported == 1 and second.unsupported_rate == pytest.approx(0.05)


def test_rejections_count_only_drafts_a_clinician_reviewed() -> None:
    offline = [_scribe_case(i) for i in range(6)]
    for case in offline:
        assert case.time is not None
        case.time = TimeScores(time_to_draft_seconds=case.time.time_to_draft_seconds)  # a dataset run: no review
    summary = summarise(EvaluationRun(dataset="primock57", started_at=datetime(2026, 3, 12, tzinfo=UTC), cases=offline))
    assert "rejected_rate" not in {row.name for row in summary.headline}, "no review, so no rejection rate of 0"
    assert any(c.startswith("Time to draft here is one consultation at a time") for c in summary.caveats)
    reviewed = [_scribe_case(i, dated=True) for i in range(6)]
    reviewed[0].time.rejected = True  # type: ignore[union-attr]
    reviewed[1].time.reviewed = False  # type: ignore[union-attr]  # drafted, not yet approved or rejected
    rows = {row.name: row for row in summarise(_run().model_copy(update={"cases": reviewed})).headline}
    assert rows["rejected_rate"].estimate.value == pytest.approx(1 / 5) and rows["rejected_rate"].estimate.n == 5
    first_week = flags_by_week(reviewed)[0]  # cases 0, 1, 3, 4; case 1 not reviewed
    assert first_week.rejected == 1 and first_week.rejected_rate == pytest.approx(1 / 3)


def test_csv_of_cases_without_costs_has_no_cost_columns() -> None:
    cases = [_control_case(0)]
    header = cases_csv(cases, Prices()).splitlines()[0].split(",")
    assert "cost.energy_wh" not in header
    assert header[:3] == ["case_id", "dataset", "synthetic_audio"]
