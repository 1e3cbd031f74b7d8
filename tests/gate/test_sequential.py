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
from sloguard.gate.decision import decide_slo
from sloguard.gate.model import Interval, Observation, Verdict
from sloguard.gate.sequential import (
    MOST_DISPERSION,
    RATIOS,
    above,
    history_dispersion,
    sequential,
    tempering,
)
from tests.support.gate import event_slo as slo

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


def test_each_step_is_the_binomial_mixture_of_the_canarys_share_of_the_errors() -> None:
    canary = version(np.array([7, 7]), np.array([1000, 1000]))
    baseline = version(np.array([20, 20]), np.array([9000, 9000]))
    result = sequential(canary, baseline, STEP)
    share = 0.1
    null = stats.binom.pmf(7, 27, share)
    worse = [stats.binom.pmf(7, 27, r * share / (r * share + 1 - share)) for r in RATIOS]
    # Tempered by the dispersion: the baseline's two alike steps show no clustering, weighed
    # against the prior's 2 over 5 steps (5/3); of the canary's, the one left after the most
    # deviating is left out measures none. Each step floored.
    assert result.dispersion == pytest.approx(5 / 3)
    step = [max(math.log(w / null) * 3 / 5, -6.0) for w in worse]
    assert result.evidence == pytest.approx(np.mean(np.exp(2 * np.array(step))), rel=1e-9)
    assert result.expected == pytest.approx(2 * 27 * share)
    assert result.ratio == pytest.approx((7 / 1000) / (20 / 9000))
    assert (result.steps, result.canary_errors, result.baseline_errors) == (2, 14, 40)


@pytest.mark.parametrize(
    ("canary_errors", "baseline_errors"),
    [([60], [9]), ([0, 60], [9, 9]), ([0, 60, 0], [0, 0, 0])],
    ids=["one step", "one bad step", "against a clean baseline"],
)
def test_one_step_alone_never_decides(canary_errors: list[int], baseline_errors: list[int]) -> None:
    # 60 errors in 1,000 requests where the baseline fails 1 in 1,000 (or never): a pod's first
    # minute, a retry storm. Overwhelming as a count, but one step.
    minutes = len(canary_errors)
    canary = version(np.array(canary_errors), np.full(minutes, 1000))
    baseline = version(np.array(baseline_errors), np.full(minutes, 9000))
    result = sequential(canary, baseline, STEP)
    assert result.evidence <= 1.0 and not result.higher
    assert not above(canary, STEP, 0.0144).higher  # nor against the burn-rate limit
    # Nor a pass while it is the latest: it may be an outage's first minute.
    assert result.latest_step_higher == (canary_errors[-1] == 60)
    # The same again another minute decides.
    again = version(np.array([*canary_errors, 60]), np.full(minutes + 1, 1000))
    more = version(np.array([*baseline_errors, 9]), np.full(minutes + 1, 9000))
    assert sequential(again, more, STEP).higher
    assert above(version(np.array([60, 60]), np.full(2, 1000)), STEP, 0.0144).higher


def test_steps_where_either_version_served_nothing_are_left_out() -> None:
    canary = version(np.array([3, 5, 0]), np.array([600, 0, 600]))
    baseline = version(np.array([9, 9, 9]), np.array([5400, 5400, 0]))
    result = sequential(canary, baseline, STEP)
    assert (result.steps, result.canary_errors, result.baseline_errors) == (1, 3, 9)


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


def test_the_step_saying_most_counts_for_what_the_others_say_and_no_less() -> None:
    # The bad step counts for nothing, not against the canary: the evidence is the clean
    # step's alone (no errors of the canary's where 0.9 of 9 were expected).
    canary = version(np.array([0, 60]), np.full(2, 1000))
    baseline = version(np.array([9, 9]), np.full(2, 9000))
    result = sequential(canary, baseline, STEP)
    spread = np.log(1.0 / (0.1 * RATIOS + 0.9))
    clean = np.maximum(9 * spread / result.dispersion, -6.0)
    assert result.evidence == pytest.approx(np.mean(np.exp(clean)), rel=1e-9)


def test_an_incident_on_both_versions_does_not_cancel_the_canarys_later_minutes() -> None:
    # Both fail 10% for a minute, then the canary fails 1% beside a baseline at 0.1%: what the
    # incident says for the canary counts at the floor, as everywhere, and no more.
    canary = version(np.array([100, 10, 10]), np.full(3, 1000), start=60)
    baseline = version(np.array([9] * 60 + [900, 9, 9]), np.full(63, 9000))
    assert sequential(canary, baseline, STEP).higher


