"""The Mann-Whitney comparison on known distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sloguard.gate.comparison import compare


def test_a_clear_regression_is_higher() -> None:
    rng = np.random.default_rng(7)
    baseline = rng.normal(0.01, 0.002, 30)
    canary = rng.normal(0.05, 0.01, 30)
    result = compare(canary, baseline)
    assert result.higher
    assert result.p_value < 1e-6
    assert 0.03 < result.low < result.estimate < result.high < 0.06
    assert result.mean_ratio == pytest.approx(canary.mean() / baseline.mean())


def test_noise_is_not_a_regression() -> None:
    flagged = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        flagged += compare(rng.normal(0.01, 0.003, 20), rng.normal(0.01, 0.003, 20)).higher
    # At 98% confidence, two-sided, about 1% of equal pairs land above; the tolerance trims more.
    assert flagged <= 4


def test_a_better_canary_is_not_higher() -> None:
    rng = np.random.default_rng(3)
    result = compare(rng.normal(0.001, 0.0005, 20), rng.normal(0.02, 0.005, 20))
    assert not result.higher
    assert result.high < 0


@pytest.mark.parametrize(
    ("canary", "baseline"),
    [([0.0] * 10, [0.0] * 10), ([0.02] * 5, [0.02] * 5)],
)
def test_one_value_everywhere_tells_nothing_apart(
    canary: list[float], baseline: list[float]
) -> None:
    result = compare(canary, baseline)
    assert not result.higher and result.p_value == 1.0


@pytest.mark.parametrize(
    ("canary", "baseline", "shift"),
    [
        ([0.01] * 12, [0.0] * 12, 0.01),  # constant on each side: 1% of spans against none
        ([0.01] * 59 + [0.011], [0.0] * 60, 0.01),  # nearly constant
        ([0.03] * 20, [0.01] * 19 + [0.0], 0.02),
        ([0.01] * 10, [0.0] * 30, 0.01),
    ],
)
def test_a_difference_that_is_certain_is_a_difference(
    canary: list[float], baseline: list[float], shift: float
) -> None:
    result = compare(canary, baseline)
    assert result.higher
    assert result.low == pytest.approx(shift) and result.estimate == pytest.approx(shift)
    assert result.p_value < 0.001


@pytest.mark.parametrize(
    ("canary", "baseline"),
    [
        ([0.0] * 12, [0.01] * 12),  # all-zero canary against a failing stable
        ([0.0] * 30, [0.0] * 29 + [0.001]),
        ([0.0] * 29 + [0.001], [0.0] * 30),  # one error in 30 intervals proves nothing
    ],
)
def test_all_zero_or_nearly_so_is_never_a_regression_by_itself(
    canary: list[float], baseline: list[float]
) -> None:
    assert not compare(canary, baseline).higher


def test_a_small_shift_within_the_tolerance_band_passes() -> None:
    # Shifted by a hair on identical spread: significant, but the mean ratio stays under 1.
    baseline = np.linspace(0.010, 0.020, 40)
    canary = baseline[::-1] * 0.999
    assert not compare(canary, baseline).higher


def test_the_estimate_is_the_hodges_lehmann_shift() -> None:
    rng = np.random.default_rng(11)
    x, y = rng.normal(1.0, 1.0, 25), rng.normal(0.0, 1.0, 25)
    differences = np.sort(np.subtract.outer(x, y).ravel())
    result = compare(x, y)
    assert result.estimate == pytest.approx(float(np.median(differences)), abs=0.05)


def test_the_interval_covers_the_true_shift_at_its_confidence() -> None:
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        result = compare(rng.normal(0.5, 1.0, 30), rng.normal(0.0, 1.0, 30), confidence=0.9)
        covered += result.low <= 0.5 <= result.high
    assert 0.85 <= covered / 200 <= 0.95


def test_tiny_samples_cannot_reach_the_confidence() -> None:
    # Two against two: no ordering is significant at 98%; the interval spans zero.
    result = compare([0.05, 0.06], [0.01, 0.02])
    assert not result.higher
    assert result.low == -np.inf and result.high == np.inf


@pytest.mark.parametrize("seed", range(20))
def test_the_p_value_is_scipys_mann_whitney_u(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Rounded, so ties within and across the samples are common, as with error ratios.
    x = np.round(rng.normal(0.010, 0.004, 15 + seed), 3)
    y = np.round(rng.normal(0.011, 0.004, 25), 3)
    expected = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic").pvalue
    assert compare(x, y).p_value == pytest.approx(expected, rel=1e-9)
