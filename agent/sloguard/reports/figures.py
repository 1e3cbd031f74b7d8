"""One SLO's figures over a period, from its events per 5-minute slot: the SLI as a ratio of
event sums (exact, never an average of ratios), the budget, each day, and its incidents."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sloguard.reports.model import (
    Budget,
    Day,
    Incident,
    Nearby,
    Objective,
    SLOFigures,
    Traffic,
)
from sloguard.reports.period import SLOT, Period, slot_of, utc

HOUR = 3600.0
SEVERITIES = ("page", "ticket")


def slo_figures(
    objective: Objective,
    traffic: Traffic,
    period: Period,
    until: float,
    window_budget: tuple[float | None, float | None],
    alerts: dict[str, Sequence[float]],
    changes: Sequence[float],
) -> SLOFigures:
    """Everything the report says about one SLO; `alerts` maps a severity to the times its
    alert was seen firing, `changes` are the times rollouts of the service began."""
    slots = period.slots(until)
    bad, total = _sums(traffic, slots)
    allowed = (1 - objective.objective) * total
    consumed = bad / allowed if allowed > 0 else None
    left = None if consumed is None else 1 - consumed
    budget = Budget(
        allowed=allowed,
        consumed=consumed,
        left=left,
        window_start=window_budget[0],
        window_end=window_budget[1],
    )
    days = _days(traffic, period, until, allowed)
    with_traffic = [d for d in days if d.sli is not None]
    incidents = [
        incident(objective, severity, start, end, until, traffic, allowed)
        for severity in SEVERITIES
        for start, end in firing(alerts.get(severity, ()))
    ]
    near = _near(changes, slots)
    return SLOFigures(
        service=objective.service,
        slo=objective.slo,
        description=objective.description,
        objective=objective.objective,
        window=objective.window,
        status="no_data" if total <= 0 else "met" if bad <= allowed else "missed",
        sli=1 - bad / total if total > 0 else None,
        total=total,
        bad=bad,
        coverage=sum(1 for s in slots if s in traffic.total) / len(slots) if slots else 0.0,
        budget=budget,
        worst_day=min(with_traffic, key=lambda d: d.sli or 0.0) if with_traffic else None,
        days=days,
        incidents=sorted(incidents, key=lambda i: i.start),
        after_changes=_nearby(traffic, [s for s in slots if s in near], allowed),
        elsewhere=_nearby(traffic, [s for s in slots if s not in near], allowed),
    )


def firing(samples: Iterable[float]) -> list[tuple[float, float]]:
    """Runs of an alert's samples as [start, end): the evaluations are as far apart as the
    closest two samples; a gap longer than one and a half of that ends a run, which ends one
    evaluation after its last sample (when the alert was seen resolved)."""
    times = sorted(set(samples))
    if not times:
        return []
    gaps = [b - a for a, b in itertools.pairwise(times) if b - a >= 1]
    step = min(gaps) if gaps else 30.0
    runs, first = [], times[0]
    for previous, current in itertools.pairwise(times):
        if current - previous > 1.5 * step:
            runs.append((first, previous + step))
            first = current
    runs.append((first, times[-1] + step))
    return runs


def incident(
    objective: Objective,
    severity: str,
    start: float,
    end: float,
    until: float,
    traffic: Traffic,
    allowed: float,
) -> Incident:
    """An alert's firing run with what it cost and how long the burn ran before it fired."""
    ongoing = end >= until
    end = min(end, until)
    bad = sum(traffic.bad.get(s, 0.0) for s in _grid(start, end + SLOT))  # slots overlapped
    onset = _onset(objective, traffic, start)
    return Incident(
        service=objective.service,
        slo=objective.slo,
        severity="page" if severity == "page" else "ticket",
        start=utc(start),
        end=utc(end),
        seconds=end - start,
        ongoing=ongoing,
        bad=bad,
        budget_spent=bad / allowed if allowed > 0 else None,
        onset=None if onset is None else utc(onset),
        detect_seconds=None if onset is None else start - onset,
    )


def burn(objective: Objective, traffic: Traffic, slot: float) -> float | None:
    """A slot's error ratio over the error budget; None without events in it."""
    total = traffic.total.get(slot, 0.0)
    if total <= 0:
        return None
    return traffic.bad.get(slot, 0.0) / total / (1 - objective.objective)


def _onset(objective: Objective, traffic: Traffic, fired: float) -> float | None:
    slot = slot_of(fired)
    onset = None
    while (rate := burn(objective, traffic, slot)) is not None and rate > 1:
        onset = slot - SLOT
        slot -= SLOT
    return onset


def _sums(traffic: Traffic, slots: Iterable[float]) -> tuple[float, float]:
    present = [s for s in slots if s in traffic.total]
    return (
        sum(traffic.bad.get(s, 0.0) for s in present),
        sum(traffic.total[s] for s in present),
    )


def _days(traffic: Traffic, period: Period, until: float, allowed: float) -> list[Day]:
    days, spent = [], 0.0
    for start, end in period.days():
        if start >= until:
            break
        bad, total = _sums(traffic, Period("", start, end).slots(until))
        spent += bad
        days.append(
            Day(
                date=datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d"),
                total=total,
                bad=bad,
                sli=1 - bad / total if total > 0 else None,
                budget_left=1 - spent / allowed if allowed > 0 else None,
            )
        )
    return days


def _near(changes: Sequence[float], slots: Sequence[float]) -> set[float]:
    """Slots that end within an hour after a change (and after it)."""
    ends = {float(s) for c in changes for s in _grid(c, (c + HOUR) // SLOT * SLOT + SLOT)}
    return ends.intersection(slots)


def _grid(after: float, before: float) -> range:
    """The slot ends `s` with after < s < before."""
    return range(int(after // SLOT + 1) * SLOT, math.ceil(before / SLOT) * SLOT, SLOT)


def _nearby(traffic: Traffic, slots: Sequence[float], allowed: float) -> Nearby:
    bad, _ = _sums(traffic, slots)
    hours = len(slots) * SLOT / HOUR
    spent = bad / allowed if allowed > 0 else None
    return Nearby(
        hours=hours,
        bad=bad,
        budget_spent=spent,
        per_hour=spent / hours if spent is not None and hours > 0 else None,
    )