def test_a_canary_whose_latest_minute_is_an_outage_is_not_passed() -> None:
    # Ten clean minutes of a 99% SLO's canary, then all of its requests fail, beside a clean
    # baseline: the window's burn (about 10x) is within the limit, and one minute does not
    # fail it; the next minute like it does.
    rng = np.random.default_rng(0)
    spec = slo().model_copy(update={"objective": 99.0})
    baseline_total, canary_total = rng.poisson(5400, 72), rng.poisson(600, 12)
    canary_errors = np.zeros(12)
    canary_errors[10:] = canary_total[10:]
    canary = version(canary_errors, canary_total, start=60)
    baseline = version(np.zeros(72), baseline_total)
    first = decide_slo(spec, Observation(canary[:11], baseline[:71], STEP, 0.8))
    assert first.verdict is Verdict.INCONCLUSIVE, first.reason
    assert "latest interval alone" in first.reason
    second = decide_slo(spec, Observation(canary, baseline, STEP, 0.8))
    assert second.verdict is Verdict.FAIL, second.reason


def test_a_canary_failing_fifty_times_as_often_fails_after_a_handful_of_errors() -> None:
    baseline = version(np.zeros(60, int) + 1, np.full(60, 5400))  # 1 in 5,400 on stable
    canary = version(np.array([4, 4]), np.array([600, 600]), start=58)
    result = sequential(canary, baseline, STEP)
    assert result.higher and result.canary_errors == 8


def test_a_canary_within_the_allowed_increase_passes() -> None:
    rng = np.random.default_rng(1)
    baseline, canary = served(rng, 900, 0.001, 30), served(rng, 100, 0.002, 30)
    assert sequential(canary, baseline, STEP).higher  # 2x at 98%: caught
    assert not sequential(canary, baseline, STEP, allowed_increase=3.0).higher


def test_dispersion_is_one_for_independent_errors_and_the_cluster_size_for_fixed_clusters() -> None:
    rng = np.random.default_rng(3)
    total = np.full(60, 6000)
    baseline = version(rng.poisson(54.0, 60), total * 9)
    single = sequential(version(rng.poisson(6.0, 60), total), baseline, STEP)
    assert single.dispersion == pytest.approx(1.0, abs=0.35)
    fours = sequential(
        version(4 * rng.poisson(1.5, 60), total),
        version(4 * rng.poisson(13.5, 60), total * 9),
        STEP,
    )
    assert fours.dispersion == pytest.approx(4.0, rel=0.3)
    # Errors judged lumpy from few steps weigh the prior's 5 steps; never beyond the cap.
    assert tempering(np.zeros((0, 2))) == 2.0
    assert tempering(np.array([[1e9, 1.0], [1e9, 1.0]])) == MOST_DISPERSION


def test_the_baselines_clustering_is_measured_whole_and_an_incidents_minute_left_out() -> None:
    # Clusters of 4 on average, geometric sizes: counts vary 7 times as much as single errors
    # (E[size^2] / E[size] = 28 / 4). Leaving out each hour's largest minute read about 5.9.
    measured = [
        history_dispersion(served(np.random.default_rng(seed), 900, 0.01, 60, 4), STEP)
        for seed in range(60)
    ]
    assert np.mean(measured) == pytest.approx(7.0, rel=0.08)
    # An hour of single errors with one minute at 20%: that minute is an incident, not
    # clustering.
    rng = np.random.default_rng(5)
    total = rng.poisson(5400, 60)
    errors = rng.binomial(total, 0.001)
    errors[20] = rng.binomial(total[20], 0.2)
    assert history_dispersion(version(errors, total), STEP) < 1.5


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
def test_steady_canary_errors_against_a_clean_baseline_fail_once_there_are_twenty(
    minutes: int, per_minute: int, baseline_share: float
) -> None:
    requests = 10_000
    canary = version(np.full(minutes, per_minute), np.full(minutes, requests))
    baseline_total = round(requests * baseline_share / (1 - baseline_share))
    baseline = version(np.zeros(minutes), np.full(minutes, baseline_total))
    result = sequential(canary, baseline, STEP)
    assert result.ratio is None  # the baseline is clean: no ratio to give
    # A clean baseline tells nothing of clustering: the prior's 2 halves the evidence.
    if minutes * per_minute >= 20:
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
    canary = version(np.array([15, 15]), np.array([500, 500]))
    result = above(canary, STEP, 0.0144)
    null = stats.binom.pmf(30, 1000, 0.0144)
    worse = [stats.binom.pmf(30, 1000, 0.0144 * r) / null for r in RATIOS if 0.0144 * r < 1]
    # Two alike steps show no clustering, weighed against the prior's 2 over 5 steps.
    assert result.dispersion == pytest.approx(5 / 3)
    expected = sum(w ** (3 / 5) for w in worse) / len(RATIOS)
    assert result.evidence == pytest.approx(expected, rel=1e-9)
    assert not result.higher  # 3% of 1,000 is not yet evidence against 1.44%, tempered
    assert above(version(np.array([30, 30]), np.array([500, 500])), STEP, 0.0144).higher
    assert not above(canary, STEP, 0.5).higher  # 3% is well under a 50% limit
    assert above([], STEP, 0.0144).evidence == 1.0  # nothing served: no evidence


