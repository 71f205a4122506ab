"""The evaluation report's pictures: matplotlib figures drawn off-screen (Agg) into base64 PNGs.

Each function returns a ``Plot`` that carries its own alt text describing the numbers drawn, so the
report is readable without seeing the image. When there is nothing to draw a ``Plot`` holds no
image and says why (``missing``): the report prints that sentence instead of an empty axis.
Figures are built with ``matplotlib.figure.Figure`` directly, never pyplot, so nothing global is
touched and plots can be drawn from any thread.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections.abc import Sequence
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field

from scribe.evaluate.fairness import Breakdown
from scribe.evaluate.stats import Estimate

_BAR = "#2b6cb0"
_FEW = "#a0aec0"
_INK = "#1a202c"
_LINES = ("#2b6cb0", "#c05621", "#2f855a")


class Plot(BaseModel):
    """One picture for the report, or the reason there is none."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="A stable identifier, e.g. 'wer-gender'; also the image's HTML id.")
    title: str
    alt: str = Field(default="", description="What the picture shows, numbers included, for screen readers.")
    png_base64: str | None = Field(default=None, description="The PNG, base64-encoded; None when there is no data.")
    missing: str = Field(default="", description="Why there is no picture, in a sentence, when png_base64 is None.")


def unavailable(key: str, title: str, reason: str) -> Plot:
    """A plot that is not drawn, with the sentence the report shows in its place."""
    return Plot(key=key, title=title, missing=reason)


