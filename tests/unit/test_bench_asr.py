"""Tests for scripts/bench_asr.py on the bundled SYNTHETIC sample (tests/data/sample_*).

Real code throughout: the script runs its worker in a subprocess with the real whisper-tiny.en
model on the 45 s synthetic sample, then the JSON and the generated markdown are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.script_loader import load_script

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


bench = load_script("bench_asr")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "asr.json"
    status = bench.main(["--data", str(DATA), "--ids", "sample", "--configs", "tiny.en-int8", "--out", str(out)])
    assert status == 0
    return json.loads(out.read_text()), out.with_suffix(".md").read_text()


def test_json_has_the_expected_shape(report: tuple[dict, str]) -> None:
    data, _ = report
    assert data["synthetic"] is True and data["complete"] is True
    assert data["configs"] == ["tiny.en-int8"]
    assert data["data"]["ids"] == ["sample"] and data["data"]["n"] == 1
    assert data["data"]["total_audio_s"] == pytest.approx(45.0, abs=0.1)
    machine = data["machine"]
    for key in ("cpu_model", "logical_cores", "ram_gb", "python", "versions"):
        assert machine[key]
    assert machine["versions"]["faster-whisper"] and machine["versions"]["ctranslate2"]
    entry = data["results"]["tiny.en-int8"]
    assert entry["model"] == "whisper-tiny.en" and entry["compute_type"] == "int8" and entry["device"] == "cpu"
    assert entry["load_s"] > 0 and entry["warmup_s"] >= 0
    assert 50e6 < entry["peak_rss_bytes"] < 1.5e9
    (rec,) = entry["per_consultation"]
    assert "error" not in rec
    for key in ("wall_s", "asr_wall_s", "rtf", "rtf_asr", "wer", "errors", "ref_words", "term_hits", "attribution"):
        assert key in rec


def test_numbers_are_sane(report: tuple[dict, str]) -> None:
    data, _ = report
    s = data["results"]["tiny.en-int8"]["summary"]
    assert s["consultations"] == 1 and s["failed"] == 0
    assert 0.0 <= s["wer"] <= 1.0 and 0.0 <= s["wer_mean"] <= 1.0
    assert s["wer"] < 0.5  # tiny.en on clean TTS speech is far better than this
    assert s["rtf"] > 0 and s["rtf_asr"] > 0 and s["rtf"] >= s["rtf_asr"]
    assert 0.0 <= s["term_recall"] <= 1.0
    assert s["speaker_method"] == "channel" and s["attribution"] > 0.9  # one voice per channel
    assert s["rejected"] >= 0
    # targets that need configurations not run are n/a, not PASS or FAIL
    by_name = {t["target"]: t for t in data["targets"]}
    assert by_name["RTF whisper-base int8 batched (whole transcribe)"]["passed"] is None
    assert by_name["peak RSS, worst configuration"]["passed"] is True


def test_markdown_is_generated_and_says_synthetic(report: tuple[dict, str]) -> None:
    data, md = report
    assert "SYNTHETIC" in md.split("\n## ")[0]  # before the first section: prominent
    assert "piper" in md and "espeak-ng" in md and "CC BY 4.0" in md
    assert "shared 2-core VM" in md and "will differ" in md
    assert "| tiny.en-int8 |" in md and "## Targets" in md
    assert "1 of " in md  # the subset is stated
    assert bench.render_markdown(data) == md  # generated from the JSON alone


def test_targets_and_overhead_from_made_up_results() -> None:
    def entry(wer: float, wall: float, attr: int | None = None, latency: float | None = None) -> dict:
        rec = {
            "id": "a",
            "duration": 100.0,
            "wall_s": wall,
            "asr_wall_s": wall,
            "errors": int(wer * 100),
            "ref_words": 100,
            "wer": wer,
            "term_hits": 1,
            "term_total": 2,
            "rejected": 0,
        }
        if attr is not None:
            rec.update(attr_hits=attr, attr_total=100)
        if latency is not None:
            rec.update(latency_s=latency, slowest_feed_s=1.0)
        return {"peak_rss_bytes": int(1e9), "per_consultation": [rec], "summary": bench.summarise([rec])}

    results = {
        "base-int8": entry(0.10, 10.0, attr=96),
        "raw-faster-whisper": entry(0.11, 9.8),
        "base-int8-mono": entry(0.12, 12.0, attr=85),
        "base-int8-batched": entry(0.10, 7.0, attr=96),
        "base-int8-vocab": entry(0.09, 11.0, attr=96),
        "live": entry(0.12, 20.0, attr=90, latency=1.5),
    }
    over = bench.overhead(results)
    assert over["total"] == pytest.approx(10.0 / 9.8 - 1)
    verdict = {t["target"]: t["passed"] for t in bench.evaluate_targets(results, over)}
    assert verdict["RTF whisper-base int8 sequential (whole transcribe)"] is True  # 0.10
    assert verdict["RTF whisper-base int8 batched (whole transcribe)"] is False  # 0.07
    assert verdict["scribe overhead over raw faster-whisper (whole transcribe)"] is True  # +2%
    assert verdict["peak RSS, worst configuration"] is True
    assert verdict["live: transcript complete after stop, worst consultation"] is True
    assert verdict["speaker attribution, stereo (channel), words"] is True
    assert verdict["speaker attribution, mono (voice embeddings), words"] is False
    assert verdict["WER no worse than raw faster-whisper"] is True
    assert verdict["clinical vocabulary helped (finding, not a target)"] is True
