"""Which queries to ask, and what their answers say per SLO, window and label group (pure).

Two paths. With the generated rules loaded, four queries answer for up to 2,500 SLOs at once:
all their recorded burn rates, budgets left, events per short window, and events per SLO
window.
Without them (a fresh Prometheus, a backfill, a new SLO), one query per SLO computes the same
from its own SLI over every window. A per-label SLO (`sum by (grpc_method) ...`) gives one
reading per label group.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sloguard import promql
from sloguard.burnrate import alert_windows, tiers_for
from sloguard.evaluation.model import Reading
from sloguard.spec.durations import format_seconds, parse_seconds
from sloguard.spec.model import SLO, Calendar, ServiceSLOs

Labels = Mapping[str, str]
Sample = tuple[Labels, float]
Group = tuple[tuple[str, str], ...]
Readings = dict[Group, dict[str, Reading]]

_OWN_LABELS = frozenset({"__name__", "service", "slo", promql.PART_LABEL})


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


# The most SLOs one set of the rules path's queries answers for: each answer then stays a few
# MB (10,000 SLOs' burn rates in one answer were 12 MB, near the 16 MiB an answer may be) and
# Prometheus runs the sets side by side, on as many cores as it has.
SHARD_SLOS = 2500
# The most characters of service names one set names: every selector of a query lists them (the
# events query 18 times), and a proxy in front of Prometheus may refuse a large request (nginx's
# default is 1 MB). Services with long names make smaller shards.
SHARD_NAMES = 8000


@dataclass(frozen=True)
class RulesQueries:
    """The rules path's queries for the SLOs of some services, however many SLOs: every burn
    rate, every budget left, events per short alert window, events per SLO window."""

    services: tuple[str, ...]
    slos: int  # the services' SLOs, in definition order after the shard before
    burn_rates: str
    budgets: str
    events: str
    window_events: str


def rules_queries(
    specs: Sequence[ServiceSLOs], shard_slos: int = SHARD_SLOS, shard_names: int = SHARD_NAMES
) -> list[RulesQueries]:
    """One set of queries per shard: whole services, in definition order, up to `shard_slos`
    SLOs and `shard_names` characters of service names each (a service past either has a
    shard of its own). A shard reads only its services' series, not every SLO recorded in the
    Prometheus."""
    shards: list[list[ServiceSLOs]] = []
    slos = names = 0
    for spec in specs:
        more = len(spec.slos), len(spec.service) + 1
        if not shards or slos + more[0] > shard_slos or names + more[1] > shard_names:
            shards.append([])
            slos = names = 0
        shards[-1].append(spec)
        slos, names = slos + more[0], names + more[1]
    return [_shard_queries(shard) for shard in shards]


def _shard_queries(specs: Sequence[ServiceSLOs]) -> RulesQueries:
    services = tuple(spec.service for spec in specs)
    selected = promql.one_of("service", services)
    # Events per short window only (where the min-events guard reads) and per SLO window: the
    # long windows' events would be most of the cycle's cost for a thousand SLOs. A window not
    # every SLO reads (a 28d SLO's 28m, a 30d SLO's 30m) is read for the SLOs that do.
    readers: dict[str, int] = {}
    for spec in specs:
        for slo in spec.slos:
            for window in {tier.short for tier in tiers_for(slo)}:
                readers[window] = readers.get(window, 0) + 1
    count = sum(len(spec.slos) for spec in specs)
    return RulesQueries(
        services,
        count,
        promql.recorded_burn_rates(services),
        promql.recorded(promql.BUDGET_REMAINING, {}, selected),
        promql.recorded_events(
            sorted(readers, key=parse_seconds),
            services,
            only_where_recorded={w for w, n in readers.items() if n < count},
        ),
        promql.recorded(promql.WINDOW_EVENTS, {}, selected),
    )


def raw_query(slo: SLO, at: float) -> str:
    return promql.raw_readings(slo.sli, window_ranges(slo, at))


def raw_readings(spec: ServiceSLOs, slo: SLO, samples: Iterable[Sample], at: float) -> Readings:
    """Readings per group from the answer to `raw_query`; bad events default to zero where
    events were counted (a never-seen error series), as the recording rules do."""
    ranges = seconds(window_ranges(slo, at))
    excluded = _excluded(spec, slo)
    rates: dict[Group, dict[str, dict[str, float]]] = {}
    for labels, value in samples:
        names = promql.part_of(labels)
        if len(names) == 2 and names[0] in ranges:
            window, kind = names
            rates.setdefault(_group(labels, excluded), {}).setdefault(window, {})[kind] = value
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


@dataclass(frozen=True)
class RulesAnswers:
    """The rules path's four answers, indexed by (service, slo) once per cycle: a thousand
    SLOs must not each scan every sample. A NaN or infinite value is garbled, so it is left out:
    its window unknown, never a calm one."""

    burn_rates: Mapping[tuple[str, str], list[Sample]]
    budgets: Mapping[tuple[str, str], list[Sample]]
    events: Mapping[tuple[str, str], list[Sample]]
    window_events: Mapping[tuple[str, str], list[Sample]]

    @classmethod
    def index(
        cls,
        burn_rates: Iterable[Sample],
        budgets: Iterable[Sample],
        events: Iterable[Sample],
        window_events: Iterable[Sample],
    ) -> RulesAnswers:
        def by_slo(samples: Iterable[Sample]) -> dict[tuple[str, str], list[Sample]]:
            found: dict[tuple[str, str], list[Sample]] = {}
            for sample in samples:
                if math.isfinite(sample[1]):
                    labels = sample[0]
                    key = (labels.get("service", ""), labels.get("slo", ""))
                    found.setdefault(key, []).append(sample)
            return found

        return cls(by_slo(burn_rates), by_slo(budgets), by_slo(events), by_slo(window_events))


def rules_readings(
    spec: ServiceSLOs, slo: SLO, answers: RulesAnswers, at: float
) -> Readings | None:
    """Readings per group from the rules path's answers; None when the rules of this SLO are
    not loaded (no budget recorded for it, or only under labels it no longer has), or were
    loaded so recently that the events over the SLO window are not recorded yet (they read the
    coarse group, first evaluated up to 10 minutes after the others), so the raw path must
    answer instead."""
    key = (spec.service, slo.name)
    # Series under labels the definition no longer gives the SLO are its history: the rules
    # read them for as long as a window reaches back, but they are not its reading now.
    wanted = spec.labels_of(slo)

    def current(found: Mapping[tuple[str, str], list[Sample]]) -> list[Sample]:
        # A label with an empty value is no label at all in Prometheus.
        return [
            s for s in found.get(key, []) if all(s[0].get(k, "") == v for k, v in wanted.items())
        ]

    window_events = current(answers.window_events)
    if not window_events:
        return None
    excluded = _excluded(spec, slo)
    budget = float(slo.error_budget)
    readings: Readings = {}
    for labels, value in current(answers.budgets):
        readings.setdefault(_group(labels, excluded), {})[slo.window] = Reading(
            (1 - value) * budget, None
        )
    if not readings:
        return None
    prefix = promql.burn_rate_metric("")
    windows = set(alert_windows(slo))
    for labels, value in current(answers.burn_rates):
        window = labels.get("__name__", "").removeprefix(prefix)
        if window in windows:
            readings.setdefault(_group(labels, excluded), {})[window] = Reading(
                value * budget, None
            )
    ranges = seconds(window_ranges(slo, at))
    counted: dict[Group, dict[str, float]] = {}
    for labels, value in current(answers.events):
        names = promql.part_of(labels)
        if len(names) == 1 and names[0] in ranges:
            counted.setdefault(_group(labels, excluded), {})[names[0]] = value
    for labels, value in window_events:
        counted.setdefault(_group(labels, excluded), {})[slo.window] = value
    for group, windows_read in readings.items():
        for window, reading in windows_read.items():
            windows_read[window] = Reading(reading.ratio, counted.get(group, {}).get(window))
        for window in ranges.keys() - windows_read.keys():
            if window in counted.get(group, {}):
                windows_read[window] = Reading(None, counted[group][window])
    return readings


def _excluded(spec: ServiceSLOs, slo: SLO) -> frozenset[str]:
    """Labels that do not tell groups apart: sloguard's own and the definition's constants."""
    return _OWN_LABELS | spec.labels.keys() | slo.labels.keys()


def _group(labels: Labels, excluded: frozenset[str]) -> Group:
    """The labels that tell a per-label SLO's groups apart."""
    telling = labels.keys() - excluded  # most SLOs have no groups: none left, nothing sorted
    return tuple(sorted((k, labels[k]) for k in telling)) if telling else ()
