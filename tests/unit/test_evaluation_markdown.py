"""scripts/evaluation_markdown.py: a `scribe evaluate` output folder becomes the committed Markdown summary."""

from __future__ import annotations

from pathlib import Path

from helpers.script_loader import load_script

from scribe.evaluate.report import write_report
from scribe.evaluate.results import CaseResult, EvaluationRun, NoteScores, SpeechScores, StageCost


def _case(i: int, errors: int) -> CaseResult:
    return CaseResult(
        case_id=f"c{i}",
        dataset="primock57",
        synthetic_audio=True,
        has_audio=True,
        subgroups={"patient_voice": "espeak-ng en-gb+f3"},
        speech=SpeechScores(reference_words=10, word_errors=errors, wer=errors / 10),
        note=NoteScores(statements=4, unsupported=1, unsupported_rate=0.25),
        costs=[StageCost(stage="transcribe", wall_seconds=10, cpu_seconds=18, peak_rss_mb=500)],
    )


def test_summary_markdown_from_an_output_folder(tmp_path: Path) -> None:
    run = EvaluationRun(
        dataset="primock57",
        models={"speech recognition": "whisper-base"},
        machine={"cpu": "Test CPU", "cpu_cores": 2},
        cases=[_case(1, 1), _case(2, 3)],  # WER 0.1 and 0.3: mean 0.2, pooled 4/20
    )
    out = tmp_path / "eval"
    write_report(run, out)
    markdown = tmp_path / "evaluation.md"
    script = load_script("evaluation_markdown")
    assert script.main(["--run", f"{out}=scribe evaluate --dataset primock57 --limit 2", "--out", str(markdown)]) == 0
    text = markdown.read_text()
    assert "## primock57" in text and "`scribe evaluate --dataset primock57 --limit 2`" in text
    assert "**2 of them SYNTHETIC**" in text and "Test CPU, 2 cores" in text
    wer = next(line for line in text.splitlines() if line.startswith("| ") and "0.200" in line)
    assert "| 2 |" in wer, "the mean WER row carries its n"
    assert "18 CPU s" in text and "baseline NONE" in text
    assert markdown.with_suffix(".json").is_file()
    assert script.main(["--run", f"{tmp_path / 'missing'}=x", "--out", str(markdown)]) == 2
