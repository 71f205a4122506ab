"""What a consultation costs to process: compute per stage, and the energy, money and carbon behind it.

:class:`StageMeter` measures each stage of one consultation (transcribe, draft, letters ...) as a
:class:`~scribe.evaluate.results.StageCost`: wall-clock seconds, process CPU seconds (every thread
of this process), the highest resident memory a sampling thread saw during the stage, and the
seconds the stage held a GPU. GPU seconds are *GPU-held time*, the stage's wall time when it ran on
CUDA: they say how long a GPU was reserved for the work, not how busy it was, so the energy derived
from them is an upper bound for the GPU.

:func:`estimate` turns stage costs into energy, cost and carbon with :class:`Prices`, a site's own
figures. Every default price is an assumption or a placeholder (see :class:`Prices`), and every
estimate lists the assumptions it rests on, so a report never shows a figure without its basis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
from pydantic import BaseModel, ConfigDict, Field

from scribe.config import Settings
from scribe.evaluate.results import StageCost

_MB = 1024 * 1024


@dataclass
class StageHandle:
    """The stage being measured; ``result`` is filled in when its ``with`` block ends."""

    name: str
    device: str
    result: StageCost | None = None


class _PeakSampler:
    """A thread that reads this process's resident memory every ``interval`` seconds and keeps the highest."""

    def __init__(self, interval: float) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self._rss()
        self.thread = threading.Thread(target=self._run, name="scribe-cost-sampler", daemon=True)

    def _rss(self) -> int:
        return self._process.memory_info().rss

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> _PeakSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()
        self.peak = max(self.peak, self._rss())


class StageMeter:
    """Measures the stages of one consultation, in order.

    ``with meter.stage("transcribe", device="cuda") as stage: ...`` then ``stage.result`` is the
    :class:`StageCost`, also appended to ``meter.results``. A stage whose block raises is still
    measured and recorded (its compute was spent), and the exception propagates; the sampling
    thread always stops before the block's exit returns.
    """

    def __init__(self, sample_seconds: float = 0.05) -> None:
        if sample_seconds <= 0:
            raise ValueError(f"sample_seconds must be above 0 (e.g. 0.05), not {sample_seconds}")
        self.sample_seconds = sample_seconds
        self.results: list[StageCost] = []

    @contextmanager
    def stage(self, name: str, device: str = "cpu") -> Iterator[StageHandle]:
        """Measure the ``with`` block as the stage ``name`` run on ``device`` ("cpu", "cuda", "cuda:1" ...).

        Give the device the stage really ran on (not "auto"): a device starting with "cuda" counts the
        stage's wall time as GPU-held seconds.
        """
        handle = StageHandle(name, device)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        sampler = _PeakSampler(self.sample_seconds)
        try:
            with sampler:
                yield handle
        finally:
            wall = max(0.0, time.perf_counter() - wall0)
            cpu = max(0.0, time.process_time() - cpu0)
            handle.result = StageCost(
                stage=name,
                device=device,
                wall_seconds=wall,
                cpu_seconds=cpu,
                gpu_seconds=wall if device.startswith("cuda") else 0.0,
                peak_rss_mb=sampler.peak / _MB,
            )
            self.results.append(handle.result)


