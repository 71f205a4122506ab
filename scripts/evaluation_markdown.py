#!/usr/bin/env python3
"""Turn `scribe evaluate` output folders into the committed summary ``docs/benchmarks/evaluation.md``.

Each folder's ``summary.json`` (every statistic) and ``run.json`` (configuration, models, machine)
become one section: the command that produced it, the headline table with 95% intervals and n,
the cost per consultation, the fairness gaps and warnings, and the caveats the report states.

Usage::

    .venv/bin/python scripts/evaluation_markdown.py \\
        --run ".cache/eval/primock57=scribe evaluate --dataset primock57 --limit 3 --out .cache/eval/primock57" \\
        --run ".cache/eval/aci-bench=scribe evaluate --dataset aci-bench --limit 3 --out .cache/eval/aci-bench" \\
        --out docs/benchmarks/evaluation.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from scribe.evaluate.report import Summary
from scribe.evaluate.results import EvaluationRun
from scribe.evaluate.stats import Estimate
from scribe.fileio import write_text_atomic


def _number(value: float | None, name: str) -> str:
    if value is None:
        return "n/a"
    if any(word in name for word in ("rouge",)):
        return f"{value:.1f}"
    if any(word in name for word in ("seconds", "minutes", "grade", "factor", "ease")):
        return f"{value:.2f}"
    return f"{value:.3f}"


def _estimate(e: Estimate, name: str) -> tuple[str, str]:
    interval = f"{_number(e.low, name)} to {_number(e.high, name)}" if e.low is not None else "n/a (n < 2)"
    return _number(e.value, name), interval


def section(folder: Path, command: str) -> list[str]:
    """The Markdown of one evaluation output folder."""
    summary = Summary.model_validate_json((folder / "summary.json").read_text(encoding="utf-8"))
    run = EvaluationRun.model_validate_json((folder / "run.json").read_text(encoding="utf-8"))
    machine = run.machine
    lines = [
        f"## {summary.dataset}",
        "",
        f"Command: `{command}`",
        "",
        f"{summary.n_evaluated} consultations evaluated of {summary.n_cases} run ({summary.n_failed} failed); "
        f"{summary.n_with_audio} with audio, **{summary.n_synthetic_audio} of them SYNTHETIC** (text-to-speech). "
        f"Models: {', '.join(f'{k}: {v}' for k, v in run.models.items())}. Machine: {machine.get('cpu', '?')}, "
        f"{machine.get('cpu_cores', '?')} cores, CUDA devices {machine.get('cuda_devices', 0)}; "
        f"started {summary.started_at:%Y-%m-%d %H:%M} UTC.",
        "",
        "| metric | value | 95% interval | n | how |",
        "|---|---|---|---|---|",
    ]
    for row in summary.headline:
        value, interval = _estimate(row.estimate, row.name)
        lines.append(f"| {row.label} | {value} | {interval} | {row.estimate.n} | {row.how} |")
    if summary.cost is not None:
        c = summary.cost
        lines += [
            "",
            f"Compute per consultation (mean over {summary.cost_n}): {c.cpu_seconds:.0f} CPU s, "
            f"{c.gpu_seconds:.0f} GPU s, "
            f"{c.wall_seconds:.0f} s wall, peak {c.peak_rss_mb or 0:.0f} MB; estimated {c.energy_wh:.2f} Wh, "
            f"{c.total_cost:.5f} {c.currency}, {c.carbon_g:.2f} g CO2e at the default (placeholder) prices.",
        ]
        if summary.cost_by_stage:
            stages = ", ".join(f"{name} {s.wall_seconds:.0f} s" for name, s in summary.cost_by_stage.items())
            lines.append(f"By stage (wall, mean): {stages}.")
    savings = summary.savings
    lines += ["", f"Minutes saved per patient: baseline {savings.baseline.upper()}: {savings.label}"]
    gaps = [b for b in summary.breakdowns if b.gap is not None]
    if gaps:
        lines += ["", "Fairness gaps (best minus worst subgroup with enough cases):", ""]
        lines += [f"- {b.metric} by {b.attribute}: {b.gap:.3f} ({b.best} vs {b.worst})" for b in gaps]
    warnings = sorted({w for b in summary.breakdowns for w in b.warnings})
    if warnings:
        lines += ["", "Subgroup warnings:", "", *[f"- {w}" for w in warnings[:12]]]
        if len(warnings) > 12:
            lines.append(f"- ... and {len(warnings) - 12} more (see summary.json)")
    lines += ["", "What these numbers rest on:", "", *[f"- {c}" for c in summary.caveats]]
    lines += ["", "What they do not show:", "", *[f"- {c}" for c in summary.not_shown], ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="FOLDER=COMMAND that produced it")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/evaluation.md"))
    parser.add_argument("--intro", default="", help="A paragraph placed under the title.")
    args = parser.parse_args(argv)
    lines = ["# Evaluation benchmark", ""]
    if args.intro:
        lines += [args.intro, ""]
    data: dict[str, Any] = {}
    for item in args.run:
        folder, _, command = item.partition("=")
        path = Path(folder)
        if not (path / "summary.json").is_file():
            print(f"{path / 'summary.json'} not found: run scribe evaluate first", file=sys.stderr)
            return 2
        lines += section(path, command)
        data[folder] = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    write_text_atomic(args.out, "\n".join(lines))
    write_text_atomic(args.out.with_suffix(".json"), json.dumps(data, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
