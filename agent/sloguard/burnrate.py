"""Multi-window, multi-burn-rate tiers: the SRE workbook's table, scaled to any SLO window.

Burn rate is the error ratio divided by the error budget: 1 spends the budget exactly by the end
of the window. A tier fires when both its long and short windows burn faster than its factor;
the long window proves the burn is significant, the short one that it is still happening.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from sloguard.spec.durations import format_seconds, parse_seconds
from sloguard.spec.model import SLO, Severity, Tier

BASE_WINDOW_SECONDS = 300  # every SLI is recorded as a 5m rate; no window can be finer.
REFERENCE_PERIOD_SECONDS = 30 * 86400

# The workbook's tiers for a 30d window (Sloth's four; each spends 2%, 5%, 10%, 10% of budget).
WORKBOOK_TIERS = (
    Tier(severity=Severity.PAGE, long="1h", short="5m", factor=14.4),
    Tier(severity=Severity.PAGE, long="6h", short="30m", factor=6),
    Tier(severity=Severity.TICKET, long="1d", short="2h", factor=3),
    Tier(severity=Severity.TICKET, long="3d", short="6h", factor=1),
)


def tiers_for(slo: SLO) -> list[Tier]:
    """The SLO's own tiers, or the workbook's scaled to its window (factors kept, windows scaled)
    that can fire at the SLO's objective.

    Keeping the factors keeps the share of budget each tier spends before it fires; windows are
    rounded to the minute, the short one is at least the 5m base and the long one twice that.
    """
    if slo.alerting.windows:
        return list(slo.alerting.windows)
    # A default tier that needs more than 100% errors can never fire: at a low objective (a
    # 90% SLO cannot burn 14.4x) it is left out rather than kept as a dead rule.
    budget = float(slo.error_budget)
    return [t for t in _scaled(slo.window_seconds) if t.factor * budget < 1]


@functools.lru_cache(maxsize=64)
def _scaled(window_seconds: int) -> tuple[Tier, ...]:
    scale = window_seconds / REFERENCE_PERIOD_SECONDS
    tiers = []
    for tier in WORKBOOK_TIERS:
        short = max(BASE_WINDOW_SECONDS, _minutes(parse_seconds(tier.short) * scale))
        long = max(2 * short, _minutes(parse_seconds(tier.long) * scale))
        tiers.append(
            tier.model_copy(update={"short": format_seconds(short), "long": format_seconds(long)})
        )
    return tuple(tiers)


def alert_windows(slo: SLO) -> list[str]:
    """Every window the SLO's tiers read, shortest first."""
    return tier_windows(tiers_for(slo))


def tier_windows(tiers: Iterable[Tier]) -> list[str]:
    """Every window the tiers read (long and short), shortest first."""
    return list(_tier_windows(tuple(tiers)))


@functools.lru_cache(maxsize=256)
def _tier_windows(tiers: tuple[Tier, ...]) -> tuple[str, ...]:
    return tuple(sorted({w for t in tiers for w in (t.long, t.short)}, key=parse_seconds))


# How soon a page tier must be able to fire first, on a burn that starts from a clean history,
# to be evaluated at the fast cadence. One that cannot within the hour catches slow burns: every
# 2m instead of every 30s, its page comes up to 2 minutes later, at a quarter of the cost.
FAST_TIER_SECONDS = 3600


def fast_windows(slo: SLO) -> list[str]:
    """The windows of the SLO's page tiers that must be recorded at the fast cadence, shortest
    first: those of the tiers that can fire first within `FAST_TIER_SECONDS` of a burn that
    starts from a clean history (`first_alone_seconds`). With the workbook's tiers, the 1h/5m
    tier's: the 6h/30m tier then fires first only below 14.4x, 2.5 hours in at the soonest
    (after an earlier burn within its 6 hours it can fire first sooner, and then its page
    comes up to 2 minutes later than at 30s). With a low-traffic guard every page tier is
    fast: the guard can hold back the fastest tier, whose short window holds the fewest
    events, while a slower one fires on an outage within minutes."""
    pages = tuple(t for t in tiers_for(slo) if t.severity is Severity.PAGE)
    if slo.alerting.min_events:
        return tier_windows(pages)
    budget = float(slo.error_budget)
    return tier_windows(
        t for t in pages if first_alone_seconds(t, pages, budget) < FAST_TIER_SECONDS
    )


def first_alone_seconds(tier: Tier, tiers: Iterable[Tier], error_budget: float) -> float:
    """The soonest `tier` can fire while no other of `tiers` has (infinite if never), on a
    burn that steps from none to a steady rate.

    At burn rate b > factor, a tier's long window crosses its factor after long * factor / b
    (its short window sooner). So a tier with a smaller product fires first at every burn
    above both factors: `tier` can only be first below the lowest factor of those, and no burn
    exceeds 1 / error budget (every event bad).
    """
    product = parse_seconds(tier.long) * tier.factor
    ceiling = 1 / error_budget
    for other in tiers:
        if parse_seconds(other.long) * other.factor < product:
            ceiling = min(ceiling, other.factor)
    return product / ceiling if ceiling > tier.factor else float("inf")


def budget_spent(tier: Tier, window_seconds: int) -> float:
    """Share of the error budget spent by the time the tier's long window fires."""
    return tier.factor * parse_seconds(tier.long) / window_seconds


def _minutes(seconds: float) -> int:
    return round(seconds / 60) * 60
