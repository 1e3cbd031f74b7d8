"""Verdicts on a canary from what was read for each SLO: missing data, the budget policy, the
canary's burn rate, enough evidence, and the comparison with the baseline.

Never pass on missing data: nothing read is the SLO's `on_missing` answer (inconclusive unless
it says fail). A fail needs evidence too: the canary fails its burn rate, or its comparison
with the baseline, only when a sequential test of its error counts says so (`sequential`),
so asking every minute adds no false failures; a high burn on little traffic is inconclusive
until the traffic decides it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sloguard.burnrate import tiers_for
from sloguard.gate.comparison import compare
from sloguard.gate.model import (
    Check,
    Decision,
    Interval,
    Observation,
    SLOVerdict,
    Verdict,
    worst,
)
from sloguard.gate.sequential import above, history_dispersion, sequential
from sloguard.spec.model import SLO, ComparisonTest, OnMissing, Severity

EVIDENCE_CONFIDENCE = 0.95


def max_burn_rate(slo: SLO) -> float:
    """The gate's burn-rate limit: the SLO's own, or its highest page factor."""
    if slo.gate.max_burn_rate is not None:
        return slo.gate.max_burn_rate
    return max(t.factor for t in tiers_for(slo) if t.severity is Severity.PAGE)


def min_events(slo: SLO) -> int:
    """Events needed to claim the objective with none bad at 95%: about 3 / (1 - objective)
    (the rule of three; exactly ln(0.05) / ln(objective))."""
    if slo.gate.min_events is not None:
        return slo.gate.min_events
    return math.ceil(math.log(1 - EVIDENCE_CONFIDENCE) / math.log(float(slo.objective_ratio)))


def decide_slo(slo: SLO, seen: Observation) -> SLOVerdict:
    """The verdict on one SLO from what was read for it."""
    missing = Verdict.FAIL if slo.gate.on_missing is OnMissing.FAIL else Verdict.INCONCLUSIVE
    canary = [i for i in seen.canary if i.total > 0]
    if seen.missing or not canary:
        reason = seen.missing or "no canary traffic in the analysis window"
        check = Check("data", missing, reason, {"on_missing": slo.gate.on_missing.value})
        return _verdict(slo, [check])
    checks = [
        _budget_policy(slo, seen.budget_remaining, seen.budget_unknown, missing),
        _burn(slo, canary, seen.baseline or (), seen.step_seconds),
        _evidence(slo, canary, seen.step_seconds),
    ]
    if seen.baseline is not None and slo.gate.compare:
        checks.append(_comparison(slo, canary, seen.baseline, seen.step_seconds, missing))
    return _verdict(slo, checks)


def decide(service: str, verdicts: Sequence[SLOVerdict], start: float, end: float) -> Decision:
    """The request's verdict: the worst SLO's, with its reason."""
    verdict = worst([v.verdict for v in verdicts])
    if verdict is Verdict.PASS:
        reason = f"all {len(verdicts)} SLO(s) pass"
    else:
        reason = "; ".join(f"{v.slo}: {v.reason}" for v in verdicts if v.verdict is verdict)
    return Decision(service, verdict, reason, verdicts, start, end)


def _verdict(slo: SLO, checks: list[Check]) -> SLOVerdict:
    verdict = worst([c.verdict for c in checks])
    reasons = [c.reason for c in checks if c.verdict is verdict]
    reason = "; ".join(reasons) if verdict is not Verdict.PASS else "every check passes"
    return SLOVerdict(slo.name, verdict, reason, checks)


def _budget_policy(slo: SLO, remaining: float | None, unknown: str, missing: Verdict) -> Check:
    values: dict[str, float | int | str | None] = {"error_budget_remaining": remaining}
    if not slo.gate.freeze_when_exhausted:
        return Check("budget_policy", Verdict.PASS, "no freeze policy", values)
    if remaining is None:
        reason = f"the service's error budget is unknown ({unknown or 'no data'})"
        return Check("budget_policy", missing, reason, values)
    if remaining < 0:
        reason = (
            f"error budget exhausted ({remaining:.1%} left): the error-budget policy freezes "
            "promotions"
        )
        return Check("budget_policy", Verdict.FAIL, reason, values)
    return Check("budget_policy", Verdict.PASS, f"{remaining:.1%} of the error budget left", values)


def _counts(canary: Sequence[Interval], step: float) -> tuple[float, float]:
    return sum(i.errors for i in canary) * step, sum(i.total for i in canary) * step


def _burn(slo: SLO, canary: Sequence[Interval], baseline: Sequence[Interval], step: float) -> Check:
    budget = float(slo.error_budget)
    limit = max_burn_rate(slo)
    errors, total = _counts(canary, step)
    ratio = errors / total
    burn = ratio / budget
    values: dict[str, float | int | str | None] = {
        "burn_rate": burn,
        "max_burn_rate": limit,
        "error_ratio": ratio,
        "errors": errors,
        "events": total,
    }
    if burn <= limit:
        return Check("burn_rate", Verdict.PASS, f"burn rate {burn:.3g} <= {limit:g}", values)
    # Over the limit: a fail needs the counts to show it, at the comparison's confidence
    # however often the gate is asked.
    clustered = history_dispersion(baseline, step)  # the baseline's errors tell it early on
    result = above(canary, step, limit * budget, slo.gate.confidence, clustered)
    values["likelihood_ratio"] = result.evidence
    values["likelihood_ratio_needed"] = result.needed
    values["dispersion"] = result.dispersion
    if result.higher:
        reason = f"burn rate {burn:.3g} > {limit:g} ({errors:.0f} bad of {total:.0f} events)"
        return Check("burn_rate", Verdict.FAIL, reason, values)
    reason = f"burn rate {burn:.3g} > {limit:g}, but {total:.0f} events cannot tell it from noise"
    return Check("burn_rate", Verdict.INCONCLUSIVE, reason, values)


def _evidence(slo: SLO, canary: Sequence[Interval], step: float) -> Check:
    _, total = _counts(canary, step)
    needed_samples = slo.gate.min_samples
    needed_events = min_events(slo) if slo.sli.counts_events else 0
    values: dict[str, float | int | str | None] = {
        "events": total,
        "min_events": needed_events,
        "samples": len(canary),
        "min_samples": needed_samples,
    }
    if len(canary) < needed_samples:
        reason = f"{len(canary)} of {needed_samples} intervals of canary data so far"
        return Check("evidence", Verdict.INCONCLUSIVE, reason, values)
    if total < needed_events:
        more = math.ceil(needed_events - total)
        reason = f"{total:.0f} canary events, {more} more needed to claim {slo.objective:g}%"
        values["more_events_needed"] = more
        return Check("evidence", Verdict.INCONCLUSIVE, reason, values)
    return Check("evidence", Verdict.PASS, f"{total:.0f} canary events", values)


def _comparison(
    slo: SLO,
    canary: Sequence[Interval],
    baseline: Sequence[Interval],
    step: float,
    missing: Verdict,
) -> Check:
    if slo.comparison_test is ComparisonTest.SEQUENTIAL:
        return _counted(slo, canary, [i for i in baseline if i.total > 0], step, missing)
    span = (canary[0].at, canary[-1].at)
    # Like with like: the baseline over the same intervals the canary served.
    base = [i for i in baseline if i.total > 0 and span[0] <= i.at <= span[1]]
    if len(base) < slo.gate.min_samples:
        return _too_few(slo, base, missing)
    gate = slo.gate
    result = compare(
        [i.ratio for i in canary],
        [i.ratio for i in base],
        gate.confidence,
        gate.tolerance,
        gate.allowed_increase,
    )
    values: dict[str, float | int | str | None] = {
        "test": "mann-whitney-u",
        "p_value": result.p_value,
        "shift_estimate": result.estimate,
        "shift_low": result.low,
        "shift_high": result.high,
        "tolerance_bound": result.bound,
        "mean_ratio": None if math.isnan(result.mean_ratio) else result.mean_ratio,
        "confidence": gate.confidence,
        "canary_samples": len(canary),
        "baseline_samples": len(base),
        "canary_error_ratio": _mean(canary),
        "baseline_error_ratio": _mean(base),
    }
    if result.higher:
        reason = (
            f"canary error ratio {_mean(canary):.3g} is higher than baseline "
            f"{_mean(base):.3g} (shift > {result.low:.3g} at {gate.confidence:.0%})"
        )
        return Check("comparison", Verdict.FAIL, reason, values)
    return Check("comparison", Verdict.PASS, "canary no worse than baseline", values)


def _counted(
    slo: SLO, canary: Sequence[Interval], base: Sequence[Interval], step: float, missing: Verdict
) -> Check:
    """The sequential count test, over the steps both versions served; the baseline's earlier
    steps in the window measure how clustered errors are. A fail needs `min_samples` steps of
    the baseline; a pass as many served by both."""
    gate = slo.gate
    if len(base) < gate.min_samples:
        return _too_few(slo, base, missing)
    result = sequential(canary, base, step, gate.confidence, gate.allowed_increase)
    if math.isnan(result.evidence):
        reason = "the canary's and baseline's counts are too large to compare"
        return Check("comparison", missing, reason, {"test": "sequential-count"})
    values: dict[str, float | int | str | None] = {
        "test": "sequential-count",
        "p_value": result.p_value,
        "likelihood_ratio": result.evidence,
        "likelihood_ratio_needed": result.needed,
        "dispersion": result.dispersion,
        "canary_errors": result.canary_errors,
        "baseline_errors": result.baseline_errors,
        "canary_errors_expected": result.expected,
        "ratio_estimate": result.ratio,
        "allowed_increase": gate.allowed_increase,
        "confidence": gate.confidence,
        "intervals_compared": result.steps,
        "baseline_samples": len(base),
    }
    if not result.higher and result.steps < gate.min_samples:
        reason = (
            f"{result.steps} intervals where both canary and baseline served, "
            f"{gate.min_samples} needed"
        )
        return Check("comparison", missing, reason, values)
    if result.latest_step_higher:
        reason = (
            "the latest interval alone says the canary fails more often than the baseline "
            f"({result.canary_errors:.0f} errors where at most {result.expected:.3g} were "
            "expected): not yet a fail, nor a pass"
        )
        return Check("comparison", Verdict.INCONCLUSIVE, reason, values)
    if not result.higher:
        return Check("comparison", Verdict.PASS, "canary no worse than baseline", values)
    reason = (
        f"canary error ratio {result.canary_errors / result.canary_events:.3g} is higher than "
        f"baseline {result.baseline_errors / result.baseline_events:.3g} over the same "
        f"{result.steps} intervals: {result.canary_errors:.0f} errors where at most "
        f"{result.expected:.3g} were expected (likelihood ratio {result.evidence:.3g} >= "
        f"{result.needed:.3g})"
    )
    return Check("comparison", Verdict.FAIL, reason, values)


def _too_few(slo: SLO, base: Sequence[Interval], missing: Verdict) -> Check:
    reason = f"{len(base)} intervals of baseline data, {slo.gate.min_samples} needed"
    return Check("comparison", missing, reason, {"baseline_samples": len(base)})


def _mean(intervals: Sequence[Interval]) -> float:
    errors = sum(i.errors for i in intervals)
    total = sum(i.total for i in intervals)
    return errors / total if total > 0 else 0.0