class Prices(BaseModel):
    """A site's figures for turning compute into energy, money and carbon. Set them: the defaults are assumptions.

    - ``cpu_watts_per_core`` 10 W: an assumed average draw of one busy core (a server processor's
      rated power divided by its cores is typically 5 to 15 W); placeholder, measure or look up yours.
    - ``gpu_watts`` 300 W: an assumed board power of a data-centre GPU at load (cards range from
      about 70 W to 700 W); placeholder, use your card's rating.
    - ``kwh_price`` 0.25 (GBP): an assumed UK non-domestic electricity price per kWh; placeholder,
      use the organisation's tariff. Set it to 0 when the per-hour prices below already include power.
    - ``cpu_core_hour_price`` and ``gpu_hour_price`` 0: the price of one core or GPU for an hour
      (cloud rates, or amortised hardware and support); unknown to scribe, so 0 until a site sets them.
    - ``carbon_g_per_kwh`` 150 g CO2e/kWh: a round assumption within the range of recent annual
      averages for the GB electricity grid; use the conversion factor the organisation reports with
      (in the UK, the government's current greenhouse gas conversion factor for electricity).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_watts_per_core: float = Field(default=10.0, ge=0)
    gpu_watts: float = Field(default=300.0, ge=0)
    kwh_price: float = Field(default=0.25, ge=0)
    cpu_core_hour_price: float = Field(default=0.0, ge=0)
    gpu_hour_price: float = Field(default=0.0, ge=0)
    currency: str = Field(default="GBP", min_length=1)
    carbon_g_per_kwh: float = Field(default=150.0, ge=0)

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        """The prices a site configured (``SCRIBE_COST_*``)."""
        return cls(
            cpu_watts_per_core=settings.cost_cpu_watts_per_core,
            gpu_watts=settings.cost_gpu_watts,
            kwh_price=settings.cost_kwh_price,
            cpu_core_hour_price=settings.cost_cpu_core_hour_price,
            gpu_hour_price=settings.cost_gpu_hour_price,
            currency=settings.cost_currency,
            carbon_g_per_kwh=settings.cost_carbon_g_per_kwh,
        )


class CostEstimate(BaseModel):
    """Compute, energy, money and carbon for some stages (one consultation, or one stage of it)."""

    model_config = ConfigDict(extra="forbid")

    cpu_seconds: float = Field(ge=0)
    gpu_seconds: float = Field(ge=0, description="GPU-held seconds, not GPU utilisation.")
    wall_seconds: float = Field(ge=0)
    peak_rss_mb: float | None = Field(description="The highest of the stages' peaks; None when none was measured.")
    energy_wh: float = Field(ge=0, description="cpu_seconds x W per core + gpu_seconds x GPU W, in watt-hours.")
    energy_cost: float = Field(ge=0, description="energy_wh / 1000 x price per kWh.")
    compute_cost: float = Field(ge=0, description="Core-hours and GPU-hours at their hourly prices.")
    total_cost: float = Field(ge=0)
    carbon_g: float = Field(ge=0, description="Grams CO2-equivalent of the energy.")
    currency: str
    assumptions: list[str]


def _assumptions(prices: Prices) -> list[str]:
    c = prices.currency
    return [
        f"CPU energy = process CPU-seconds x {prices.cpu_watts_per_core:g} W per busy core; "
        "idle power, memory, storage, cooling and the rest of the machine are not counted",
        f"GPU energy = GPU-held seconds x {prices.gpu_watts:g} W; GPU-held time is the stage's wall time on CUDA, "
        "not utilisation, so this is an upper bound for the GPU",
        f"electricity at {prices.kwh_price:g} {c} per kWh",
        f"compute at {prices.cpu_core_hour_price:g} {c} per core-hour and {prices.gpu_hour_price:g} {c} per GPU-hour"
        + (" (not set: hardware, licences and staff time are not included)" if not _compute_priced(prices) else ""),
        f"carbon at {prices.carbon_g_per_kwh:g} g CO2e per kWh",
        "defaults are assumptions; a site sets its own figures with SCRIBE_COST_* settings",
    ]


def _compute_priced(prices: Prices) -> bool:
    return bool(prices.cpu_core_hour_price or prices.gpu_hour_price)


def estimate(costs: Sequence[StageCost], prices: Prices) -> CostEstimate:
    """Sum ``costs`` (the stages of one consultation, usually) and price them with ``prices``."""
    cpu = sum(c.cpu_seconds for c in costs)
    gpu = sum(c.gpu_seconds for c in costs)
    wall = sum(c.wall_seconds for c in costs)
    peaks = [c.peak_rss_mb for c in costs if c.peak_rss_mb is not None]
    energy_wh = cpu * prices.cpu_watts_per_core / 3600 + gpu * prices.gpu_watts / 3600
    energy_cost = energy_wh / 1000 * prices.kwh_price
    compute_cost = cpu / 3600 * prices.cpu_core_hour_price + gpu / 3600 * prices.gpu_hour_price
    return CostEstimate(
        cpu_seconds=cpu,
        gpu_seconds=gpu,
        wall_seconds=wall,
        peak_rss_mb=max(peaks) if peaks else None,
        energy_wh=energy_wh,
        energy_cost=energy_cost,
        compute_cost=compute_cost,
        total_cost=energy_cost + compute_cost,
        carbon_g=energy_wh / 1000 * prices.carbon_g_per_kwh,
        currency=prices.currency,
        assumptions=_assumptions(prices),
    )


def per_stage(costs: Sequence[StageCost], prices: Prices | None = None) -> dict[str, CostEstimate]:
    """One estimate per stage name, in the order stages first appear; repeated stages are summed."""
    prices = prices or Prices()
    groups: dict[str, list[StageCost]] = {}
    for cost in costs:
        groups.setdefault(cost.stage, []).append(cost)
    return {name: estimate(group, prices) for name, group in groups.items()}
