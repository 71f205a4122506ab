"""`scribe monitor`: post-market monitoring of live use from the store, by ISO week, with drift flags."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from scribe.evaluate.monitor import MonitorReport, WeekRow


class Format(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add ``monitor`` to the root app."""
    app.command("monitor")(monitor_command)


def monitor_command(
    weeks: int | None = typer.Option(
        None,
        "--weeks",
        min=1,
        max=520,
        help="ISO weeks to show, this one included (default: setting monitor_weeks, 12).",
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.01,
        help="Relative change flagged, 0.5 = 50% (default: setting monitor_drift_threshold, 0.5).",
    ),
    min_cases: int | None = typer.Option(
        None, "--min-cases", min=1, help="Fewest consultations to judge a week (default: setting monitor_min_cases, 5)."
    ),
    output: Format = typer.Option(Format.table, "--format", help="table (for people) or json (for scripts)."),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help="Exit 1 when any metric is flagged, for a scheduled job to alert on."
    ),
) -> None:
    """Weekly numbers of scribe in live use, from the store, with a drift check of the latest week.

    Per ISO week (Monday start, UTC): consultations, approved, rejected (rate), edit rate, unsupported rate.

    Also the omission rate of the model's drafts, median time to draft and median documentation minutes.

    The latest week with consultations is compared with the mean of the earlier weeks in the window.

    A metric that moved, up or down, by more than the threshold is flagged; under --min-cases: "too few to judge".

    Exit status is 0, flagged or not. To alert, run it on a schedule with --fail-on-drift (exit 1 when flagged).

    For example: scribe monitor --fail-on-drift --format json > week.json || notify-the-safety-officer
    """
    from scribe.cli.admin import actor_name
    from scribe.config import load_settings
    from scribe.evaluate.monitor import monitor
    from scribe.rows import AuditEvent
    from scribe.store import open_store

    settings = load_settings()
    store = open_store(settings)
    try:
        report = monitor(
            store,
            weeks=settings.monitor_weeks if weeks is None else weeks,
            threshold=settings.monitor_drift_threshold if threshold is None else threshold,
            min_cases=settings.monitor_min_cases if min_cases is None else min_cases,
        )
        total = sum(w.consultations + w.control for w in report.weeks)
        detail = f"{len(report.weeks)} weeks, {total} consultations, {len(report.flagged)} flagged"
        store.audit.record(
            AuditEvent(user_id=None, username=actor_name(), action="monitor", target="consultations", detail=detail)
        )
    finally:
        store.close()
    if output is Format.json:
        sys.stdout.write(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    else:
        _print(report, Console())
    if fail_on_drift and report.flagged:
        raise typer.Exit(1)


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _number(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{value:.1f} {unit}"


def _value(metric: str, value: float | None) -> str:
    if metric.endswith("_rate"):
        return _rate(value)
    return "–" if value is None else f"{value:.1f}"


def _row(w: WeekRow) -> list[str]:
    return [
        w.week,
        str(w.consultations),
        str(w.control),
        str(w.approved),
        f"{w.rejected} ({_rate(w.rejection_rate)})" if w.consultations else "0",
        _rate(w.edit_rate),
        _rate(w.unsupported_rate),
        _rate(w.omission_rate),
        _number(w.time_to_draft_seconds, "s"),
        _number(w.documentation_minutes, "min"),
    ]


def _print(report: MonitorReport, console: Console) -> None:
    table = Table(title="scribe in live use, by ISO week (scribe arm; control arm counted only)")
    headings = (
        "week",
        "consultations",
        "control arm",
        "approved",
        "rejected",
        "edit rate",
        "unsupported",
        "omissions",
        "time to draft (median)",
        "documentation (median)",
    )
    for i, heading in enumerate(headings):
        table.add_column(heading, justify="left" if i == 0 else "right")
    for week in report.weeks:
        table.add_row(*_row(week))
    console.print(table)
    if report.latest_week is None:
        console.print("No consultations in these weeks: nothing to judge.")
        return
    checks = Table(
        title=f"drift of {report.latest_week} against the earlier weeks' mean "
        f"(threshold {report.threshold:.0%}, at least {report.min_cases} consultations)"
    )
    for heading in ("metric", "latest", "earlier mean", "change", "n", "verdict"):
        checks.add_column(heading)
    for c in report.checks:
        change = "–" if c.relative_change is None else f"{c.relative_change:+.0%}"
        verdict = f"[bold red]{c.verdict}[/]" if c.verdict == "drift" else c.verdict
        checks.add_row(c.label, _value(c.metric, c.latest), _value(c.metric, c.baseline), change, str(c.n), verdict)
    console.print(checks)
    if report.flagged:
        console.print(f"[bold red]{len(report.flagged)} flagged:[/]")
        for message in report.flagged:
            console.print(f"  {message}", highlight=False, soft_wrap=True)
    else:
        console.print("Nothing flagged.")
