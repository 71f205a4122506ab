"""The evaluation behind the record: the run's one :class:`Summary`, and the figures the record states from it.

Nothing here computes a statistic. :func:`evaluation_evidence` calls
:func:`scribe.evaluate.report.summarise` (the same function that writes the report's summary.json),
and :func:`figures` only chooses which of the summary's numbers the record shows, how it names
them and in which unit (fractions as %), so the report, the committed Markdown, the ATRS record
and the model card cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from scribe.errors import ConfigError
from scribe.evaluate.cost import Prices
from scribe.evaluate.report import summarise
from scribe.evaluate.results import EvaluationRun
from scribe.evaluate.stats import Estimate
from scribe.evaluate.transparency.schema import EvaluationEvidence, ModelInfo

MINUTES_SAVED = {
    "measured": "Minutes saved per consultation (measured baseline)",
    "assumed": "Minutes saved per consultation (ASSUMED baseline)",
}
"""The record's name for the summary's minutes saved, by kind of baseline."""

_SHOWN: tuple[tuple[str, str, str, float, str | None], ...] = (
    (
        "wer",
        "Word error rate",
        "%",
        100,
        "mean of per-consultation WER after Whisper's English normalisation; bootstrap 95% interval",
    ),
    ("wer.pooled", "Word error rate, pooled over all words", "%", 100, None),
    (
        "medical_term_wer",
        "Medical-term error rate",
        "%",
        100,
        "mean per consultation of clinical terms in the reference that the transcript lacks",
    ),
    (
        "rouge1",
        "ROUGE-1 F1 against the reference note",
        "",
        1,
        "mean per consultation (0 to 100; word overlap with a reference note, not clinical correctness)",
    ),
    (
        "unsupported_rate",
        "Unsupported statements",
        "%",
        100,
        "mean per consultation of draft statements the grounding check found the transcript does not support",
    ),
    (
        "omission_rate",
        "Omissions",
        "%",
        100,
        "mean per consultation of salient facts the omission check found missing, of those due",
    ),
)
"""Headline rows of the summary the record shows: summary name, record name, unit, scale, how (None: the summary's)."""


@dataclass(frozen=True)
class Figure:
    """One number of the summary as the record states it: named, in the record's unit, with interval and n."""

    metric: str
    value: float | None
    low: float | None
    high: float | None
    n: int
    unit: str
    how: str
    level: float = 0.95

    def text(self) -> str:
        """e.g. ``13.1 % (95% CI 10.2 to 16.0; n=40)``."""
        if self.value is None:
            return f"no value (n={self.n})"
        unit = f" {self.unit}" if self.unit else ""
        ci = ""
        if self.low is not None and self.high is not None:
            ci = f"{self.level * 100:g}% CI {_fmt(self.low)} to {_fmt(self.high)}; "
        return f"{_fmt(self.value)}{unit} ({ci}n={self.n})"


def _fmt(x: float) -> str:
    """One decimal place, or three significant figures below 1 (costs per consultation are small)."""
    return f"{x:.1f}" if x == 0 or abs(x) >= 1 else f"{x:.3g}"


def _scaled(metric: str, estimate: Estimate, unit: str, how: str, scale: float = 1.0) -> Figure:
    def times(x: float | None) -> float | None:
        return None if x is None else x * scale

    return Figure(
        metric=metric,
        value=times(estimate.value),
        low=times(estimate.low),
        high=times(estimate.high),
        n=estimate.n,
        unit=unit,
        how=how,
        level=estimate.level,
    )


def figures(evidence: EvaluationEvidence | None) -> list[Figure]:
    """The summary's numbers the record states: speech and note headlines, minutes saved, energy and cost."""
    if evidence is None:
        return []
    summary = evidence.summary
    rows = {row.name: row for row in summary.headline}
    out = [
        _scaled(metric, rows[name].estimate, unit, how or rows[name].how, scale)
        for name, metric, unit, scale, how in _SHOWN
        if name in rows
    ]
    saved = summary.savings.mean_minutes
    if summary.savings.baseline in MINUTES_SAVED and saved is not None and saved.value is not None:
        out.append(_scaled(MINUTES_SAVED[summary.savings.baseline], saved, "min", summary.savings.label))
    if summary.cost is not None:
        cost = summary.cost
        out.append(
            Figure(
                metric="Energy per consultation",
                value=cost.energy_wh,
                low=None,
                high=None,
                n=summary.cost_n,
                unit="Wh",
                how="measured CPU and GPU-held seconds of every stage, at the assumed power draws in SCRIBE_COST_*",
            )
        )
        out.append(
            Figure(
                metric="Cost per consultation",
                value=cost.total_cost,
                low=None,
                high=None,
                n=summary.cost_n,
                unit=cost.currency,
                how="energy and compute priced with SCRIBE_COST_* (assumptions until the site sets its own)",
            )
        )
    return out


def headline_text(evidence: EvaluationEvidence | None, *metrics: str) -> str | None:
    """The named figures with the evaluation's size and caveats, as one paragraph; None when none is there."""
    found = [figure for figure in figures(evidence) if figure.metric in metrics]
    if evidence is None or not found:
        return None
    lines = "; ".join(f"{figure.metric}: {figure.text()}" for figure in found)
    summary = evidence.summary
    return f"{lines}. Evaluation '{summary.dataset}', {summary.n_evaluated} consultations. " + " ".join(
        evidence.caveats
    )


def load_evaluation(path: Path) -> EvaluationRun:
    """Read an EvaluationRun JSON (as ``scribe evaluate`` writes it); ConfigError (exit 2) says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"evaluation file {path} not found; give the run JSON that `scribe evaluate` wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read evaluation file {path}: {exc}") from None
    try:
        return EvaluationRun.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "file"
        raise ConfigError(
            f"evaluation file {path} is not an evaluation run ({exc.error_count()} problem(s), first at {where}: "
            f"{first['msg']}); give the run JSON that `scribe evaluate` wrote"
        ) from None


def _mismatch(deployed: Sequence[ModelInfo], used: dict[str, str]) -> list[str]:
    if not used:
        return []
    names = " ".join(used.values())
    missing = [model.name for model in deployed if model.name not in names]
    if not missing:
        return []
    return [
        f"The evaluation ran with {', '.join(f'{k}: {v}' for k, v in used.items())}, but this deployment "
        f"uses {', '.join(missing)}: its numbers may not describe this deployment."
    ]


def evaluation_evidence(run: EvaluationRun, deployed: Sequence[ModelInfo], prices: Prices) -> EvaluationEvidence:
    """The run's summary (``summarise``, as the report computes it) with the models and subgroups it covers."""
    summary = summarise(run, prices=prices)
    evaluated = [case for case in run.cases if not case.error]
    kinds = sorted({kind for case in evaluated for kind, value in case.subgroups.items() if value})
    return EvaluationEvidence(
        summary=summary,
        models=dict(run.models),
        subgroups={kind: sorted({c.subgroups[kind] for c in evaluated if c.subgroups.get(kind)}) for kind in kinds},
        deployment_caveats=_mismatch(deployed, run.models),
    )
