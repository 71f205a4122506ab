"""One minutes-saved figure everywhere: the report's summary, the committed Markdown, the ATRS record, the model card.

A rejected scribe draft is left out of documentation time (the report always did this; the ATRS
record once computed its own figure with the rejected draft in it and disagreed with the report).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.script_loader import load_script

from scribe.config import Settings
from scribe.evaluate.report import Summary, write_report
from scribe.evaluate.results import CaseResult, EvaluationRun, TimeScores
from scribe.evaluate.transparency import build_record, render_atrs_markdown, render_model_card


def _case(case_id: str, minutes: float, *, arm: str = "scribe", rejected: bool = False) -> CaseResult:
    return CaseResult(
        case_id=case_id,
        dataset="site",
        synthetic_audio=False,
        time=TimeScores(arm=arm, documentation_seconds=minutes * 60, reviewed=True, rejected=rejected),
    )


ASSUMED = EvaluationRun(
    dataset="site",
    assumed_baseline_minutes=6,
    # Four reviewed drafts (2, 3, 4, 3 min: mean 3) and one rejected after 25 min, which must not count.
    cases=[_case("1", 2), _case("2", 3), _case("3", 4), _case("4", 3), _case("5", 25, rejected=True)],
)
MEASURED = EvaluationRun(
    dataset="site",
    # Scribe 2 and 4 min (mean 3), one rejected after 20 min; control arm 6 and 7 min (mean 6.5).
    cases=[
        _case("1", 2),
        _case("2", 4),
        _case("3", 20, rejected=True),
        _case("4", 6, arm="control"),
        _case("5", 7, arm="control"),
    ],
)


@pytest.mark.parametrize(
    ("run", "saved", "drafts", "label"), [(ASSUMED, 3.0, 4, "ASSUMED"), (MEASURED, 3.5, 2, "measured")]
)
def test_report_markdown_and_atrs_state_the_same_minutes_saved(
    tmp_path: Path, run: EvaluationRun, saved: float, drafts: int, label: str
) -> None:
    out = tmp_path / "eval"
    write_report(run, out)
    summary = Summary.model_validate_json((out / "summary.json").read_text(encoding="utf-8"))
    estimate = summary.savings.mean_minutes
    assert estimate is not None and estimate.value == pytest.approx(saved)
    assert summary.savings.n_scribe == drafts  # the rejected draft is left out

    markdown = "\n".join(load_script("evaluation_markdown").section(out, "scribe evaluate"))
    row = next(line for line in markdown.splitlines() if line.startswith("| Minutes saved per patient"))
    assert row.split(" | ")[1] == f"{saved:.2f}"
    assert row.split(" | ")[2] == f"{estimate.low:.2f} to {estimate.high:.2f}"

    record = build_record(Settings(data_dir=tmp_path / "data"), run)
    stated = f"{saved:.1f} min (95% CI {estimate.low:.1f} to {estimate.high:.1f}; n={estimate.n})"
    assert (
        f"Minutes saved per consultation ({label} baseline): {stated}" in record.tier2.description_and_rationale.benefit
    )
    assessment = record.tier2.risks_mitigations_and_impact_assessments.impact_assessments[-1]
    assert stated in assessment.assessment_description
    assert stated in render_atrs_markdown(record)
    card = render_model_card(record)
    assert f"| Minutes saved per consultation ({label} baseline) | {stated} |" in card
    everything = "\n".join([markdown, render_atrs_markdown(record), card])
    figures = {
        float(x) for x in re.findall(r"Minutes saved per (?:patient|consultation)[^|:]*[|:] (-?[\d.]+)", everything)
    }
    assert figures == {saved}, "one minutes-saved figure in every output"
