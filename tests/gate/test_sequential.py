"""The sequential count test: its likelihood ratio, its false failures when asked every
minute, its power, and its guard against errors that come in clusters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sloguard.charts import evidence
from sloguard.gate.model import Interval
from sloguard.gate.sequential import RATIOS, above, dispersion, sequential

STEP = 60.0


def version(errors: np.ndarray, total: np.ndarray, start: int = 0) -> list[Interval]:
    return [
        Interval((start + m + 1) * STEP, float(e) / STEP, float(t) / STEP)
        for m, (e, t) in enumerate(zip(errors, total, strict=True))
    ]


def served(
    rng: np.random.Generator, rps: float, ratio: float, minutes: int, cluster: float = 1.0
) -> list[Interval]:
    """Poisson requests a minute; errors independent, or in clusters of `cluster` on average
    (geometric sizes: a client retrying)."""
    total = rng.poisson(rps * STEP, minutes)
    clusters = rng.binomial(total, ratio / cluster)
    extra = rng.negative_binomial(np.maximum(clusters, 1), 1 / cluster) if cluster > 1 else 0
    errors = np.where(clusters > 0, clusters + extra, 0)
    return version(errors, total)


def failed_within(canary: list[Interval], baseline: list[Interval], history: int) -> bool:
    """Asked every minute from the canary's first: whether it ever failed."""
    return any(
        sequential(canary[history : history + m], baseline[: history + m], STEP).higher
        for m in range(1, len(canary) - history + 1)
    )


def test_one_step_is_the_binomial_mixture_of_the_canarys_share_of_the_errors() -> None:
    canary = version(np.array([7]), np.array([1000]))
    baseline = version(np.array([20]), np.array([9000]))
    result = sequential(canary, baseline, STEP)
    share = 0.1
    null = stats.binom.pmf(7, 27, share)
    worse = [stats.binom.pmf(7, 27, r * share / (r * share + 1 - share)) for r in RATIOS]
    assert result.evidence == pytest.approx(np.mean(worse) / null, rel=1e-9)
    assert result.expected == pytest.approx(27 * share)
    assert result.ratio == pytest.approx((7 / 1000) / (20 / 9000))
    assert (result.steps, result.canary_errors, result.baseline_errors) == (1, 7, 20)


def test_steps_where_either_version_served_nothing_are_left_out() -> None:
    canary = version(np.array([3, 5, 0]), np.array([600, 0, 600]))
    baseline = version(np.array([9, 9, 9]), np.array([5400, 5400, 0]))
    result = sequential(canary, baseline, STEP)
    alone = sequential(canary[:1], baseline[:1], STEP)
    assert result.steps == 1 and result.evidence == pytest.approx(alone.evidence)


@pytest.mark.parametrize(("rps", "ratio"), [(10.0, 0.001), (100.0, 0.0001), (100.0, 0.01)])
def test_healthy_canaries_asked_every_minute_for_an_hour_rarely_fail(
    rps: float, ratio: float
) -> None:
    # At most 1 - 0.98 however often asked (Ville's inequality); 200 canaries, 60 looks each.
    failed = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        failed += failed_within(served(rng, rps, ratio, 60), served(rng, rps * 9, ratio, 60), 0)
    assert failed <= 6  # 3%: the bound and some room for the draw (binomial sd 2)


def test_a_canary_failing_twice_as_often_at_100_requests_a_second_is_caught() -> None:
    caught = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        baseline = served(rng, 900, 0.001, 70)
        canary = served(rng, 100, 0.002, 70)
        caught += failed_within(canary, baseline, 60)
    assert caught >= 36  # 100% is the most any test can do here (see bench/gate_quality.py)


def test_a_canary_failing_fifty_times_as_often_fails_after_a_handful_of_errors() -> None:
    baseline = version(np.zeros(60, int) + 1, np.full(60, 5400))  # 1 in 5,400 on stable
    canary = version(np.array([4]), np.array([600]), start=59)
    result = sequential(canary, baseline, STEP)
    assert result.higher and result.canary_errors == 4


def test_a_canary_within_the_allowed_increase_passes() -> None:
    rng = np.random.default_rng(1)
    baseline, canary = served(rng, 900, 0.001, 30), served(rng, 100, 0.002, 30)
    assert sequential(canary, baseline, STEP).higher  # 2x at 98%: caught
    assert not sequential(canary, baseline, STEP, allowed_increase=3.0).higher


def test_dispersion_is_one_for_independent_errors_and_the_cluster_size_for_fixed_clusters() -> None:
    rng = np.random.default_rng(3)
    total = np.full(60, 6000)
    single = version(rng.poisson(6.0, 60), total)
    assert dispersion(single, single, STEP) == pytest.approx(1.0, abs=0.35)
    fours = version(4 * rng.poisson(1.5, 60), total)
    assert dispersion(fours, fours, STEP) == pytest.approx(4.0, rel=0.3)
    # A canary uniformly worse does not count: each version about its own ratio.
    worse = version(rng.poisson(60.0, 60), total)
    assert dispersion(worse, single, STEP) < 1.5
    assert dispersion(version(np.array([5]), np.array([600])), [], STEP) == 1.0  # one step