def test_a_canary_burning_near_but_under_the_limit_rarely_fails_however_often_asked() -> None:
    # 10x the budget of a 99.9% SLO against the page tier's 14.4x, asked every minute.
    failed = 0
    for seed in range(200):
        canary = served(np.random.default_rng(seed), 10, 0.01, 60)
        failed += any(above(canary[:m], STEP, 0.0144).higher for m in range(1, 61))
    assert failed <= 2


def test_error_ratios_swelling_for_both_versions_do_not_temper_the_test() -> None:
    # Each minute both versions' error ratio is the same multiple (0.2x-5x) of its usual: the
    # split between them stays binomial.
    rng = np.random.default_rng(4)
    swell = np.exp(rng.normal(0.0, 0.8, 30))
    total = np.full(30, 6000)
    canary = version(rng.poisson(6.0 * swell * 2), total // 9)  # twice the baseline's ratio
    baseline = version(rng.poisson(54.0 * swell), total)
    result = sequential(canary, baseline, STEP)
    assert result.dispersion < 3 and result.higher


def stable_then_canary(
    rng: np.random.Generator, factor: float, spike: tuple[int, float] | None = None
) -> tuple[list[Interval], list[Interval]]:
    """An hour of stable at 90 req/s and 0.1% errors, then 30 minutes beside a canary at
    10 req/s failing `factor` times as often; `spike`: a minute (of the 90) at that error ratio
    on stable, and on the canary too when it serves then."""
    stable_total, canary_total = rng.poisson(5400, 90), rng.poisson(600, 30)
    stable_errors = rng.binomial(stable_total, 0.001)
    canary_errors = rng.binomial(canary_total, 0.001 * factor)
    if spike is not None:
        minute, ratio = spike
        stable_errors[minute] = rng.binomial(stable_total[minute], ratio)
        if minute >= 60:
            canary_errors[minute - 60] = rng.binomial(canary_total[minute - 60], ratio)
    return version(canary_errors, canary_total, start=60), version(stable_errors, stable_total)


@pytest.mark.parametrize("spike", [(20, 0.2), (75, 0.2)], ids=["before the canary", "on both"])
def test_one_bad_minute_does_not_hide_a_canary_failing_five_times_as_often(
    spike: tuple[int, float],
) -> None:
    # An incident's minute, on stable before the canary started or on both versions at once,
    # is neither taken for clustering nor lets its errors, split alike, outweigh the rest.
    caught = 0
    for seed in range(40):
        canary, baseline = stable_then_canary(np.random.default_rng(seed), 5.0, spike)
        caught += (
            decide_slo(slo(), Observation(canary, baseline, STEP, 0.8)).verdict is Verdict.FAIL
        )
    assert caught >= 38


def test_a_canary_failing_only_in_its_first_minute_is_not_rolled_back() -> None:
    # A pod warming up: 5% of its first minute's requests fail, then it serves as stable does.
    # Asked every minute for 30 minutes, as an analysis run would. Each one failed in its first
    # minute when one minute could decide; that minute still adds what the others say, so a
    # canary whose later minutes run a little high by chance fails a little sooner.
    failed = 0
    for seed in range(40):
        canary, baseline = stable_then_canary(np.random.default_rng(seed), 1.0)
        canary[0] = Interval(canary[0].at, 0.05 * canary[0].total, canary[0].total)
        failed += any(
            decide_slo(slo(), Observation(canary[:m], baseline[: 60 + m], STEP, 0.8)).verdict
            is Verdict.FAIL
            for m in range(1, 31)
        )
    assert failed <= 3


def test_counts_at_the_edges_of_a_float_never_raise() -> None:
    clean = version(np.zeros(10), np.full(10, 6000))
    for canary, baseline in [
        ([Interval(STEP, 1e307, 10.0)], clean[:1]),  # errors x step past a float
        (
            version(np.full(10, 3), np.full(10, 600)),
            [Interval(STEP * (m + 1), 5e-324, 90.0) for m in range(10)],
        ),
        (version(np.full(10, 24), np.full(10, 600)), [Interval(STEP, 6e-96, 90.0)]),
    ]:
        verdict = decide_slo(slo(), Observation(canary, baseline, STEP, 0.8))
        assert verdict.verdict in tuple(Verdict)