def number(value: float | None) -> str:
    """A number as the report prints it: about three significant figures, 'n/a' for None."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def interval(estimate: Estimate | None) -> str:
    """'low to high', or 'n/a' when there is no interval (fewer than two cases)."""
    if estimate is None or estimate.low is None or estimate.high is None:
        return "n/a"
    return f"{number(estimate.low)} to {number(estimate.high)}"


def _png(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float = 6.4, height: float = 3.6) -> Figure:
    figure = Figure(figsize=(width, height))
    figure.set_facecolor("white")
    return figure


def _errors(estimates: Sequence[Estimate]) -> tuple[list[float], list[float]]:
    """Lower and upper whisker lengths (0 where there is no interval)."""
    below, above = [], []
    for estimate in estimates:
        value = estimate.value or 0.0
        below.append(value - estimate.low if estimate.low is not None else 0.0)
        above.append(estimate.high - value if estimate.high is not None else 0.0)
    return below, above


def subgroup_bars(breakdown: Breakdown, *, label: str, key: str) -> Plot:
    """Bars of one metric per subgroup of one attribute, with interval whiskers; groups with too few cases greyed.

    ``label`` names the metric in lower case, as it reads inside a sentence ('word error rate').
    """
    title = f"{label[:1].upper()}{label[1:]} by {breakdown.attribute}"
    rows = [row for row in breakdown.rows if row.estimate.value is not None]
    if not rows:
        return unavailable(key, title, f"No {breakdown.attribute} subgroup has a value for {label}.")
    figure = _figure(width=max(4.0, 1.1 * len(rows) + 2.0))
    axes = figure.add_subplot()
    names = [f"{row.group}\nn={row.estimate.n}" + ("\n(too few)" if row.too_few else "") for row in rows]
    values = [row.estimate.value or 0.0 for row in rows]
    colours = [_FEW if row.too_few else _BAR for row in rows]
    axes.bar(names, values, color=colours, yerr=_errors([row.estimate for row in rows]), capsize=4, ecolor=_INK)
    axes.set_ylabel(label)
    axes.set_xlabel(breakdown.attribute)
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.spines[["top", "right"]].set_visible(False)
    level = f"{rows[0].estimate.level * 100:g}%"
    parts = [
        f"{row.group} {number(row.estimate.value)} ({level} CI {interval(row.estimate)}, n={row.estimate.n}"
        + (", too few cases to judge)" if row.too_few else ")")
        for row in rows
    ]
    gap = f" Gap between best and worst judged subgroup: {number(breakdown.gap)}." if breakdown.gap is not None else ""
    alt = f"Bar chart of mean {label} by {breakdown.attribute}: " + "; ".join(parts) + "." + gap
    return Plot(key=key, title=title, alt=alt, png_base64=_png(figure))


def histogram(values: Sequence[float], *, key: str, title: str, xlabel: str, what: str, missing: str) -> Plot:
    """A histogram of per-consultation values; ``what`` names them in the alt text ('share of the draft edited')."""
    data = [float(value) for value in values]
    if not data:
        return unavailable(key, title, missing)
    figure = _figure()
    axes = figure.add_subplot()
    bins = min(20, max(5, len(data) // 2))
    axes.hist(data, bins=bins, color=_BAR, edgecolor="white")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("consultations")
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    alt = (
        f"Histogram of {what} over {len(data)} consultations: median {number(statistics.median(data))},"
        f" mean {number(statistics.fmean(data))}, lowest {number(min(data))}, highest {number(max(data))}."
    )
    return Plot(key=key, title=title, alt=alt, png_base64=_png(figure))


def intervals(rows: Sequence[tuple[str, Estimate]], *, key: str, title: str, xlabel: str, missing: str) -> Plot:
    """Points with interval bars, one row per label (e.g. minutes saved overall, per clinician, per type)."""
    drawn = [(name, estimate) for name, estimate in rows if estimate.value is not None]
    if not drawn:
        return unavailable(key, title, missing)
    figure = _figure(height=max(2.0, 0.45 * len(drawn) + 1.2))
    axes = figure.add_subplot()
    positions = list(range(len(drawn)))[::-1]
    values = [estimate.value or 0.0 for _, estimate in drawn]
    axes.errorbar(
        values,
        positions,
        xerr=_errors([estimate for _, estimate in drawn]),
        fmt="o",
        color=_BAR,
        ecolor=_INK,
        capsize=4,
    )
    axes.axvline(0, color=_FEW, linewidth=1)
    axes.set_yticks(positions, [f"{name} (n={estimate.n})" for name, estimate in drawn])
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    level = f"{drawn[0][1].level * 100:g}%"
    parts = [f"{name} {number(e.value)} ({level} CI {interval(e)}, n={e.n})" for name, e in drawn]
    alt = f"{title}, points with {level} intervals: " + "; ".join(parts) + "."
    return Plot(key=key, title=title, alt=alt, png_base64=_png(figure))


def weekly_lines(
    weeks: Sequence[date], series: dict[str, Sequence[float | None]], *, key: str, title: str, ylabel: str, missing: str
) -> Plot:
    """One line per series over ISO weeks (a gap where a week has no value)."""
    if not weeks or not any(value is not None for values in series.values() for value in values):
        return unavailable(key, title, missing)
    figure = _figure()
    axes = figure.add_subplot()
    labels = [week.isoformat() for week in weeks]
    for (name, values), colour in zip(series.items(), _LINES, strict=False):
        points = [float("nan") if value is None else value for value in values]
        axes.plot(labels, points, marker="o", color=colour, label=name)
    axes.set_ylabel(ylabel)
    axes.set_xlabel("week starting")
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.legend(frameon=False)
    axes.tick_params(axis="x", labelrotation=45)
    axes.spines[["top", "right"]].set_visible(False)
    parts = []
    for position, week in enumerate(labels):
        values = ", ".join(f"{name} {number(points[position])}" for name, points in series.items())
        parts.append(f"week of {week}: {values}")
    alt = f"Line chart of {title.lower()}: " + "; ".join(parts) + "."
    return Plot(key=key, title=title, alt=alt, png_base64=_png(figure))


__all__ = ["Plot", "histogram", "interval", "intervals", "number", "subgroup_bars", "unavailable", "weekly_lines"]