def test_clustered_errors_on_a_healthy_canary_do_not_fail_it() -> None:
    # Errors in clusters of four on average: counted as independent they fail a third of
    # healthy canaries within 30 minutes; tempered by the dispersion, few.
    failed = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        baseline = served(rng, 900, 0.001, 90, cluster=4)
        canary = served(rng, 100, 0.001, 90, cluster=4)[60:]
        failed += failed_within(canary, baseline, 60)
    assert failed <= 4


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 10**6), st.integers(1, 10**6), st.floats(0.0, 1.0)),
        min_size=1,
        max_size=60,
    ),
    st.floats(0.0, 0.5),
)
def test_a_canary_never_failing_more_often_than_its_baseline_never_fails(
    steps: list[tuple[int, int, float]], ratio: float
) -> None:
    canary_total = np.array([c for c, _, _ in steps])
    baseline_total = np.array([b for _, b, _ in steps])
    baseline_errors = baseline_total * ratio  # counts from rates need not be whole
    # In every step the canary's error ratio is at most the baseline's.
    canary_errors = canary_total * ratio * np.array([f for _, _, f in steps])
    result = sequential(
        version(canary_errors, canary_total), version(baseline_errors, baseline_total), STEP
    )
    assert not result.higher and result.evidence <= 1 + 1e-9


@settings(max_examples=200, deadline=None)
@given(st.integers(5, 60), st.integers(1, 5), st.floats(0.5, 0.95))
def test_steady_canary_errors_against_a_clean_baseline_fail_once_there_are_ten(
    minutes: int, per_minute: int, baseline_share: float
) -> None:
    requests = 10_000
    canary = version(np.full(minutes, per_minute), np.full(minutes, requests))
    baseline_total = round(requests * baseline_share / (1 - baseline_share))
    baseline = version(np.zeros(minutes), np.full(minutes, baseline_total))
    result = sequential(canary, baseline, STEP)
    assert result.ratio is None  # the baseline is clean: no ratio to give
    if minutes * per_minute >= 10:
        assert result.higher, result


def test_counts_beyond_a_floats_range_are_no_evidence() -> None:
    canary = [Interval(STEP, 1e306, 1e306)]
    baseline = [Interval(STEP, 1e306, 1e306)]
    result = sequential(canary, baseline, STEP)
    assert math.isnan(result.evidence) and not result.higher


def test_the_evidence_is_drawn_against_its_bound() -> None:
    drawn = evidence(1250.0, 50.0, 12, 3.4)
    assert 'data-evidence="1250"' in drawn and "fails at 50" in drawn
    assert "12 canary errors where at most 3.4 were expected" in drawn
    assert 'data-evidence="0"' in evidence(0.0, 50.0, 0, 0.0)  # drawn at the scale's start


def test_above_a_limit_is_the_binomial_mixture_of_the_canarys_errors() -> None:
    canary = version(np.array([30]), np.array([1000]))
    result = above(canary, [], STEP, 0.0144)
    worse = [stats.binom.pmf(30, 1000, 0.0144 * r) for r in RATIOS if 0.0144 * r < 1]
    expected = sum(worse) / len(RATIOS) / stats.binom.pmf(30, 1000, 0.0144)
    assert result.evidence == pytest.approx(expected, rel=1e-9) and result.higher
    assert not above(canary, [], STEP, 0.5).higher  # 3% is well under a 50% limit
    assert above([], [], STEP, 0.0144).evidence == 1.0  # nothing served: no evidence


def test_a_canary_burning_near_but_under_the_limit_rarely_fails_however_often_asked() -> None:
    # 10x the budget of a 99.9% SLO against the page tier's 14.4x, asked every minute.
    failed = 0
    for seed in range(200):
        canary = served(np.random.default_rng(seed), 10, 0.01, 60)
        failed += any(above(canary[:m], [], STEP, 0.0144).higher for m in range(1, 61))
    assert failed <= 2


def test_error_ratios_swelling_for_both_versions_do_not_temper_the_test() -> None:
    # Each minute both versions' error ratio is the same multiple (0.2x-5x) of its usual: the
    # split between them stays binomial, so only the first steps lean on the window's figure.
    rng = np.random.default_rng(4)
    swell = np.exp(rng.normal(0.0, 0.8, 30))
    total = np.full(30, 6000)
    canary = version(rng.poisson(6.0 * swell * 2), total // 9)  # twice the baseline's ratio
    baseline = version(rng.poisson(54.0 * swell), total)
    window = dispersion(canary, baseline, STEP)
    assert window > 10  # each version alone looks lumpy
    result = sequential(canary, baseline, STEP)
    assert result.dispersion < window / 10 and result.higher
