"""`scribe transparency` in a subprocess: the three files, the organisation option, exit 2 on a bad evaluation file."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli_runner import scribe

from scribe.evaluate.results import CaseResult, EvaluationRun, SpeechScores
from scribe.evaluate.transparency import TO_COMPLETE


def run_file(tmp_path: Path) -> Path:
    run = EvaluationRun(
        dataset="cli-check",
        cases=[
            CaseResult(
                case_id=str(i),
                dataset="cli-check",
                synthetic_audio=True,
                speech=SpeechScores(reference_words=50, word_errors=errors, wer=errors / 50),
            )
            for i, errors in enumerate((5, 10))
        ],
    )
    path = tmp_path / "run.json"
    path.write_text(run.model_dump_json())
    return path


def test_writes_the_record_the_markdown_and_the_model_card(tmp_path):
    out = tmp_path / "published"
    result = scribe(
        "transparency",
        "--out",
        str(out),
        "--organisation",
        "NHS Example Trust",
        "--evaluation",
        str(run_file(tmp_path)),
        tmp_path=tmp_path,
        env={"SCRIBE_TRANSPARENCY_SRO": "Chief Clinical Information Officer", "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["atrs.json", "atrs.md", "model-card.md"]
    data = json.loads((out / "atrs.json").read_text())
    owner = data["tier2"]["owner_and_responsibility"]
    assert owner["organisation"] == "NHS Example Trust"
    assert owner["senior_responsible_owner"] == "Chief Clinical Information Officer"
    asr = data["tier2"]["tool_specification"]["model_specifications"][0]
    # WER 10 % and 20 %: mean 15 %, two consultations, both synthetic.
    assert "Word error rate: 15.0 % (95% CI" in asr["model_performance"] and "n=2)" in asr["model_performance"]
    assert "Audio is SYNTHETIC for 2 of 2 consultations" in asr["model_performance"]
    assert TO_COMPLETE in (out / "atrs.md").read_text()
    assert f"{len(data['metadata']['fields_to_complete'])} fields of atrs.json are marked" in result.stderr
    assert "## Quantitative analyses" in (out / "model-card.md").read_text()


def test_a_malformed_evaluation_file_exits_2(tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text('{"dataset": "x", "cases": [{"case_id": 1}]}')
    result = scribe("transparency", "--out", str(tmp_path / "out"), "--evaluation", str(bad), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "is not an evaluation run" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_evaluation_file_exits_2(tmp_path):
    result = scribe(
        "transparency", "--evaluation", str(tmp_path / "nowhere.json"), "--out", str(tmp_path), tmp_path=tmp_path
    )
    assert result.returncode == 2
    assert "not found" in result.stderr
