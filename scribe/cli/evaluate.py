"""`scribe evaluate`: measure scribe on a dataset or on this site's own reviewed consultations, and report."""

from __future__ import annotations

import logging
import platform
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scribe import __version__
from scribe.config import load_settings
from scribe.errors import ConfigError
from scribe.evaluate.cases import EvalCase, aci_bench_cases, folder_cases, primock57_cases
from scribe.evaluate.results import EvaluationRun

log = logging.getLogger(__name__)
console = Console(stderr=True)


class DatasetKind(StrEnum):
    """Where the consultations come from."""

    folder = "folder"
    primock57 = "primock57"
    aci_bench = "aci-bench"
    store = "store"


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the root app."""
    app.command("evaluate")(evaluate_command)


def machine() -> dict[str, Any]:
    """The machine the numbers come from."""
    import os

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_cores": os.cpu_count(),
        "scribe": __version__,
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    try:
        import ctranslate2

        info["cuda_devices"] = ctranslate2.get_cuda_device_count()
    except Exception:  # noqa: BLE001 - optional fact
        info["cuda_devices"] = 0
    return info


def _cases(kind: DatasetKind, path: Path | None, audio_dir: Path | None, split: str) -> list[EvalCase]:
    if kind == DatasetKind.folder:
        if path is None:
            raise ConfigError("give the folder of consultations: scribe evaluate PATH (or choose --dataset)")
        return folder_cases(path)
    if kind == DatasetKind.primock57:
        return primock57_cases(path, audio_dir)
    return aci_bench_cases(path, split)


def _select(cases: list[EvalCase], ids: str | None, limit: int | None) -> list[EvalCase]:
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        known = {c.id for c in cases}
        missing = [i for i in wanted if i not in known]
        if missing:
            raise ConfigError(f"no such case in the dataset: {', '.join(missing)}")
        cases = [c for c in cases if c.id in wanted]
    return cases[:limit] if limit else cases


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("use a date like 2026-11-01", param_hint=option) from None


def evaluate_command(
    path: Path | None = typer.Argument(
        None, help="A folder of consultations (one sub-folder each), or the dataset's folder for primock57/aci-bench."
    ),
    dataset: DatasetKind = typer.Option(
        DatasetKind.folder, "--dataset", "-d", help="folder, primock57, aci-bench (test 1), or store (this site's)."
    ),
    out: Path = typer.Option(Path("evaluation"), "--out", "-o", help="Where the report, JSON and CSV go."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N cases."),
    ids: str | None = typer.Option(None, "--ids", help="Only these case ids (comma-separated)."),
    speech: bool = typer.Option(True, "--speech/--no-speech", help="Transcribe cases that have audio."),
    notes: bool = typer.Option(True, "--notes/--no-notes", help="Draft and score notes (the slow part on a CPU)."),
    letters: bool = typer.Option(False, "--letters", help="Also draft patient letters and measure reading level."),
    template: str = typer.Option("gp", "--template", help="Note template to draft with."),
    audio_dir: Path | None = typer.Option(None, "--audio-dir", help="primock57: where its SYNTHETIC renders are."),
    split: str = typer.Option("clinicalnlp_taskB_test1", "--split", help="aci-bench: which split."),
    baseline_minutes: float | None = typer.Option(
        None,
        "--baseline-minutes",
        min=0,
        help="A site's own documentation minutes per note WITHOUT scribe; labelled ASSUMED wherever shown. "
        "Ignored when the store holds control-arm consultations (a measured baseline).",
    ),
    since: str | None = typer.Option(None, "--since", help="store: consultations created on or after this date."),
    until: str | None = typer.Option(None, "--until", help="store: consultations created before this date."),
    min_n: int = typer.Option(5, "--min-n", min=1, help="Fewer cases than this in a subgroup: too few to judge."),
    restart: bool = typer.Option(False, "--restart", help="Discard a previous run in --out instead of resuming it."),
) -> None:
    """Measure scribe on a dataset or this site's reviewed consultations, by subgroup, with 95% intervals.

    Speech: WER, clinical-term errors, speaker attribution, invented segments, real-time factor.

    Notes: ROUGE, facts, unsupported and omitted content, letter reading level.

    Time: to draft, review, edit effort, minutes saved per patient; and compute cost per consultation.

    Writes OUT/report.html (self-contained), summary.json, cases.csv and run.json (configuration and models).

    A stopped run resumes where it stopped.
    """
    from scribe.evaluate.cost import Prices
    from scribe.evaluate.report import write_report
    from scribe.evaluate.run import RunOptions, run_evaluation

    settings = load_settings()
    if dataset == DatasetKind.store:
        run = _store_run(settings, _when(since, "--since"), _when(until, "--until"), baseline_minutes)
    else:
        cases = _select(_cases(dataset, path, audio_dir, split), ids, limit)
        synthetic = sum(c.synthetic_audio for c in cases)
        console.print(
            f"evaluating {len(cases)} consultations from {dataset.value}"
            + (f" ({synthetic} with SYNTHETIC text-to-speech audio)" if synthetic else ""),
            highlight=False,
        )
        options = RunOptions(speech=speech, notes=notes, letters=letters, template=template)
        progress = Progress(
            TextColumn("evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            task = progress.add_task("cases", total=len(cases), last="")
            run = run_evaluation(
                cases,
                settings,
                out,
                dataset=str(path or dataset.value) if dataset == DatasetKind.folder else dataset.value,
                options=options,
                restart=restart,
                machine=machine(),
                assumed_baseline_minutes=baseline_minutes,
                on_case=lambda c: progress.update(task, advance=1, last=c.case_id + (" (failed)" if c.error else "")),
            )
    files = write_report(run, out, prices=Prices.from_settings(settings), min_n=min_n)
    failed = sum(1 for c in run.cases if c.error)
    console.print(
        f"[green]✓[/] {len(run.cases) - failed} of {len(run.cases)} consultations evaluated"
        + (f", {failed} failed (see cases.csv)" if failed else "")
        + f"; report: {files.html}",
        highlight=False,
    )


def _store_run(settings: Any, since: datetime | None, until: datetime | None, baseline: float | None) -> EvaluationRun:
    from datetime import UTC

    from scribe.evaluate.from_store import store_cases
    from scribe.evaluate.run import RunOptions, public_config
    from scribe.store import open_store

    store = open_store(settings)
    try:
        cases = store_cases(store, since=since, until=until)
    finally:
        store.close()
    if not cases:
        raise ConfigError("the store holds no approved consultations in that period: nothing to evaluate")
    console.print(f"evaluating {len(cases)} approved consultations from this site's store", highlight=False)
    return EvaluationRun(
        dataset="store",
        config=public_config(settings, RunOptions(speech=False, notes=False)),
        models={
            "speech recognition": settings.asr_model,
            "note drafting": f"{settings.llm_backend}:{settings.llm_model}",
        },
        machine=machine(),
        assumed_baseline_minutes=baseline,
        cases=cases,
        finished_at=datetime.now(UTC),
    )
