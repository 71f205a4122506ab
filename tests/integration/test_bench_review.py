"""scripts/bench_review.py end to end on a small scale: a real server, real clients, the JSON and table it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers.script_loader import SCRIPTS, load_script

bench = load_script("bench_review")


def test_synthetic_consultation_spans_the_minutes_and_cites_real_segments() -> None:
    transcript = bench.synthetic_transcript(5)
    assert 240 <= transcript.segments[-1].end <= 300
    assert [s.id for s in transcript.segments] == list(range(len(transcript.segments)))
    note = bench.synthetic_note(transcript)
    ids = {s.id for s in transcript.segments}
    statements = [st for sec in note.sections for st in sec.statements]
    assert statements and all(set(st.evidence) <= ids for st in statements)
    assert any(st.supported is False for st in statements)


def test_small_run_writes_json_and_markdown_without_errors(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_review.py"), "--minutes", "5", "--renders", "3",
         "--clinicians", "2", "--seconds", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads((tmp_path / "review.json").read_text())
    assert result["errors"] == 0 and result["render"]["n"] == 3
    assert set(result["load"]) == {"list", "review", "edit-form", "edit", "heartbeat"}
    assert "SYNTHETIC" in (tmp_path / "review.md").read_text()
