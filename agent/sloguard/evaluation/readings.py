"""Which queries to ask, and what their answers say per SLO, window and label group (pure).

Two paths. With the generated rules loaded, three queries answer for every SLO at once: all
recorded burn rates, all budgets left, and the recorded event rates per window. Without them
(a fresh Prometheus, a backfill, a new SLO), one query per SLO computes the same from its own
SLI over every window. A per-label SLO (`sum by (grpc_method) ...`) gives one reading per label
group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sloguard import promql
from sloguard.evaluation.judgement import alert_windows
from sloguard.evaluation.model import Reading
from sloguard.spec.durations import format_seconds, parse_seconds
from sloguard.spec.model import SLO, Calendar, ServiceSLOs

Labels = Mapping[str, str]
Sample = tuple[Labels, float]
Group = tuple[tuple[str, str], ...]
Readings = dict[Group, dict[str, Reading]]

_OWN_LABELS = frozenset({"__name__", "service", "slo", promql.WINDOW_LABEL, promql.KIND_LABEL})


def period_start(calendar: Calendar, at: float) -> float:
    """Start (UTC) of the calendar month or week (from Monday) that `at` falls in."""
    moment = datetime.fromtimestamp(at, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if calendar is Calendar.MONTH:
        return day.replace(day=1).timestamp()
    return day.timestamp() - day.weekday() * 86400


def window_ranges(slo: SLO, at: float) -> dict[str, str]:
    """PromQL range per window key: the alert windows, and the SLO window (for a calendar
    window, the time since the period began, at least a second)."""
    ranges = {w: w for w in alert_windows(slo)}
    calendar = slo.calendar
    if calendar is None:
        ranges[slo.window] = slo.window
    else:
        ranges[slo.window] = format_seconds(max(1, int(at - period_start(calendar, at))))
    return ranges


def seconds(ranges: Mapping[str, str]) -> dict[str, float]:
    return {key: parse_seconds(window) for key, window in ranges.items()}


@dataclass(frozen=True)
class RulesQueries:
    """The rules path's three queries for a set of SLOs."""

    burn_rates: str
    budgets: str
    events: str


def rules_queries(specs: Iterable[ServiceSLOs], at: float) -> RulesQueries:
    ranges: dict[str, str] = {}
    for spec in specs:
        for slo in spec.slos:
            ranges.update(window_ranges(slo, at))
    ordered = dict(sorted(ranges.items(), key=lambda item: parse_seconds(item[1])))
    return RulesQueries(promql.BURN_RATES, promql.BUDGET_REMAINING, promql.recorded_events(ordered))


def raw_query(slo: SLO, at: float) -> str:
    return promql.raw_readings(slo.sli, window_ranges(slo, at))


def raw_readings(spec: ServiceSLOs, slo: SLO, samples: Iterable[Sample], at: float) -> Readings:
    """Readings per group from the answer to `raw_query`; bad events default to zero where
    events were counted (a never-seen error series), as the recording rules do."""
    ranges = seconds(window_ranges(slo, at))
    rates: dict[Group, dict[str, dict[str, float]]] = {}
    for labels, value in samples:
        window, kind = labels.get(promql.WINDOW_LABEL), labels.get(promql.KIND_LABEL)
        if window in ranges and kind:
            rates.setdefault(_group(spec, slo, labels), {}).setdefault(window, {})[kind] = value
    readings: Readings = {}
    for group, windows in rates.items():
        readings[group] = {}
        for window, kinds in windows.items():
            total = kinds.get("total")
            if total is None:
                continue
            errors = kinds.get("errors", 0.0)
            ratio = errors / total if total > 0 else 0.0
            readings[group][window] = Reading(ratio, total * ranges[window])
    return readings


def rules_readings(
    spec: ServiceSLOs,
    slo: SLO,
    burn_rates: Iterable[Sample],
    budgets: Iterable[Sample],
    events: Iterable[Sample],
    at: float,
) -> Readings | None:
    """Readings per group from the rules path's answers; None when the rules of this SLO are
    not loaded (no budget recorded for it), so the raw path must answer instead."""
    mine = {"service": spec.service, "slo": slo.name}
    budget = float(slo.error_budget)
    readings: Readings = {}
    for labels, value in budgets:
        if _is(labels, mine):
            readings.setdefault(_group(spec, slo, labels), {})[slo.window] = Reading(
                (1 - value) * budget, None
            )
    if not readings:
        return None
    prefix = promql.burn_rate_metric("")
    windows = set(alert_windows(slo))
    for labels, value in burn_rates:
        window = labels.get("__name__", "").removeprefix(prefix)
        if _is(labels, mine) and window in windows:
            readings.setdefault(_group(spec, slo, labels), {})[window] = Reading(
                value * budget, None
            )
    ranges = seconds(window_ranges(slo, at))
    counted: dict[Group, dict[str, float]] = {}
    for labels, value in events:
        window = labels.get(promql.WINDOW_LABEL, "")
        if _is(labels, mine) and window in ranges:
            counted.setdefault(_group(spec, slo, labels), {})[window] = value
    for group, windows_read in readings.items():
        for window, reading in windows_read.items():
            windows_read[window] = Reading(reading.ratio, counted.get(group, {}).get(window))
        for window in ranges.keys() - windows_read.keys():
            if window in counted.get(group, {}):
                windows_read[window] = Reading(None, counted[group][window])
    return readings


def _is(labels: Labels, mine: Labels) -> bool:
    return labels.get("service") == mine["service"] and labels.get("slo") == mine["slo"]


def _group(spec: ServiceSLOs, slo: SLO, labels: Labels) -> Group:
    """The labels that tell a per-label SLO's groups apart: all but sloguard's own and the
    definition's constant labels."""
    constant = {**spec.labels, **slo.labels}
    return tuple(
        sorted((k, v) for k, v in labels.items() if k not in _OWN_LABELS and k not in constant)
    )
