"""scripts/benchkit.py, what the benchmark and demo scripts share: percentiles, verdicts, outputs, machine facts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.script_loader import load_script

kit = load_script("benchkit")


def test_percentile() -> None:
    assert kit.percentile([], 0.5) is None
    assert kit.percentile([3.0], 0.5) == 3.0
    assert kit.percentile([4.0, 1.0, 2.0], 0.5) == 2.0
    assert kit.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert kit.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)


def test_latency_summary_in_milliseconds() -> None:
    assert kit.latency_summary([0.001, 0.002, 0.003, 0.010]) == {"n": 4, "p50_ms": 2.5, "p95_ms": 8.9, "max_ms": 10.0}


def test_verdicts() -> None:
    def t(name: str, passed: bool | None) -> dict:
        return kit.target(name, "<= 1", 0.5 if passed is not None else None, passed, "0.5")

    assert kit.verdict(t("speed", True)) == "PASS"
    assert kit.verdict(t("speed", False)) == "FAIL" and kit.verdict(t("speed", False), fail="**FAIL**") == "**FAIL**"
    assert kit.verdict(t("speed", None)) == "n/a"
    assert kit.verdict(t("vocabulary helped (finding, not a target)", True)) == "yes"
    assert kit.verdict(t("vocabulary helped (finding, not a target)", False)) == "no"
    assert kit.at_most(None, 1.0) is None and kit.at_most(1.0, 1.0) is True and kit.at_most(1.1, 1.0) is False
    rows = kit.targets_markdown([t("speed", False), t("memory", None)])
    assert rows[0] == "| target | threshold | measured | result |"
    assert rows[2:] == ["| speed | <= 1 | 0.5 | **FAIL** |", "| memory | <= 1 | 0.5 | n/a |"]


def test_outputs_are_written_whole(tmp_path: Path) -> None:
    out, markdown = tmp_path / "a" / "r.json", tmp_path / "b" / "r.md"
    kit.write_outputs(out, {"x": [1]}, markdown, "# R\n", indent=1)
    assert json.loads(out.read_text()) == {"x": [1]} and out.read_text().endswith("\n")
    assert markdown.read_text() == "# R\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "r.json", "r.md"]  # no temporary files left


def test_machine_facts_report_the_packages_asked_for() -> None:
    facts = kit.machine_facts(["pytest", "no-such-distribution-here"])
    assert facts["versions"] == {"pytest": pytest.__version__, "no-such-distribution-here": None}
    assert facts["logical_cores"] == os.cpu_count() and facts["ram_gb"] > 0 and facts["cpu_model"]


def test_peak_rss_and_sampler() -> None:
    with kit.RssSampler(interval=0.01) as rss:
        block = bytearray(32 * 1024 * 1024)
    del block
    assert rss.peak > 32 * 1024 * 1024
    assert kit.peak_rss_bytes() >= rss.peak * 0.9


def test_synth_paths_name_the_renders() -> None:
    paths = kit.synth_paths(Path("d"), "c1")
    assert {k: p.name for k, p in paths.items()} == {
        "stereo": "c1_stereo.flac",
        "mono": "c1_mono.flac",
        "mono_snr10": "c1_mono_snr10.flac",
        "reference": "c1_reference.json",
    }
