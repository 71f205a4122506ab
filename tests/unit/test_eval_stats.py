"""Tests for scribe.evaluate.stats: the bootstrap on a known distribution, exact values for tiny and
constant inputs, bootstraps whose percentile interval can be worked out by hand, and pooled rates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from scribe.evaluate.stats import Estimate, bootstrap, bootstrap_difference, fmt, pooled_rate


def test_normal_sample_interval_contains_the_mean_and_has_the_textbook_width():
    draws = np.random.default_rng(4).normal(10, 2, 2000)
    est = bootstrap(draws.tolist(), seed=1)
    assert est.statistic == "mean" and est.n == 2000 and est.level == 0.95
    assert est.value == pytest.approx(float(draws.mean()))
    assert est.low < 10 < est.high
    expected_width = 2 * 1.96 * 2 / math.sqrt(2000)  # 0.1753
    assert est.high - est.low == pytest.approx(expected_width, rel=0.15)


def test_no_cases_gives_no_value_and_one_case_gives_no_interval():
    assert bootstrap([]) == Estimate(statistic="mean", value=None, low=None, high=None, n=0)
    assert bootstrap([4.0], "median") == Estimate(statistic="median", value=4.0, low=None, high=None, n=1)


def test_constant_values_give_an_interval_of_zero_width():
    for statistic in ("mean", "median"):
        est = bootstrap([0.1] * 7, statistic)
        assert est.low == est.high == est.value
        assert est.value == pytest.approx(0.1)
        assert est.n == 7


def test_two_point_sample_percentile_interval_by_hand():
    # Resampling [0, 1] twice gives a mean of 0 (p=1/4), 0.5 (1/2) or 1 (1/4): with 2000 draws
    # the 2.5th percentile is 0 and the 97.5th is 1.
    est = bootstrap([0.0, 1.0], seed=3)
    assert (est.value, est.low, est.high) == (0.5, 0.0, 1.0)


def test_median_and_mean_differ_on_a_skewed_sample():
    skewed = [1.0] * 9 + [100.0]
    mean, median = bootstrap(skewed, "mean"), bootstrap(skewed, "median")
    assert mean.value == pytest.approx(10.9)
    assert median.value == 1.0
    # A resample's median leaves 1 only if at least 5 of its 10 draws are the outlier
    # (p about 0.0016), so the median's interval is [1, 1]; the mean's is wide.
    assert (median.low, median.high) == (1.0, 1.0)
    assert mean.low >= 1.0 and mean.high - mean.low > 10


def test_same_seed_same_interval_other_seed_other_interval():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    assert bootstrap(values, seed=5) == bootstrap(values, seed=5)
    assert bootstrap(values, seed=5) != bootstrap(values, seed=6)
    assert bootstrap(values, seed=5).value == bootstrap(values, seed=6).value == pytest.approx(31 / 8)


def test_level_narrows_the_interval():
    values = np.random.default_rng(2).normal(0, 1, 200).tolist()
    wide, narrow = bootstrap(values, level=0.95), bootstrap(values, level=0.5)
    assert wide.low < narrow.low < narrow.high < wide.high
    assert narrow.level == 0.5


def test_difference_of_two_known_groups():
    rng = np.random.default_rng(11)
    a, b = rng.normal(12, 1, 500), rng.normal(10, 1, 500)
    est = bootstrap_difference(a.tolist(), b.tolist(), seed=2)
    assert est.statistic == "difference of means" and est.n == 1000
    assert est.value == pytest.approx(float(a.mean() - b.mean()))
    assert est.low < 2 < est.high
    assert est.high - est.low == pytest.approx(2 * 1.96 * math.sqrt(1 / 500 + 1 / 500), rel=0.15)


def test_difference_exact_small_cases():
    assert bootstrap_difference([5.0, 5.0, 5.0], [2.0, 2.0]) == Estimate(
        statistic="difference of means", value=3.0, low=3.0, high=3.0, n=5
    )
    median = bootstrap_difference([1.0, 2.0, 3.0], [0.0, 0.0, 10.0], "median")
    assert (median.statistic, median.value) == ("difference of medians", 2.0)
    mean = bootstrap_difference([1.0, 2.0, 3.0], [0.0, 0.0, 10.0])
    assert mean.value == pytest.approx(2 - 10 / 3)
    assert bootstrap_difference([1.0, 2.0], []).value is None
    one = bootstrap_difference([4.0], [1.0, 2.0])
    assert (one.value, one.low, one.high, one.n) == (2.5, None, None, 3)


def test_difference_by_hand_two_point_groups():
    # a = [0, 1] resampled: means 0, .5, 1 (p 1/4, 1/2, 1/4); b = [0, 0] is constant, so the
    # difference's interval is a's: [0, 1].
    est = bootstrap_difference([0.0, 1.0], [0.0, 0.0])
    assert (est.value, est.low, est.high) == (0.5, 0.0, 1.0)


def test_pooled_rate_pools_counts_not_per_case_rates():
    est = pooled_rate([1, 3, 0], [10, 10, 20])
    assert est.statistic == "rate" and est.n == 3
    assert est.value == pytest.approx(4 / 40)  # not the mean of rates, (0.1 + 0.3 + 0) / 3
    assert 0.0 <= est.low <= 0.1 <= est.high <= 0.3  # a resample's rate lies between the per-case extremes


def test_pooled_rate_resamples_whole_cases():
    # Two cases, rates 0/10 and 10/10: a resample is both copies of one (0 or 1) or one of each
    # (10/20 = 0.5), so the interval is [0, 1].
    est = pooled_rate([0, 10], [10, 10], seed=4)
    assert (est.value, est.low, est.high) == (0.5, 0.0, 1.0)


def test_pooled_rate_edge_cases():
    assert pooled_rate([], []).value is None
    assert pooled_rate([2, 0], [0, 0]) == Estimate(statistic="rate", value=None, low=None, high=None, n=2)
    assert pooled_rate([3], [4]) == Estimate(statistic="rate", value=0.75, low=None, high=None, n=1)
    same = pooled_rate([1, 2], [10, 20])
    assert same.value == same.low == same.high == pytest.approx(0.1)
    with pytest.raises(ValueError, match="one entry per case"):
        pooled_rate([1, 2], [3])
    with pytest.raises(ValueError, match="counts"):
        pooled_rate([-1], [3])


def test_bad_inputs_say_what_to_do():
    with pytest.raises(ValueError, match="leave out cases without a value"):
        bootstrap([1.0, float("nan")])
    with pytest.raises(ValueError, match="level must lie between 0 and 1"):
        bootstrap([1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="resamples must be at least 1"):
        bootstrap([1.0, 2.0], resamples=0)
    with pytest.raises(ValueError, match="'mean' or 'median'"):
        bootstrap([1.0, 2.0], "mode")  # type: ignore[arg-type]


def test_estimate_is_frozen_and_strict():
    est = bootstrap([1.0, 2.0])
    with pytest.raises(ValidationError):
        est.value = 3.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Estimate(statistic="mean", value=1.0, low=None, high=None, n=1, extra=1)  # type: ignore[call-arg]


def test_large_samples_are_resampled_in_chunks_with_the_same_result_shape():
    values = np.random.default_rng(0).normal(5, 1, 20_000).tolist()  # 2000 x 20000 would be 320 MB at once
    est = bootstrap(values, resamples=200)
    assert est.low < est.value < est.high and est.n == 20_000


def test_fmt():
    assert fmt(Estimate(statistic="mean", value=7.0, low=6.1, high=7.9, n=12)) == "7.00 (95% CI 6.10 to 7.90; n=12)"
    assert fmt(bootstrap([4.0])) == "4.00 (n=1, no interval)"
    assert fmt(bootstrap([])) == "no cases (n=0)"
