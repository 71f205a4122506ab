"""Tests for scribe.evaluate.cost: measured CPU, wall and memory of real work, and hand-priced estimates."""

from __future__ import annotations

import mmap
import threading
import time

import pytest

from scribe.config import Settings
from scribe.evaluate.cost import Prices, StageMeter, estimate, per_stage
from scribe.evaluate.results import StageCost


def _busy(seconds: float) -> int:
    """Spin the CPU in this thread for at least ``seconds`` of CPU time."""
    start, n = time.process_time(), 0
    while time.process_time() - start < seconds:
        n += 1
    return n


def _samplers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "scribe-cost-sampler"]


def test_busy_loop_is_measured_as_cpu_time():
    meter = StageMeter()
    with meter.stage("transcribe") as stage:
        assert stage.result is None  # filled in when the block ends
        _busy(0.2)
    cost = stage.result
    assert cost is not None and meter.results == [cost]
    assert cost.stage == "transcribe" and cost.device == "cpu"
    assert cost.cpu_seconds > 0.05
    # One busy thread cannot use more CPU time than time passed (a little slack for the clocks' resolution).
    assert cost.wall_seconds >= cost.cpu_seconds - 0.01
    assert cost.gpu_seconds == 0.0


def test_sleeping_uses_wall_time_not_cpu():
    meter = StageMeter()
    with meter.stage("wait") as stage:
        time.sleep(0.3)
    assert stage.result.wall_seconds >= 0.3
    assert stage.result.cpu_seconds < 0.1


def test_cuda_stage_counts_its_wall_time_as_gpu_held():
    meter = StageMeter()
    with meter.stage("draft", device="cuda:0") as stage:
        time.sleep(0.1)
    assert stage.result.gpu_seconds == stage.result.wall_seconds >= 0.1


def test_a_100_mb_allocation_raises_the_peak_by_at_least_80_mb():
    meter = StageMeter(sample_seconds=0.01)
    with meter.stage("idle") as idle:
        time.sleep(0.1)
    with meter.stage("allocate") as allocate:
        # Fresh pages from an anonymous mapping, every page written so it is resident: heap memory could
        # come from what earlier tests freed, which a long-lived test process already counts as resident.
        block = mmap.mmap(-1, 100 * 1024 * 1024)
        for offset in range(0, len(block), mmap.PAGESIZE):
            block[offset] = 1
        time.sleep(0.3)  # the sampling thread must see it: it is freed before the block ends
        block.close()
    assert idle.result.peak_rss_mb is not None
    assert allocate.result.peak_rss_mb - idle.result.peak_rss_mb >= 80


def test_an_exception_propagates_is_recorded_and_stops_the_sampler():
    meter = StageMeter()
    before = len(_samplers())
    with pytest.raises(RuntimeError, match="model crashed"), meter.stage("draft") as stage:
        assert len(_samplers()) == before + 1  # sampling while the stage runs
        raise RuntimeError("model crashed")
    assert len(_samplers()) == before
    assert stage.result is not None and meter.results == [stage.result]


def test_stages_are_kept_in_order():
    meter = StageMeter()
    for name in ("transcribe", "draft", "letter"):
        with meter.stage(name):
            pass
    assert [c.stage for c in meter.results] == ["transcribe", "draft", "letter"]


def test_sample_interval_must_be_positive():
    with pytest.raises(ValueError, match="sample_seconds"):
        StageMeter(sample_seconds=0)


COSTS = [
    StageCost(stage="transcribe", device="cpu", wall_seconds=100, cpu_seconds=360, peak_rss_mb=900),
    StageCost(stage="draft", device="cuda", wall_seconds=60, cpu_seconds=36, gpu_seconds=60, peak_rss_mb=1500),
    StageCost(stage="letter", device="cpu", wall_seconds=5, cpu_seconds=18, peak_rss_mb=None),
]


def test_estimate_by_hand():
    prices = Prices(
        cpu_watts_per_core=10,
        gpu_watts=300,
        kwh_price=0.25,
        cpu_core_hour_price=0.05,
        gpu_hour_price=2.0,
        carbon_g_per_kwh=150,
    )
    out = estimate(COSTS, prices)
    # CPU 360 + 36 + 18 = 414 s; GPU 60 s; wall 165 s.
    assert (out.cpu_seconds, out.gpu_seconds, out.wall_seconds) == (414, 60, 165)
    assert out.peak_rss_mb == 1500
    # Energy: 414 s x 10 W / 3600 = 1.15 Wh; 60 s x 300 W / 3600 = 5 Wh; 6.15 Wh in all.
    assert out.energy_wh == pytest.approx(6.15)
    # 6.15 Wh = 0.00615 kWh x 0.25 = 0.0015375.
    assert out.energy_cost == pytest.approx(0.0015375)
    # 414 / 3600 core-hours x 0.05 = 0.00575; 60 / 3600 GPU-hours x 2.0 = 0.0333...
    assert out.compute_cost == pytest.approx(0.00575 + 2.0 / 60)
    assert out.total_cost == pytest.approx(0.0015375 + 0.00575 + 2.0 / 60)
    # 0.00615 kWh x 150 g = 0.9225 g.
    assert out.carbon_g == pytest.approx(0.9225)
    assert out.currency == "GBP"
    assert any("10 W per busy core" in a for a in out.assumptions)
    assert any("upper bound" in a for a in out.assumptions)


def test_unset_compute_prices_are_said_to_be_unset():
    out = estimate(COSTS, Prices())
    assert out.compute_cost == 0
    assert any("not set" in a for a in out.assumptions)


def test_estimate_of_nothing_is_zero_with_no_peak():
    out = estimate([], Prices())
    assert (out.cpu_seconds, out.energy_wh, out.total_cost, out.peak_rss_mb) == (0, 0, 0, None)


def test_per_stage_groups_repeated_stages_in_first_seen_order():
    costs = [*COSTS, StageCost(stage="draft", device="cpu", wall_seconds=10, cpu_seconds=72)]
    out = per_stage(costs, Prices(cpu_watts_per_core=10, gpu_watts=300))
    assert list(out) == ["transcribe", "draft", "letter"]
    # draft: CPU 36 + 72 = 108 s -> 0.3 Wh; GPU 60 s -> 5 Wh.
    assert out["draft"].cpu_seconds == 108
    assert out["draft"].energy_wh == pytest.approx(5.3)
    assert out["transcribe"].energy_wh == pytest.approx(1.0)  # 360 s x 10 W / 3600
    assert out["letter"].peak_rss_mb is None


def test_prices_from_settings():
    settings = Settings(
        cost_cpu_watts_per_core=7.5,
        cost_gpu_watts=72,
        cost_kwh_price=0.3,
        cost_cpu_core_hour_price=0.01,
        cost_gpu_hour_price=0.8,
        cost_currency="EUR",
        cost_carbon_g_per_kwh=200,
    )
    assert Prices.from_settings(settings) == Prices(
        cpu_watts_per_core=7.5,
        gpu_watts=72,
        kwh_price=0.3,
        cpu_core_hour_price=0.01,
        gpu_hour_price=0.8,
        currency="EUR",
        carbon_g_per_kwh=200,
    )
