"""From readings to an evaluation: budget, burn rates, tiers, time left and a status (pure).

Missing data is never health: a failed query, a window without samples, no events over the
SLO window or fewer than the definition's minimum all give `no_data` with the reason.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import replace

from sloguard.burnrate import alert_windows, tiers_for
from sloguard.evaluation.model import Evaluation, Origin, Reading, Status
from sloguard.spec.durations import parse_seconds
from sloguard.spec.model import SLO, Severity, Tier, percent_ratio


def judge(
    service: str,
    slo: SLO,
    readings: Mapping[str, Reading],
    at: float,
    origin: Origin,
    group: Mapping[str, str] | None = None,
) -> Evaluation:
    """Evaluate one SLO (or one label group) from its readings, keyed by window; the SLO
    window's reading is keyed by `slo.window` (`30d`, or `month` from the period's start)."""
    objective, budget = _ratios(slo.objective)
    base = Evaluation(
        service=service,
        slo=slo.name,
        objective=objective,
        window=slo.window,
        at=at,
        status=Status.NO_DATA,
        reason="",
        origin=origin,
        group=dict(group or {}),
    )
    windows = alert_windows(slo)
    burn_rates = {
        w: None if (r := readings.get(w)) is None or r.ratio is None else r.ratio / budget
        for w in windows
    }
    events = {w: (r.events if (r := readings.get(w)) else None) for w in [*windows, slo.window]}
    whole = readings.get(slo.window)
    if whole is None or whole.ratio is None or whole.events is None:
        why = f"no samples over the {slo.window} window"
        if slo.calendar is not None:
            why += f" (calendar windows count completed hours of this {slo.window})"
        return _no_data(base, burn_rates, events, why)
    remaining = 1 - whole.ratio / budget
    known = replace(
        base,
        burn_rates=burn_rates,
        events=events,
        sli=1 - whole.ratio,
        error_budget_remaining=remaining,
    )
    if whole.events <= 0:
        return _no_data(known, burn_rates, events, f"no events over the {slo.window} window")
    minimum = slo.alerting.min_events
    if whole.events < minimum:
        return _no_data(
            known,
            burn_rates,
            events,
            f"{whole.events:.0f} events over the {slo.window} window, fewer than the "
            f"{minimum} the definition requires",
        )
    missing = [w for w in windows if burn_rates[w] is None]
    if missing:
        return _no_data(known, burn_rates, events, f"no samples over {', '.join(missing)}")
    tiers = tiers_for(slo)
    page = any(_holds(t, burn_rates, events, minimum) for t in tiers if t.severity is Severity.PAGE)
    ticket = any(
        _holds(t, burn_rates, events, minimum) for t in tiers if t.severity is Severity.TICKET
    )
    current = burn_rates[min((t.long for t in tiers), key=parse_seconds)]
    exhausted_in = _exhausted_in(remaining, slo.window_seconds, current)
    if remaining <= 0:
        status, reason = Status.EXHAUSTED, f"error budget spent ({remaining:.1%} left)"
    elif page:
        status, reason = (
            Status.CRITICAL,
            _tier_reason(tiers, Severity.PAGE, burn_rates, events, minimum),
        )
    elif ticket:
        status, reason = (
            Status.WARNING,
            _tier_reason(tiers, Severity.TICKET, burn_rates, events, minimum),
        )
    else:
        status, reason = Status.OK, f"{remaining:.1%} of the error budget left"
    return replace(
        known,
        status=status,
        reason=reason,
        page=page,
        ticket=ticket,
        exhausted_in_seconds=exhausted_in,
    )


@functools.lru_cache(maxsize=256)
def _ratios(objective_percent: float) -> tuple[float, float]:
    """(objective, error budget) as ratios, from the definition's exact decimals, once."""
    objective = percent_ratio(objective_percent)
    return float(objective), float(1 - objective)


def _holds(
    tier: Tier,
    burn_rates: Mapping[str, float | None],
    events: Mapping[str, float | None],
    minimum: int,
) -> bool:
    long, short = burn_rates[tier.long], burn_rates[tier.short]
    enough = (events.get(tier.short) or 0) >= minimum
    return (
        long is not None
        and short is not None
        and long > tier.factor
        and short > tier.factor
        and enough
    )


def _tier_reason(
    tiers: list[Tier],
    severity: Severity,
    burn_rates: Mapping[str, float | None],
    events: Mapping[str, float | None],
    minimum: int,
) -> str:
    tier = next(
        t for t in tiers if t.severity is severity and _holds(t, burn_rates, events, minimum)
    )
    return (
        f"burning {burn_rates[tier.long]:.1f}x over {tier.long} and {burn_rates[tier.short]:.1f}x "
        f"over {tier.short} (the {severity.value} threshold is {tier.factor:g}x)"
    )


def _exhausted_in(remaining: float, window_seconds: int, burn: float | None) -> float | None:
    """Seconds until the budget is gone at the current burn rate; None when it never will be."""
    if remaining <= 0:
        return 0.0
    if burn is None or not burn > 0:  # NaN too: no rate to spend it at
        return None
    # A burn of 1 spends a whole budget in one window.
    seconds = remaining * window_seconds / burn
    return seconds if math.isfinite(seconds) else None


def stale(evaluation: Evaluation, reason: str) -> Evaluation:
    """An evaluation too old to stand for now: no data, and none of its figures."""
    return Evaluation(
        service=evaluation.service,
        slo=evaluation.slo,
        objective=evaluation.objective,
        window=evaluation.window,
        at=evaluation.at,
        status=Status.NO_DATA,
        reason=reason,
        origin=evaluation.origin,
        group=evaluation.group,
    )


def _no_data(
    base: Evaluation,
    burn_rates: Mapping[str, float | None],
    events: Mapping[str, float | None],
    reason: str,
) -> Evaluation:
    return replace(base, burn_rates=burn_rates, events=events, status=Status.NO_DATA, reason=reason)
