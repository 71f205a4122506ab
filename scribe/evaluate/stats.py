"""Point estimates with bootstrap confidence intervals, deterministic by seed.

Every estimate keeps the number of cases behind it. With no cases there is no value; with one
case there is a value but no interval (one case says nothing about spread). Intervals are
percentile intervals of the resampled statistic; resampling is done with numpy's PCG64 generator
seeded by ``seed``, so the same inputs and seed always give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Statistic = Literal["mean", "median"]

_CELLS_PER_CHUNK = 1_000_000
"""Resample in chunks of about this many drawn values, so large samples do not need a huge matrix."""


class Estimate(BaseModel):
    """A statistic of some cases, with a bootstrap percentile interval and the number of cases behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    statistic: Literal["mean", "median", "difference of means", "difference of medians", "rate"]
    value: float | None = Field(description="None when there are no cases.")
    low: float | None = Field(description="Lower end of the bootstrap percentile interval; None when n < 2.")
    high: float | None = Field(description="Upper end of the interval; None when n < 2.")
    n: int = Field(ge=0, description="Cases behind the number (both groups together for a difference).")
    level: float = Field(default=0.95, gt=0, lt=1)


def _array(values: Sequence[float], name: str) -> np.ndarray:
    out = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} holds NaN or infinite values: leave out cases without a value before estimating")
    return out


def _check(level: float, resamples: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1 (e.g. 0.95), not {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1 (2000 is usual), not {resamples}")


def _reducer(statistic: Statistic) -> Callable[..., np.ndarray]:
    if statistic == "mean":
        return np.mean
    if statistic == "median":
        return np.median
    raise ValueError(f"statistic must be 'mean' or 'median', not {statistic!r}")


def _chunks(resamples: int, n: int) -> Iterator[int]:
    """Sizes of successive batches of resamples, each about _CELLS_PER_CHUNK values."""
    per = max(1, _CELLS_PER_CHUNK // max(n, 1))
    done = 0
    while done < resamples:
        size = min(per, resamples - done)
        yield size
        done += size


def _resampled(
    values: np.ndarray, reduce: Callable[..., np.ndarray], resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The statistic of ``resamples`` samples drawn with replacement from ``values``."""
    n = len(values)
    parts = [reduce(values[rng.integers(0, n, size=(size, n))], axis=1) for size in _chunks(resamples, n)]
    return np.concatenate(parts)


def _interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap(
    values: Sequence[float],
    statistic: Statistic = "mean",
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Mean or median of ``values`` with a bootstrap percentile interval (cases resampled with replacement)."""
    _check(level, resamples)
    reduce = _reducer(statistic)
    data = _array(values, "values")
    n = len(data)
    if n == 0:
        return Estimate(statistic=statistic, value=None, low=None, high=None, n=0, level=level)
    value = float(reduce(data))
    if n == 1:
        return Estimate(statistic=statistic, value=value, low=None, high=None, n=1, level=level)
    if np.ptp(data) == 0:  # every resample is the same: the interval is the value itself
        return Estimate(statistic=statistic, value=value, low=value, high=value, n=n, level=level)
    low, high = _interval(_resampled(data, reduce, resamples, np.random.default_rng(seed)), level)
    return Estimate(statistic=statistic, value=value, low=low, high=high, n=n, level=level)


def bootstrap_difference(
    a: Sequence[float],
    b: Sequence[float],
    statistic: Statistic = "mean",
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """``statistic(a) - statistic(b)`` with an interval from resampling ``a`` and ``b`` independently.

    The value is None when either group is empty; the interval is None unless both groups have at
    least two cases (a single case cannot show how much its group varies). ``n`` counts both groups.
    """
    _check(level, resamples)
    reduce = _reducer(statistic)
    label = "difference of means" if statistic == "mean" else "difference of medians"
    first, second = _array(a, "a"), _array(b, "b")
    n = len(first) + len(second)
    if len(first) == 0 or len(second) == 0:
        return Estimate(statistic=label, value=None, low=None, high=None, n=n, level=level)
    value = float(reduce(first) - reduce(second))
    if len(first) < 2 or len(second) < 2:
        return Estimate(statistic=label, value=value, low=None, high=None, n=n, level=level)
    if np.ptp(first) == 0 and np.ptp(second) == 0:
        return Estimate(statistic=label, value=value, low=value, high=value, n=n, level=level)
    rng = np.random.default_rng(seed)
    draws = _resampled(first, reduce, resamples, rng) - _resampled(second, reduce, resamples, rng)
    low, high = _interval(draws, level)
    return Estimate(statistic=label, value=value, low=low, high=high, n=n, level=level)


def pooled_rate(
    hits: Sequence[int],
    totals: Sequence[int],
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """``sum(hits) / sum(totals)`` over cases (e.g. word errors / reference words), with a cluster bootstrap.

    Whole cases are resampled, so words from one consultation stay together and the interval
    reflects how much consultations differ, not just how many words there were. ``n`` is the
    number of cases. The value is None when the totals add up to 0; resamples whose totals add up
    to 0 are left out of the interval.
    """
    _check(level, resamples)
    if len(hits) != len(totals):
        raise ValueError(f"hits and totals must have one entry per case: got {len(hits)} and {len(totals)}")
    top, bottom = _array(hits, "hits"), _array(totals, "totals")
    if np.any(top < 0) or np.any(bottom < 0):
        raise ValueError("hits and totals must be counts (0 or more)")
    n = len(top)
    total = float(bottom.sum())
    if total == 0:
        return Estimate(statistic="rate", value=None, low=None, high=None, n=n, level=level)
    value = float(top.sum()) / total
    if n == 1:
        return Estimate(statistic="rate", value=value, low=None, high=None, n=1, level=level)
    rng = np.random.default_rng(seed)
    parts = []
    for size in _chunks(resamples, n):
        index = rng.integers(0, n, size=(size, n))
        parts.append((top[index].sum(axis=1), bottom[index].sum(axis=1)))
    num = np.concatenate([p[0] for p in parts])
    den = np.concatenate([p[1] for p in parts])
    keep = den > 0
    rates = num[keep] / den[keep]
    if rates.size == 0:
        return Estimate(statistic="rate", value=value, low=None, high=None, n=n, level=level)
    if np.ptp(rates) == 0:
        return Estimate(statistic="rate", value=value, low=value, high=value, n=n, level=level)
    low, high = _interval(rates, level)
    return Estimate(statistic="rate", value=value, low=low, high=high, n=n, level=level)


def fmt(estimate: Estimate, digits: int = 2) -> str:
    """``"7.00 (95% CI 6.10 to 7.90; n=12)"``, or ``"no cases"`` / ``"... (n=1, no interval)"``."""
    if estimate.value is None:
        return f"no cases (n={estimate.n})"
    value = f"{estimate.value:.{digits}f}"
    if estimate.low is None or estimate.high is None:
        return f"{value} (n={estimate.n}, no interval)"
    pct = f"{estimate.level * 100:g}%"
    return f"{value} ({pct} CI {estimate.low:.{digits}f} to {estimate.high:.{digits}f}; n={estimate.n})"


__all__ = ["Estimate", "Statistic", "bootstrap", "bootstrap_difference", "fmt", "pooled_rate"]
