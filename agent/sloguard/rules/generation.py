"""One service's SLOs to Prometheus rule groups (plain data, ready to serialise).

Three groups per service, by how fast what they record moves:
- fast (30s): the SLI at the 5m base, the burn rates of the page tiers that catch outages (the
  workbook's 1h/5m: `burnrate.fast_windows`), and the page alert: one pass from raw counters
  to a page, no extra evaluation hop;
- slow (2m): the other burn rates (the ticket tiers', and those of a page tier for slow burns,
  such as the workbook's 6h/30m, whose page may come up to 2 minutes later), the budget left,
  metadata and the ticket alert; a quarter of the evaluations, and still well inside the 5m
  lookback, so an instant query (dashboard, alert, agent) always finds a sample;
- coarse (10m): the 30m averages that windows of a day or more are computed from, and their
  sums over the whole SLO window. They are only ever read through range functions, so their
  10m spacing never looks stale. The slow group records the newest events the averages leave
  uncounted, so those windows end now, and carries the window's sums forward as the budget.

Each SLO has its own rules for what reads its SLI's queries, its metadata and its alerts. A
rule that reads only recorded series is one rule for all the SLOs of the service that need it
(`_Shared`): their series carry every label of their SLO, so one query computes every SLO's,
and Prometheus spends most of a small rule's time setting up its query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sloguard import burnrate, promql
from sloguard.burnrate import budget_spent, tier_windows, tiers_for
from sloguard.links import dashboard_uid, dashboard_url
from sloguard.rules.annotations import notification_annotations
from sloguard.spec.model import SLO, ServiceSLOs, Severity, Tier
from sloguard.spec.promtext import number

Rule = dict[str, Any]
Group = dict[str, Any]


@dataclass(frozen=True)
class RuleOptions:
    """Knobs of rule generation that are not part of a definition."""

    fast_interval: str = "30s"
    slow_interval: str = "2m"
    grafana_url: str = ""


def render_groups(spec: ServiceSLOs, options: RuleOptions | None = None) -> list[Group]:
    """The fast, slow and coarse rule groups for every SLO of one service."""
    options = options or RuleOptions()
    groups: tuple[list[_Entry], ...] = ([], [], [])
    for slo in spec.slos:
        for group, entries in zip(groups, _slo_rules(spec, slo, options), strict=True):
            group.extend(entries)
    homes = _homes(groups)
    intervals = (options.fast_interval, options.slow_interval, promql.COARSE_INTERVAL)
    return [
        {
            "name": f"sloguard-{spec.service}-{name}",
            "interval": interval,
            "rules": _merged(spec.service, _away_as_own(entries, index, homes)),
        }
        for index, (name, interval, entries) in enumerate(
            zip(("fast", "slow", "coarse"), intervals, groups, strict=True)
        )
    ]


def _homes(groups: tuple[list[_Entry], ...]) -> dict[str, int]:
    """The group each shared name is shared in: the first that records it. promtool's lint
    takes two rules recording one name with the same labels for duplicates, in any groups of
    a file, so elsewhere each SLO has its own (`_away_as_own`)."""
    homes: dict[str, int] = {}
    for index, entries in enumerate(groups):
        for _, entry in entries:
            if isinstance(entry, _Shared):
                homes.setdefault(entry.record, index)
    return homes


def _away_as_own(entries: list[_Entry], index: int, homes: dict[str, int]) -> list[_Entry]:
    """Group `index`'s entries, each shared one whose name is shared in another group made
    its SLO's own rule."""
    return [
        (
            step,
            entry.own() if isinstance(entry, _Shared) and homes[entry.record] != index else entry,
        )
        for step, entry in entries
    ]


@dataclass(frozen=True)
class _Shared:
    """A rule of one SLO that reads only series sloguard records, which carry every label of
    their SLO, so that one rule can compute it for many: all the SLOs of a service with the
    same `alike` (those that differ, such as by their budget, are joined with `or`).
    Prometheus spends most of a small rule's time setting up its query, so one rule for many
    SLOs costs a fraction of one each."""

    record: str
    expr: Callable[[promql.Labels], str]
    labels: dict[str, str]  # the SLO's, for a rule of its own
    # What the expression reads besides the SLOs it selects: SLOs alike in it read the same.
    alike: tuple[object, ...] = ()

    def own(self) -> Rule:
        """The SLO's own rule, reading the SLO's series under the labels it sets: after the
        definition's labels change, the shared rules record the old ones on for a while, and
        two series that are one once the rule's labels are set would fail the rule."""
        return _record(self.record, self.expr(self.labels), self.labels)


# A rule of an SLO and its step: a group runs its rules step by step, as a step's rules read
# what the earlier steps recorded in the same evaluation.
_Entry = tuple[int, "Rule | _Shared"]


