"""Verdicts on one SLO from what was read: the checks and their order of precedence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloguard.gate.decision import decide, decide_slo, max_burn_rate, min_events
from sloguard.gate.model import Interval, Observation, Verdict
from tests.support.gate import event_slo

STEP = 60.0


slo = event_slo


def intervals(ratios: list[float], rate: float = 10.0, start: float = 0.0) -> list[Interval]:
    """One interval per ratio at `rate` events per second."""
    return [Interval(start + i * STEP, r * rate, rate) for i, r in enumerate(ratios)]


def seen(
    canary: list[Interval],
    baseline: list[Interval] | None = None,
    budget: float | None = 0.8,
    missing: str = "",
) -> Observation:
    return Observation(canary, baseline, STEP, budget, missing)


def check(verdict_slo: object, name: str) -> object:
    return next(c for c in verdict_slo.checks if c.name == name)  # type: ignore[attr-defined]


def test_the_defaults_come_from_the_objective_and_the_page_tiers() -> None:
    assert max_burn_rate(slo()) == 14.4
    assert min_events(slo()) == 2995  # ln(0.05) / ln(0.999): the rule of three's 3000
    assert max_burn_rate(slo(max_burn_rate=2)) == 2
    assert min_events(slo(min_events=10)) == 10


def test_a_healthy_canary_with_enough_traffic_passes() -> None:
    verdict = decide_slo(slo(), seen(intervals([0.0005] * 10)))  # 6,000 events, burn 0.5
    assert verdict.verdict is Verdict.PASS, verdict.reason
    assert check(verdict, "burn_rate").values["burn_rate"] == pytest.approx(0.5)


def test_missing_data_is_inconclusive_unless_the_slo_says_fail() -> None:
    unread = seen([], missing="Prometheus: timed out after 5s")
    assert decide_slo(slo(), unread).verdict is Verdict.INCONCLUSIVE
    assert decide_slo(slo(), unread).reason == "Prometheus: timed out after 5s"
    assert decide_slo(slo(on_missing="fail"), unread).verdict is Verdict.FAIL
    quiet = decide_slo(slo(), seen(intervals([0.0] * 10, rate=0.0)))
    assert quiet.verdict is Verdict.INCONCLUSIVE
    assert quiet.reason == "no canary traffic in the analysis window"


def test_too_little_traffic_is_inconclusive_and_says_how_much_more() -> None:
    verdict = decide_slo(slo(), seen(intervals([0.0] * 5, rate=2.0)))  # 600 events
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert check(verdict, "evidence").values["more_events_needed"] == 2395
    assert "2395 more needed" in verdict.reason


def test_too_few_intervals_are_inconclusive() -> None:
    verdict = decide_slo(slo(), seen(intervals([0.0] * 3, rate=100.0)))
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert "3 of 5 intervals" in verdict.reason


def test_a_canary_burning_fast_on_plenty_of_traffic_fails() -> None:
    verdict = decide_slo(slo(), seen(intervals([0.05] * 10)))  # burn 50 on 6,000 events
    assert verdict.verdict is Verdict.FAIL
    assert "burn rate 50 > 14.4" in verdict.reason


def test_a_fast_burn_on_a_handful_of_events_is_not_yet_a_failure() -> None:
    # 1 bad of 40: 2.5% (burn 25), but 40 events allow an error ratio well under 1.44%.
    verdict = decide_slo(slo(), seen([Interval(0, 1 / STEP, 40 / STEP)]))
    burn = check(verdict, "burn_rate")
    assert burn.verdict is Verdict.INCONCLUSIVE
    assert "cannot tell it from noise" in burn.reason


def test_an_exhausted_budget_freezes_promotion_unless_the_policy_is_off() -> None:
    canary = intervals([0.0] * 10)
    frozen = decide_slo(slo(), seen(canary, budget=-0.2))
    assert frozen.verdict is Verdict.FAIL
    assert "error budget exhausted (-20.0% left)" in frozen.reason
    assert decide_slo(slo(freeze_when_exhausted=False), seen(canary, budget=-0.2)).verdict is (
        Verdict.PASS
    )
    assert decide_slo(slo(), seen(canary, budget=None)).verdict is Verdict.INCONCLUSIVE


def test_a_canary_markedly_worse_than_baseline_fails_within_the_slo() -> None:
    rng = np.random.default_rng(5)
    # 100 requests a second each for 20 minutes: some 12 errors on stable, 72 on the canary.
    stable = [Interval(i * STEP, e / STEP, 100) for i, e in enumerate(rng.poisson(0.6, 20))]
    canary = [Interval(i * STEP, e / STEP, 100) for i, e in enumerate(rng.poisson(3.6, 20))]
    verdict = decide_slo(slo(), seen(canary, stable))  # burn 0.6: well within the SLO
    assert verdict.verdict is Verdict.FAIL
    comparison = check(verdict, "comparison")
    assert comparison.values["test"] == "sequential-count"
    assert comparison.values["p_value"] < 0.001
    assert "higher than baseline" in verdict.reason
    assert decide_slo(slo(compare=False), seen(canary, stable)).verdict is Verdict.PASS


def test_kayentas_judge_compares_the_ratios_of_each_interval() -> None:
    rng = np.random.default_rng(5)
    stable = intervals(list(rng.normal(0.0001, 0.00003, 20).clip(0)))
    canary = intervals(list(rng.normal(0.0006, 0.0001, 20)))
    verdict = decide_slo(slo(test="mann-whitney"), seen(canary, stable))
    assert verdict.verdict is Verdict.FAIL
    comparison = check(verdict, "comparison")
    assert comparison.values["test"] == "mann-whitney-u"
    assert comparison.values["p_value"] < 0.001
    # Counted, the same rates are some 7 errors against 1: not yet evidence at 98%.
    assert decide_slo(slo(), seen(canary, stable)).verdict is Verdict.PASS


def test_a_canary_like_its_baseline_passes() -> None:
    rng = np.random.default_rng(6)
    stable = intervals(list(rng.normal(0.0003, 0.0001, 20).clip(0)))
    canary = intervals(list(rng.normal(0.0003, 0.0001, 20).clip(0)))
    assert decide_slo(slo(), seen(canary, stable)).verdict is Verdict.PASS


def test_the_baseline_is_compared_over_the_canarys_intervals_only() -> None:
    canary = intervals([0.0003] * 10, start=600)
    stable_before = intervals([0.0] * 10, start=0)  # all before the canary started
    verdict = decide_slo(slo(), seen(canary, stable_before))
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert "0 intervals where both canary and baseline served, 5 needed" in verdict.reason
    kayenta = decide_slo(slo(test="mann-whitney"), seen(canary, stable_before))
    assert kayenta.verdict is Verdict.INCONCLUSIVE
    assert "0 intervals of baseline data" in kayenta.reason


def test_the_request_is_as_bad_as_its_worst_slo() -> None:
    good = decide_slo(slo(), seen(intervals([0.0] * 10)))
    unsure = decide_slo(slo(), seen([], missing="no data"))
    bad = decide_slo(slo(), seen(intervals([0.05] * 10)))
    assert decide("checkout", [good], 0, 1).verdict is Verdict.PASS
    assert decide("checkout", [good, unsure], 0, 1).verdict is Verdict.INCONCLUSIVE
    decision = decide("checkout", [good, unsure, bad], 0, 1)
    assert decision.verdict is Verdict.FAIL
    assert decision.reason.startswith("availability: burn rate 50")


def test_a_canary_failing_a_steady_share_against_a_clean_stable_fails() -> None:
    # 1% of requests fail in every interval (burn 10, under the page tier's 14.4), none on
    # stable: the same ratio everywhere on each side is a certain difference.
    verdict = decide_slo(slo(), seen(intervals([0.01] * 12), intervals([0.0] * 12)))
    assert verdict.verdict is Verdict.FAIL
    assert check(verdict, "burn_rate").verdict is Verdict.PASS
    assert check(verdict, "comparison").verdict is Verdict.FAIL


def test_every_way_to_pass_is_closed_to_a_bad_canary() -> None:
    """Each check that can pass, against the canary it exists to stop."""
    healthy = intervals([0.0005] * 10)
    assert decide_slo(slo(), seen(healthy)).verdict is Verdict.PASS
    fails = {
        "budget_policy": seen(healthy, budget=-0.01),
        "burn_rate": seen(intervals([0.02] * 10)),
        "comparison": seen(intervals([0.003] * 10), intervals([0.0005] * 10)),
    }
    for name, observation in fails.items():
        verdict = decide_slo(slo(), observation)
        assert (verdict.verdict, check(verdict, name).verdict) == (Verdict.FAIL, Verdict.FAIL)
    unsure = {
        "evidence": seen(intervals([0.0] * 10, rate=1.0)),
        "data": seen(healthy[:0], missing="Prometheus: timed out"),
    }
    for name, observation in unsure.items():
        verdict = decide_slo(slo(), observation)
        assert verdict.verdict is Verdict.INCONCLUSIVE
        assert check(verdict, name).verdict is Verdict.INCONCLUSIVE


def spread(start: float, width: float, count: int) -> st.SearchStrategy[list[float]]:
    return st.lists(st.floats(start, start + width), min_size=count, max_size=count)


@st.composite
def worse_canaries(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    """Per-interval error ratios: a baseline within [low, low + width] and a canary shifted
    above it by more than twice that width, so the shift clears Kayenta's tolerance band
    (a quarter of the estimate) whatever the draw."""
    low = draw(st.floats(0.0, 0.02))
    width = draw(st.floats(0.0, 0.005))
    shift = draw(st.floats(max(2 * width, 1e-4), 0.05))
    baseline = draw(spread(low, width, draw(st.integers(8, 40))))
    canary = draw(spread(low + shift + width, width, draw(st.integers(8, 40))))
    return canary, baseline


@settings(max_examples=300, deadline=None)
@given(worse_canaries(), st.floats(5.0, 500.0))
def test_a_canary_clearly_worse_than_its_baseline_never_passes(
    samples: tuple[list[float], list[float]], rate: float
) -> None:
    canary, baseline = samples
    judged = seen(intervals(canary, rate), intervals(baseline, rate))
    verdict = decide_slo(slo(test="mann-whitney"), judged)
    assert verdict.verdict is not Verdict.PASS, verdict.reason


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=5, max_size=60),
    st.floats(2.0, 50.0),
    st.floats(10.0, 1000.0),
)
def test_a_canary_burning_past_the_limit_on_its_own_never_passes(
    shares: list[float], factor: float, rate: float
) -> None:
    # Whatever the spread over intervals, an overall burn past the limit is no pass.
    limit = 14.4 * 0.001
    weights = np.asarray(shares) + 1e-3
    ratios = list(np.minimum(weights / weights.mean() * limit * factor, 1.0))
    verdict = decide_slo(slo(), seen(intervals(ratios, rate)))
    burn = check(verdict, "burn_rate").values["burn_rate"]
    if burn > 14.4:
        assert verdict.verdict is not Verdict.PASS, verdict.reason
