"""The statistics engine: honest under daily peeking, SRM at p < 0.001, CUPED."""

from __future__ import annotations

import numpy as np

from headwater.experiments._stats import (
    chi_square_sf,
    cuped_adjust,
    difference_interval,
    half_width,
    normal_cdf,
    sample_ratio_check,
)


def _peeked_aa_false_positive_rate(method: str) -> float:
    """2,000 A/A experiments, 200 subjects per arm per day, 10 % conversion, looked at
    after each of 30 days; a false positive is any day whose interval excludes 0."""
    rng = np.random.default_rng(20_181)
    experiments, days, daily, rate = 2000, 30, 200, 0.10
    a = rng.binomial(daily, rate, size=(experiments, days)).cumsum(axis=1).astype(float)
    b = rng.binomial(daily, rate, size=(experiments, days)).cumsum(axis=1).astype(float)
    n = daily * np.arange(1, days + 1, dtype=float)
    pa, pb = a / n, b / n
    va, vb = pa * (1 - pa) * n / (n - 1), pb * (1 - pb) * n / (n - 1)
    width = half_width(va / n + vb / n, (va + vb) / 2, method=method)  # type: ignore[arg-type]
    return float((np.abs(pb - pa) > width).any(axis=1).mean())


def test_daily_peeking_at_aa_tests_keeps_false_positives_at_alpha_with_the_default() -> None:
    sequential = _peeked_aa_false_positive_rate("sequential")
    naive = _peeked_aa_false_positive_rate("fixed")
    print(
        f"A/A false positive rate, peeked daily for 30 days: sequential {sequential:.3f}, "
        f"naive fixed-horizon {naive:.3f}"
    )
    assert sequential <= 0.055
    # The naive test, shown alongside, is what peeking does to a fixed-horizon test.
    assert naive >= 0.15


def test_sequential_interval_still_finds_a_real_effect() -> None:
    rng = np.random.default_rng(7)
    a = rng.binomial(1, 0.10, 20_000).astype(float)
    b = rng.binomial(1, 0.12, 20_000).astype(float)
    interval = difference_interval(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    assert interval.significant
    assert interval.low > 0
    assert interval.method == "sequential"


def test_a_49_51_split_at_100k_subjects_is_flagged_and_50_50_is_not() -> None:
    flagged = sample_ratio_check([49_000, 51_000], [1, 1])
    assert flagged.mismatch
    assert flagged.p_value < 1e-6
    fine = sample_ratio_check([50_100, 49_900], [1, 1])
    assert not fine.mismatch


def test_chi_square_survival_matches_known_quantiles() -> None:
    assert abs(chi_square_sf(3.841458820694124, 1) - 0.05) < 1e-9
    assert abs(chi_square_sf(5.991464547107979, 2) - 0.05) < 1e-9
    assert abs(chi_square_sf(10.827566170662733, 1) - 0.001) < 1e-9
    assert abs(chi_square_sf(30.0, 40) - 0.8747) < 1e-3
    assert abs(normal_cdf(1.959963984540054) - 0.975) < 1e-12


def test_cuped_narrows_the_interval_when_the_pre_period_predicts_the_outcome() -> None:
    rng = np.random.default_rng(3)
    x = rng.poisson(2.0, 10_000).astype(float)
    y = 0.5 * x + rng.normal(0, 1, 10_000)
    adjusted, theta = cuped_adjust(y, x)
    assert abs(theta - 0.5) < 0.05
    assert adjusted.var() < 0.7 * y.var()
    assert abs(adjusted.mean() - y.mean()) < 1e-9
