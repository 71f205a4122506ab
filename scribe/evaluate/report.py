"""The evaluation report: one self-contained HTML file, the summary as JSON, every case's numbers as CSV.

``summarise`` computes everything the report shows once (headline estimates with intervals,
minutes saved, subgroup breakdowns, cost per consultation, flags by week, and the caveats that
say what the numbers rest on and what they cannot show) into a ``Summary``. ``write_report``
writes that summary, the HTML rendered from it, a CSV with one row per case and the run itself,
each atomically. The HTML loads nothing from anywhere: styles are inline and plots are base64
PNGs with alt text.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from scribe.evaluate.cost import CostEstimate, Prices, estimate, per_stage
from scribe.evaluate.fairness import METRICS, Breakdown, Metric, breakdowns
from scribe.evaluate.results import CaseResult, EvaluationRun, FactScore, NoteScores, SpeechScores, TimeScores
from scribe.evaluate.savings import Savings, minutes_saved
from scribe.evaluate.stats import Estimate, bootstrap, pooled_rate
from scribe.evaluate.weeks import monday
from scribe.fileio import write_text_atomic

if TYPE_CHECKING:  # matplotlib loads only when a report is rendered, not for its Summary
    from scribe.evaluate import plots

log = logging.getLogger(__name__)

SMALL_N = 30
"""Below this many evaluated consultations the report warns that intervals are wide."""

_TIME_METRIC = "documentation_minutes"
"""In the headline through the savings (scribe arm, control arm, minutes saved), not a second time."""

_Counts = Callable[[CaseResult], tuple[int, int] | None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Headline(_Model):
    """One row of the headline table: a metric over the whole run, how it was computed, and its interval."""

    name: str = Field(description="e.g. 'wer' (mean), 'wer.pooled', 'fact_recall.medication', 'minutes_saved.mean'.")
    label: str
    how: str = Field(description="How the number was computed, in words.")
    higher_is_better: bool | None = None
    estimate: Estimate


class WeekFlags(_Model):
    """Grounding flags and rejections of scribe drafts in one ISO week (Monday start, UTC)."""

    week: date
    cases: int
    statements: int
    unsupported: int
    omissions: int
    rejected: int
    unsupported_rate: float | None = None
    omission_rate: float | None = None
    rejected_rate: float | None = None


class Summary(_Model):
    """Everything the report shows, computed once; written as summary.json."""

    dataset: str
    started_at: datetime
    finished_at: datetime | None = None
    n_cases: int
    n_evaluated: int
    n_failed: int
    n_with_audio: int
    n_synthetic_audio: int
    n_control: int = Field(description="Evaluated control-arm cases (notes written unaided).")
    failures: dict[str, str] = Field(default_factory=dict, description="case id -> why it could not be evaluated.")
    labels: dict[str, str] = Field(default_factory=dict, description="metric name -> label.")
    headline: list[Headline] = Field(default_factory=list)
    savings: Savings
    breakdowns: list[Breakdown] = Field(default_factory=list)
    cost: CostEstimate | None = Field(default=None, description="Mean per consultation with measured costs.")
    cost_n: int = 0
    cost_by_stage: dict[str, CostEstimate] = Field(default_factory=dict, description="Mean per consultation.")
    prices: Prices
    flags_by_week: list[WeekFlags] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list, description="What the numbers rest on.")
    not_shown: list[str] = Field(default_factory=list, description="What the numbers do not show.")
    min_n: int
    seed: int
    level: float = 0.95


class ReportFiles(_Model):
    """Where ``write_report`` put each file."""

    html: Path
    summary: Path
    cases: Path
    run: Path


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count(n: int, noun: str = "consultation") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _speech_counts(hits: str, total: str) -> _Counts:
    def counts(case: CaseResult) -> tuple[int, int] | None:
        return None if case.speech is None else (getattr(case.speech, hits), getattr(case.speech, total))

    return counts


def _note_counts(case: CaseResult, which: str) -> tuple[int, int] | None:
    note = case.note
    if note is None:
        return None
    if which == "unsupported":
        return note.unsupported, note.statements
    if which == "omissions":
        return note.omissions, note.statements + note.omissions
    facts = list(note.facts.values())
    if not facts:
        return None
    tp = sum(fact.tp for fact in facts)
    missed = sum(fact.fp for fact in facts) if which == "precision" else sum(fact.fn for fact in facts)
    return tp, tp + missed


_POOLED: dict[str, tuple[str, _Counts]] = {
    "wer": ("pooled: word errors / reference words", _speech_counts("word_errors", "reference_words")),
    "medical_term_wer": (
        "pooled: clinical terms missed / clinical terms in the reference",
        _speech_counts("medical_term_errors", "medical_terms"),
    ),
    "attribution_accuracy": (
        "pooled: words given the right speaker / words with one reference speaker",
        _speech_counts("attribution_correct", "attributed_words"),
    ),
    "hallucinated_segment_rate": (
        "pooled: kept segments with no reference speech / kept segments",
        _speech_counts("hallucinated_segments", "segments"),
    ),
    "fact_precision": (
        "pooled over fact kinds: correct facts / facts in the drafts",
        lambda case: _note_counts(case, "precision"),
    ),
    "fact_recall": (
        "pooled over fact kinds: facts found / facts in the reference notes",
        lambda case: _note_counts(case, "recall"),
    ),
    "unsupported_rate": (
        "pooled: unsupported statements / statements",
        lambda case: _note_counts(case, "unsupported"),
    ),
    "omission_rate": (
        "pooled: omissions / (statements + omissions)",
        lambda case: _note_counts(case, "omissions"),
    ),
}
"""Metrics that are ratios of counts, pooled over consultations from those counts."""


def _pooled(cases: Sequence[CaseResult], counts: _Counts, seed: int) -> Estimate | None:
    pairs = [pair for pair in (counts(case) for case in cases) if pair is not None]
    if not pairs or sum(total for _, total in pairs) == 0:
        return None
    return pooled_rate([hit for hit, _ in pairs], [total for _, total in pairs], seed=seed)


def _fact_recall_by_kind(cases: Sequence[CaseResult], seed: int) -> list[Headline]:
    kinds = sorted({kind for case in cases if case.note for kind in case.note.facts})
    rows = []
    for kind in kinds:
        facts = [case.note.facts[kind] for case in cases if case.note and kind in case.note.facts]
        if sum(fact.tp + fact.fn for fact in facts) == 0:
            continue
        rate = pooled_rate([fact.tp for fact in facts], [fact.tp + fact.fn for fact in facts], seed=seed)
        rows.append(
            Headline(
                name=f"fact_recall.{kind}",
                label=f"{kind.capitalize()} recall",
                how=f"pooled: {kind} facts found / {kind} facts in the reference notes",
                higher_is_better=True,
                estimate=rate,
            )
        )
    return rows


def _rejected(cases: Sequence[CaseResult], seed: int) -> Headline | None:
    drafts = [case for case in cases if case.time is not None and case.time.arm == "scribe" and case.time.reviewed]
    if not drafts:
        return None
    rate = pooled_rate([int(case.time.rejected) for case in drafts if case.time], [1] * len(drafts), seed=seed)
    return Headline(
        name="rejected_rate",
        label="Drafts rejected",
        how="share of reviewed scribe drafts the clinician rejected",
        higher_is_better=False,
        estimate=rate,
    )


def _savings_rows(savings: Savings) -> list[Headline]:
    assumed = " (ASSUMED baseline)" if savings.baseline == "assumed" else ""
    candidates = [
        ("documentation_minutes.scribe", "Documentation minutes with scribe", "mean", savings.scribe_minutes),
        (
            "documentation_minutes.control",
            "Documentation minutes unaided (control arm)",
            "mean",
            savings.control_minutes,
        ),
        ("minutes_saved.mean", f"Minutes saved per patient{assumed}", savings.label, savings.mean_minutes),
        ("minutes_saved.median", f"Minutes saved per patient, median{assumed}", savings.label, savings.median_minutes),
    ]
    return [
        Headline(name=name, label=label, how=how if how != "mean" else "mean over consultations", estimate=value)
        for name, label, how, value in candidates
        if value is not None and value.value is not None
    ]


def _headline(cases: Sequence[CaseResult], metrics: Sequence[Metric], savings: Savings, seed: int) -> list[Headline]:
    rows: list[Headline] = []
    for metric in metrics:
        if metric.name == _TIME_METRIC:
            continue
        values = [value for value in (metric.get(case) for case in cases) if value is not None]
        if not values:
            continue
        rows.append(
            Headline(
                name=metric.name,
                label=_capital(metric.label),
                how="mean over consultations",
                higher_is_better=metric.higher_is_better,
                estimate=bootstrap(values, "mean", seed=seed),
            )
        )
        if metric.name in _POOLED:
            how, counts = _POOLED[metric.name]
            pooled = _pooled(cases, counts, seed)
            if pooled is not None:
                rows.append(
                    Headline(
                        name=f"{metric.name}.pooled",
                        label=f"{_capital(metric.label)}, pooled",
                        how=how,
                        higher_is_better=metric.higher_is_better,
                        estimate=pooled,
                    )
                )
    rows.extend(_fact_recall_by_kind(cases, seed))
    rejected = _rejected(cases, seed)
    if rejected is not None:
        rows.append(rejected)
    rows.extend(_savings_rows(savings))
    return rows


def _mean_cost(estimates: Sequence[CostEstimate], what: str) -> CostEstimate:
    """The mean of per-consultation estimates; peak memory is the highest any consultation reached."""
    n = len(estimates)
    first = estimates[0]

    def mean(field: str) -> float:
        return sum(getattr(item, field) for item in estimates) / n

    peaks = [item.peak_rss_mb for item in estimates if item.peak_rss_mb is not None]
    note = f"{what}: mean over {n} consultations with measured costs; peak memory is the highest in any one"
    return first.model_copy(
        update={
            "cpu_seconds": mean("cpu_seconds"),
            "gpu_seconds": mean("gpu_seconds"),
            "wall_seconds": mean("wall_seconds"),
            "peak_rss_mb": max(peaks) if peaks else None,
            "energy_wh": mean("energy_wh"),
            "energy_cost": mean("energy_cost"),
            "compute_cost": mean("compute_cost"),
            "total_cost": mean("total_cost"),
            "carbon_g": mean("carbon_g"),
            "assumptions": [note, *first.assumptions],
        }
    )


def _costs(cases: Sequence[CaseResult], prices: Prices) -> tuple[CostEstimate | None, int, dict[str, CostEstimate]]:
    measured = [case for case in cases if case.costs]
    if not measured:
        return None, 0, {}
    overall = _mean_cost([estimate(case.costs, prices) for case in measured], "per consultation")
    stages: dict[str, list[CostEstimate]] = {}
    for case in measured:
        for name, stage in per_stage(case.costs, prices).items():
            stages.setdefault(name, []).append(stage)
    by_stage = {name: _mean_cost(items, f"stage {name}") for name, items in stages.items()}
    return overall, len(measured), by_stage


def flags_by_week(cases: Sequence[CaseResult]) -> list[WeekFlags]:
    """Unsupported statements, omissions and rejections of scribe drafts per ISO week of ``consulted_at``."""
    weeks: dict[date, list[CaseResult]] = {}
    for case in cases:
        if case.consulted_at is None or (case.time is not None and case.time.arm == "control"):
            continue
        if case.note is None and case.time is None:
            continue
        weeks.setdefault(monday(case.consulted_at), []).append(case)
    out = []
    for week, group in sorted(weeks.items()):
        notes = [case.note for case in group if case.note is not None]
        statements = sum(note.statements for note in notes)
        unsupported = sum(note.unsupported for note in notes)
        omissions = sum(note.omissions for note in notes)
        reviewed = [case.time for case in group if case.time is not None and case.time.reviewed]
        rejected = sum(time.rejected for time in reviewed)
        out.append(
            WeekFlags(
                week=week,
                cases=len(group),
                statements=statements,
                unsupported=unsupported,
                omissions=omissions,
                rejected=rejected,
                unsupported_rate=unsupported / statements if statements else None,
                omission_rate=omissions / (statements + omissions) if statements + omissions else None,
                rejected_rate=rejected / len(reviewed) if reviewed else None,
            )
        )
    return out


def _caveats(
    run: EvaluationRun, evaluated: Sequence[CaseResult], failures: dict[str, str], savings: Savings, min_n: int
) -> list[str]:
    lines = [f"Dataset: {run.dataset}, {_count(len(run.cases))}, {len(evaluated)} evaluated."]
    if failures:
        lines.append(f"{_count(len(failures))} could not be evaluated and are left out of every number.")
    synthetic = sum(case.synthetic_audio for case in run.cases)
    if synthetic:
        lines.append(
            f"Audio is SYNTHETIC for {synthetic} of {len(run.cases)} consultations: made by text-to-speech from a"
            " script, so speech numbers show clean machine voices, not real clinic recordings."
        )
    if not any(case.has_audio for case in evaluated):
        lines.append("No consultation had audio: speech recognition was not evaluated.")
    if len(evaluated) < SMALL_N:
        lines.append(
            f"Small sample: only {len(evaluated)} consultations were evaluated (fewer than {SMALL_N}), so intervals"
            " are wide and one consultation can move a mean."
        )
    if any(
        case.dataset != "store" and case.time is not None and case.time.time_to_draft_seconds is not None
        for case in evaluated
    ):
        lines.append(
            "Time to draft here is one consultation at a time, after it ended: the whole recording transcribed"
            " (where there is audio) and then the note drafted. In the app, live mode transcribes and drafts during"
            " the consultation, so the wait after it ends is shorter."
        )
    lines.append(
        f"Subgroups with fewer than {min_n} consultations are shown but not judged, and are left out of the gaps."
    )
    lines.append(f"Time-saved baseline: {savings.baseline.upper()}. {savings.label}")
    lines.extend(warning for warning in savings.warnings if warning not in lines)
    return lines


def _not_shown(run: EvaluationRun, evaluated: Sequence[CaseResult], cost_n: int) -> list[str]:
    lines = [
        "Clinical outcomes: these numbers measure transcripts, drafts and clinician time, not whether patients"
        " were safer or better cared for.",
    ]
    if all(case.dataset != "store" for case in run.cases):
        lines.append(
            f"Real patients at this site: the consultations come from {run.dataset}, not from this site's own"
            " patients and clinicians."
        )
    if any(case.note is not None for case in evaluated):
        lines.append(
            "Whether a note is clinically right: ROUGE and fact scores compare each draft with one reference note,"
            " and a different but correct note scores lower."
        )
    if cost_n:
        lines.append(
            "Other hardware: compute was measured on a single machine; speed, energy and cost differ on others."
        )
    lines.append(
        "Subgroups the data does not carry (for example ethnicity or accent where unrecorded) are not examined."
    )
    return lines


def summarise(run: EvaluationRun, *, prices: Prices | None = None, min_n: int = 5, seed: int = 0) -> Summary:
    """Compute everything the report shows from ``run`` (cases with an error are counted, then left out)."""
    prices = prices or Prices()
    evaluated = [case for case in run.cases if not case.error]
    failures = {case.case_id: case.error for case in run.cases if case.error}
    savings = minutes_saved(evaluated, assumed_baseline_minutes=run.assumed_baseline_minutes, min_n=min_n, seed=seed)
    labels = {metric.name: _capital(metric.label) for metric in METRICS}
    cost, cost_n, by_stage = _costs(evaluated, prices)
    summary = Summary(
        dataset=run.dataset,
        started_at=run.started_at,
        finished_at=run.finished_at,
        n_cases=len(run.cases),
        n_evaluated=len(evaluated),
        n_failed=len(failures),
        n_with_audio=sum(case.has_audio for case in run.cases),
        n_synthetic_audio=sum(case.synthetic_audio for case in run.cases),
        n_control=sum(1 for case in evaluated if case.time is not None and case.time.arm == "control"),
        failures=failures,
        labels=labels,
        headline=_headline(evaluated, METRICS, savings, seed),
        savings=savings,
        breakdowns=breakdowns(evaluated, METRICS, min_n=min_n, seed=seed),
        cost=cost,
        cost_n=cost_n,
        cost_by_stage=by_stage,
        prices=prices,
        flags_by_week=flags_by_week(evaluated),
        caveats=_caveats(run, evaluated, failures, savings, min_n),
        not_shown=_not_shown(run, evaluated, cost_n),
        min_n=min_n,
        seed=seed,
    )
    log.info("summarised %d cases of %s (%d failed)", summary.n_cases, run.dataset, summary.n_failed)
    return summary


def _wer_plots(summary: Summary, evaluated: Sequence[CaseResult]) -> list[plots.Plot]:
    from scribe.evaluate import plots

    label = next((metric.label for metric in METRICS if metric.name == "wer"), "word error rate")
    found = [item for item in summary.breakdowns if item.metric == "wer"]
    if found:
        return [plots.subgroup_bars(item, label=label, key=f"wer-{item.attribute}") for item in found]
    title = f"{_capital(label)} by subgroup"
    if not any(case.speech is not None for case in evaluated):
        reason = (
            "No consultation has speech results (no audio with a reference transcript was scored),"
            " so there is no word error rate to break down by subgroup."
        )
    else:
        reason = (
            "Word error rates were measured but the consultations carry no subgroups (such as gender, age band,"
            " voice, language, consultation type or clinician), so they cannot be broken down."
        )
    return [plots.unavailable("wer-subgroups", title, reason)]


def _savings_plot(savings: Savings) -> plots.Plot:
    from scribe.evaluate import plots

    rows: list[tuple[str, Estimate]] = []
    if savings.mean_minutes is not None:
        rows.append(("overall", savings.mean_minutes))
    for prefix, groups in (("clinician", savings.by_clinician), ("type", savings.by_type)):
        rows.extend((f"{prefix}: {name}", group.mean_minutes) for name, group in groups.items() if group.mean_minutes)
    title = "Minutes saved per patient (mean)"
    if savings.baseline == "assumed":
        title += ", ASSUMED baseline"
    if savings.baseline == "none":
        missing = "No minutes-saved figure: no control arm was measured and no assumed baseline was entered."
    else:
        missing = "No consultation has a documentation time, so minutes saved could not be estimated."
    return plots.intervals(rows, key="minutes-saved", title=title, xlabel="minutes saved per patient", missing=missing)


def report_plots(summary: Summary, run: EvaluationRun) -> dict[str, list[plots.Plot]]:
    """Every picture of the report by section ('speech', 'editing', 'time', 'flags'), each with alt text."""
    from scribe.evaluate import plots

    evaluated = [case for case in run.cases if not case.error]
    shares = [case.time.share_edited for case in evaluated if case.time and case.time.share_edited is not None]
    drafts = [
        case.time.time_to_draft_seconds
        for case in evaluated
        if case.time and case.time.time_to_draft_seconds is not None
    ]
    weeks = summary.flags_by_week
    if weeks:
        flags_missing = "No week has reviewed drafts with grounding flags or review outcomes."
    else:
        flags_missing = (
            "The consultations carry no dates (dataset cases have none; cases from the store do),"
            " so flags cannot be shown over time."
        )
    return {
        "speech": _wer_plots(summary, evaluated),
        "editing": [
            plots.histogram(
                shares,
                key="edit-effort",
                title="Edit effort: share of each draft the clinician changed",
                xlabel="share of draft characters changed (0 = none, 1 = all)",
                what="share of the draft edited",
                missing="No consultation has review records with edits, so edit effort cannot be shown.",
            )
        ],
        "time": [
            plots.histogram(
                drafts,
                key="time-to-draft",
                title="Time to draft after the consultation ended",
                xlabel="seconds from end of consultation to draft ready",
                what="time to draft in seconds",
                missing="No consultation has a time to draft, so it cannot be shown.",
            ),
            _savings_plot(summary.savings),
        ],
        "flags": [
            plots.weekly_lines(
                [week.week for week in weeks],
                {
                    "unsupported statements": [week.unsupported_rate for week in weeks],
                    "omissions": [week.omission_rate for week in weeks],
                    "drafts rejected": [week.rejected_rate for week in weeks],
                },
                key="flags-over-time",
                title="Flags over time (share per week)",
                ylabel="share",
                missing=flags_missing,
            )
        ],
    }


def _template() -> str:
    return resources.files("scribe.evaluate").joinpath("templates", "report.html.j2").read_text("utf-8")


def _plain(value: object) -> str:
    """A configuration value as text: strings as they are, everything else as compact JSON-like text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def render_html(summary: Summary, run: EvaluationRun) -> str:
    """The report as one self-contained HTML page (everything escaped, nothing loaded from elsewhere)."""
    from scribe.evaluate import plots

    environment = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["num"] = plots.number
    environment.filters["ci"] = plots.interval
    environment.filters["plain"] = _plain
    template = environment.from_string(_template())
    return template.render(
        summary=summary,
        run=run,
        plots=report_plots(summary, run),
        generated=datetime.now(UTC),
        level=f"{summary.level * 100:g}%",
    )