def _merged(service: str, entries: list[_Entry]) -> list[Rule]:
    """A group's rules, step by step and SLO by SLO within a step; each shared name as one rule
    where its first SLO would have had its own."""
    # Per shared name, the SLOs alike.
    shared: dict[str, dict[tuple[object, ...], tuple[_Shared, list[str]]]] = {}
    placed: list[tuple[int, Rule | str]] = []
    for step, entry in entries:
        if not isinstance(entry, _Shared):
            placed.append((step, entry))
            continue
        if entry.record not in shared:
            shared[entry.record] = {}
            placed.append((step, entry.record))
        family = shared[entry.record].setdefault(entry.alike, (entry, []))
        family[1].append(entry.labels["slo"])
    rules: list[Rule] = []
    for _, item in sorted(placed, key=lambda placing: placing[0]):
        if isinstance(item, str):
            exprs = [
                rule.expr({"service": service, "slo": promql.OneOf(tuple(slos))})
                for rule, slos in shared[item].values()
            ]
            expr = exprs[0] if len(exprs) == 1 else promql.any_of([f"({e})" for e in exprs])
            rules.append({"record": item, "expr": expr})
        else:
            rules.append(item)
    return rules


def _slo_rules(
    spec: ServiceSLOs, slo: SLO, options: RuleOptions
) -> tuple[list[_Entry], list[_Entry], list[_Entry]]:
    labels = {**spec.labels_of(slo), "service": spec.service, "slo": slo.name}
    budget = slo.error_budget
    tiers = tiers_for(slo)
    fast_windows = burnrate.fast_windows(slo)
    slow_windows = [w for w in tier_windows(tiers) if w not in fast_windows]
    errors, total = promql.recorded_rates(slo.sli, labels)

    def burn_rate(window: str) -> Rule | _Shared:
        record = promql.burn_rate_metric(window)
        if promql.reads_raw(window):  # the SLI's own queries: the SLO's own rule
            return _record(record, promql.burn_rate(slo.sli, labels, window, budget), labels)
        return _Shared(
            record,
            lambda sel: promql.burn_rate(slo.sli, sel, window, budget),
            labels,
            (window, budget),
        )

    def averaged(record: str, average: Callable[[str, promql.Labels], str], base: str) -> _Shared:
        return _Shared(record, lambda sel: average(base, sel), labels)

    def summed(record: str, averages: str) -> _Shared:
        return _Shared(
            record,
            lambda sel: promql.window_sum(averages, sel, slo.window_seconds),
            labels,
            (slo.window_seconds,),
        )

    def uncounted(record: str, averages: str, base: str) -> _Shared:
        return _Shared(record, lambda sel: promql.uncounted_events(averages, base, sel), labels)

    fast: list[_Entry] = [
        (0, _record(promql.TOTAL, total, labels)),
        (1, _record(promql.ERRORS, errors, labels)),
        *((2, burn_rate(w)) for w in fast_windows),
    ]
    coarse: list[_Entry] = [
        (0, averaged(promql.ERRORS_COARSE, promql.coarse_rate, promql.ERRORS)),
        (0, averaged(promql.TOTAL_COARSE, promql.coarse_rate, promql.TOTAL)),
    ]
    if slo.calendar:
        coarse += [
            (0, averaged(promql.ERRORS_HOURLY, promql.hourly_rate, promql.ERRORS)),
            (0, averaged(promql.TOTAL_HOURLY, promql.hourly_rate, promql.TOTAL)),
        ]
    else:
        # After the averages they sum, so each recording includes the newest.
        coarse.append((1, summed(promql.ERRORS_WINDOW_SUM, promql.ERRORS_COARSE)))
        coarse.append((1, summed(promql.TOTAL_WINDOW_SUM, promql.TOTAL_COARSE)))
    budget_left: Rule | _Shared
    if slo.calendar is None:  # the window's sums
        budget_left = _Shared(
            promql.BUDGET_REMAINING,
            lambda sel: promql.budget_remaining(sel, budget),
            labels,
            (budget,),
        )
    else:  # the calendar's hours, read at this evaluation's time
        budget_left = _record(
            promql.BUDGET_REMAINING, promql.budget_remaining(labels, budget, slo.calendar), labels
        )
    window_events: Rule | _Shared
    if slo.calendar is None:
        window_events = _Shared(
            promql.WINDOW_EVENTS,
            lambda sel: promql.window_events(sel, slo.window_seconds, None),
            labels,
            (slo.window_seconds,),
        )
    else:
        window_events = _record(
            promql.WINDOW_EVENTS,
            promql.window_events(labels, slo.window_seconds, slo.calendar),
            labels,
        )
    slow: list[_Entry] = [
        # Before the burn rates of the windows that read them.
        *(
            [
                (0, uncounted(promql.ERRORS_UNCOUNTED, promql.ERRORS_COARSE, promql.ERRORS)),
                (0, uncounted(promql.TOTAL_UNCOUNTED, promql.TOTAL_COARSE, promql.TOTAL)),
            ]
            if any(promql.reads_coarse(w) for w in (*fast_windows, *slow_windows))
            else []
        ),
        *((1, burn_rate(w)) for w in slow_windows),
        # Before the budget: a calendar budget reads the time of this very evaluation from it.
        (2, _record(promql.OBJECTIVE, promql.constant(slo.objective_ratio), labels)),
        (3, budget_left),
        (3, window_events),
        (3, _record(promql.ERROR_BUDGET, promql.constant(budget), labels)),
        (
            3,
            _record(
                promql.INFO,
                promql.constant(1),
                {
                    **labels,
                    "objective": number(slo.objective),
                    "window": slo.window,
                    "sli": _sli_kind(slo),
                    # The overview dashboard links each SLO to its service dashboard by this.
                    "dashboard_uid": dashboard_uid(spec.service),
                },
            ),
        ),
    ]
    for severity, group in ((Severity.PAGE, fast), (Severity.TICKET, slow)):
        held = [t for t in tiers if t.severity is severity]
        alert = _alert(spec, slo, severity, held, labels, options)
        if alert:  # after every burn rate it reads, and the alert after it
            group.append((4, _tier_burn_rate(severity, held, slo.alerting.min_events, labels)))
            group.append((5, alert))
    return fast, slow, coarse