# ---------------------------------------------------------------------------------------------- CSV

_BASE = (
    "case_id",
    "dataset",
    "synthetic_audio",
    "has_audio",
    "consultation_type",
    "clinician",
    "consulted_at",
    "error",
)
_STAGE_FIELDS = ("device", "wall_seconds", "cpu_seconds", "gpu_seconds", "peak_rss_mb")
_COST_FIELDS = ("energy_wh", "energy_cost", "compute_cost", "total_cost", "carbon_g", "currency")


def _fields(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
    return [name for name in model.model_fields if name not in skip]


def flatten_case(case: CaseResult, prices: Prices) -> dict[str, object]:
    """Every scalar of one case under a dotted name ('speech.wer', 'note.facts.medication.recall', 'subgroups.sex')."""
    row: dict[str, object] = {name: getattr(case, name) for name in _BASE}
    for key, value in case.subgroups.items():
        row[f"subgroups.{key}"] = value
    blocks: tuple[tuple[str, type[BaseModel], BaseModel | None], ...] = (
        ("speech", SpeechScores, case.speech),
        ("note", NoteScores, case.note),
        ("time", TimeScores, case.time),
    )
    for block, model, value in blocks:
        for name in _fields(model, skip=("facts",)):
            row[f"{block}.{name}"] = getattr(value, name) if value is not None else None
    if case.note is not None:
        for kind, fact in case.note.facts.items():
            for name in _fields(FactScore):
                row[f"note.facts.{kind}.{name}"] = getattr(fact, name)
    for stage in dict.fromkeys(cost.stage for cost in case.costs):
        parts = [cost for cost in case.costs if cost.stage == stage]
        peaks = [cost.peak_rss_mb for cost in parts if cost.peak_rss_mb is not None]
        row[f"costs.{stage}.device"] = ",".join(dict.fromkeys(cost.device for cost in parts))
        row[f"costs.{stage}.wall_seconds"] = sum(cost.wall_seconds for cost in parts)
        row[f"costs.{stage}.cpu_seconds"] = sum(cost.cpu_seconds for cost in parts)
        row[f"costs.{stage}.gpu_seconds"] = sum(cost.gpu_seconds for cost in parts)
        row[f"costs.{stage}.peak_rss_mb"] = max(peaks) if peaks else None
    if case.costs:
        total = estimate(case.costs, prices)
        for name in _COST_FIELDS:
            row[f"cost.{name}"] = getattr(total, name)
    return row


def _columns(cases: Sequence[CaseResult]) -> list[str]:
    subgroups = sorted({key for case in cases for key in case.subgroups})
    kinds = sorted({kind for case in cases if case.note for kind in case.note.facts})
    stages = list(dict.fromkeys(cost.stage for case in cases for cost in case.costs))
    columns = list(_BASE) + [f"subgroups.{key}" for key in subgroups]
    columns += [f"speech.{name}" for name in _fields(SpeechScores)]
    columns += [f"note.{name}" for name in _fields(NoteScores, skip=("facts",))]
    columns += [f"note.facts.{kind}.{name}" for kind in kinds for name in _fields(FactScore)]
    columns += [f"time.{name}" for name in _fields(TimeScores)]
    columns += [f"costs.{stage}.{name}" for stage in stages for name in _STAGE_FIELDS]
    if stages:
        columns += [f"cost.{name}" for name in _COST_FIELDS]
    return columns


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def cases_csv(cases: Sequence[CaseResult], prices: Prices) -> str:
    """One row per case (failed ones included, with their error), every scalar in its own column."""
    columns = _columns(cases)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for case in cases:
        row = flatten_case(case, prices)
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def write_report(
    run: EvaluationRun, out_dir: Path, *, prices: Prices | None = None, min_n: int = 5, seed: int = 0
) -> ReportFiles:
    """Write report.html, summary.json, cases.csv and run.json into ``out_dir`` (each atomically)."""
    prices = prices or Prices()
    summary = summarise(run, prices=prices, min_n=min_n, seed=seed)
    files = ReportFiles(
        html=out_dir / "report.html",
        summary=out_dir / "summary.json",
        cases=out_dir / "cases.csv",
        run=out_dir / "run.json",
    )
    write_text_atomic(files.summary, summary.model_dump_json(indent=2))
    write_text_atomic(files.cases, cases_csv(run.cases, prices))
    write_text_atomic(files.run, run.model_dump_json(indent=2))
    write_text_atomic(files.html, render_html(summary, run))
    log.info("evaluation report written to %s", files.html)
    return files


__all__ = [
    "SMALL_N",
    "Headline",
    "ReportFiles",
    "Summary",
    "WeekFlags",
    "cases_csv",
    "flags_by_week",
    "flatten_case",
    "render_html",
    "report_plots",
    "summarise",
    "write_report",
]