def _tier_burn_rate(
    severity: Severity, tiers: list[Tier], min_events: int, labels: dict[str, str]
) -> _Shared:
    """What a severity's alert fires on, one rule for the SLOs with the same tiers: the long
    window's burn rate of the first of them that holds, else 0. An alert reads it under its
    SLO's labels; a condition of four selectors in each SLO's alert cost several times as
    much."""
    windows = tuple((t.long, t.short, t.factor) for t in tiers)
    return _Shared(
        promql.tier_burn_rate_metric(severity.value),
        lambda sel: promql.tier_burn_rate(sel, windows, min_events),
        labels,
        (windows, min_events),
    )


def _alert(
    spec: ServiceSLOs,
    slo: SLO,
    severity: Severity,
    tiers: list[Tier],
    labels: dict[str, str],
    options: RuleOptions,
) -> Rule | None:
    route = getattr(slo.alerting, severity.value)
    if route.disable or not tiers:
        return None
    # Under the labels the definition gives now: the shared rules go on recording an SLO's
    # series under labels it no longer has for as long as a window reaches back, and two
    # series that are one alert once its labels are set would fail the rule.
    expr = promql.tier_firing(severity.value, labels)
    pairs = ", ".join(
        f"{number(t.factor)}x over {t.long} and {t.short} "
        f"({budget_spent(t, slo.window_seconds):.0%} of budget)"
        for t in tiers
    )
    where = f"{spec.service}/{slo.name}"
    figures = notification_annotations(labels, slo, severity, tiers, slo.alerting.name)
    annotations = {
        "summary": f"{where} is burning its error budget "
        '{{ $value | printf "%.1f" }}x too fast',
        "description": (
            f"{literal(slo.description.strip()) + ' ' if slo.description.strip() else ''}"
            f"Objective {number(slo.objective)}% over {slo.window}. The error budget is "
            'being spent {{ $value | printf "%.1f" }}x faster than the window allows '
            f"(this {severity.value} fires at {pairs}). "
            f"Budget left: {figures['budget_left']}."
        ),
        "dashboard_url": slo.alerting.dashboard
        or dashboard_url(spec.service, slo.name, options.grafana_url),
        **figures,
    }
    if slo.alerting.runbook:
        annotations["runbook_url"] = slo.alerting.runbook
    annotations.update(slo.alerting.annotations)
    annotations.update(route.annotations)
    return {
        "alert": slo.alerting.name,
        "expr": expr,
        "labels": {**labels, **alert_labels(slo, severity)},
        "annotations": annotations,
    }


def literal(text: str) -> str:
    """`text` as literal text inside an alert template: a description that happens to hold
    `{{` is shown, not run."""
    return text.replace("{{", '{{ "{{" }}')


def alert_labels(slo: SLO, severity: Severity) -> dict[str, str]:
    """Labels an SLO's page or ticket alert adds: `severity` (unless the definition sets its
    own) and `sloguard_severity`, which nothing overrides."""
    route = getattr(slo.alerting, severity.value)
    return {
        "severity": severity.value,
        **slo.alerting.labels,
        **route.labels,
        promql.ALERT_SEVERITY_LABEL: severity.value,
    }


def _record(name: str, expr: str, labels: dict[str, str]) -> Rule:
    return {"record": name, "expr": expr, "labels": dict(sorted(labels.items()))}


def _sli_kind(slo: SLO) -> str:
    sli = slo.sli
    if sli.traces:
        return "traces"
    return "events" if sli.events else "latency" if sli.latency else "raw"
