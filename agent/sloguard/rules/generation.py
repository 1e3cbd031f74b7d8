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
"""

from __future__ import annotations

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
    groups: tuple[list[Rule], list[Rule], list[Rule]] = ([], [], [])
    for slo in spec.slos:
        for group, rules in zip(groups, _slo_rules(spec, slo, options), strict=True):
            group.extend(rules)
    intervals = (options.fast_interval, options.slow_interval, promql.COARSE_INTERVAL)
    return [
        {"name": f"sloguard-{spec.service}-{name}", "interval": interval, "rules": rules}
        for name, interval, rules in zip(("fast", "slow", "coarse"), intervals, groups, strict=True)
    ]


def _slo_rules(
    spec: ServiceSLOs, slo: SLO, options: RuleOptions
) -> tuple[list[Rule], list[Rule], list[Rule]]:
    ids = {"service": spec.service, "slo": slo.name}
    labels = {**spec.labels, **slo.labels, **ids}
    budget = slo.error_budget
    tiers = tiers_for(slo)
    fast_windows = burnrate.fast_windows(slo)
    slow_windows = [w for w in tier_windows(tiers) if w not in fast_windows]
    errors, total = promql.sli_rates(slo.sli)

    fast: list[Rule] = [
        _record(promql.ERRORS, errors, labels),
        _record(promql.TOTAL, total, labels),
        *(
            _record(promql.burn_rate_metric(w), promql.burn_rate(slo.sli, ids, w, budget), labels)
            for w in fast_windows
        ),
    ]
    coarse: list[Rule] = [
        _record(promql.ERRORS_COARSE, promql.coarse_rate(promql.ERRORS, ids), labels),
        _record(promql.TOTAL_COARSE, promql.coarse_rate(promql.TOTAL, ids), labels),
    ]
    if slo.calendar:
        coarse += [
            _record(promql.ERRORS_HOURLY, promql.hourly_rate(promql.ERRORS, ids), labels),
            _record(promql.TOTAL_HOURLY, promql.hourly_rate(promql.TOTAL, ids), labels),
        ]
    else:
        # After the averages they sum, so each recording includes the newest.
        sums = [(promql.TOTAL_WINDOW_SUM, promql.TOTAL_COARSE)]
        if slo.window_seconds >= promql.COARSE_FROM_SECONDS:  # the budget reads the errors'
            sums.insert(0, (promql.ERRORS_WINDOW_SUM, promql.ERRORS_COARSE))
        coarse += [
            _record(name, promql.window_sum(averages, ids, slo.window_seconds), labels)
            for name, averages in sums
        ]
    uncounted = [
        _record(counted, promql.uncounted_events(coarse_metric, base, ids), labels)
        for counted, coarse_metric, base in (
            (promql.ERRORS_UNCOUNTED, promql.ERRORS_COARSE, promql.ERRORS),
            (promql.TOTAL_UNCOUNTED, promql.TOTAL_COARSE, promql.TOTAL),
        )
    ]
    slow: list[Rule] = [
        # Before the burn rates of the windows that read them.
        *(uncounted if any(promql.reads_coarse(w) for w in (*fast_windows, *slow_windows)) else []),
        *(
            _record(promql.burn_rate_metric(w), promql.burn_rate(slo.sli, ids, w, budget), labels)
            for w in slow_windows
        ),
        # Before the budget: a calendar budget reads the time of this very evaluation from it.
        _record(promql.OBJECTIVE, promql.constant(slo.objective_ratio), labels),
        _record(
            promql.BUDGET_REMAINING,
            promql.budget_remaining(slo.sli, ids, slo.window_seconds, budget, slo.calendar),
            labels,
        ),
        _record(
            promql.WINDOW_EVENTS,
            promql.window_events(ids, slo.window_seconds, slo.calendar),
            labels,
        ),
        _record(promql.ERROR_BUDGET, promql.constant(budget), labels),
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
    ]
    for severity, group in ((Severity.PAGE, fast), (Severity.TICKET, slow)):
        alert = _alert(
            spec, slo, severity, [t for t in tiers if t.severity is severity], labels, options
        )
        if alert:
            group.append(alert)
    return fast, slow, coarse


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
    ids = {"service": spec.service, "slo": slo.name}
    expr = promql.any_of(
        [
            promql.tier_condition(ids, t.long, t.short, t.factor, slo.alerting.min_events)
            for t in tiers
        ]
    )
    pairs = ", ".join(
        f"{number(t.factor)}x over {t.long} and {t.short} "
        f"({budget_spent(t, slo.window_seconds):.0%} of budget)"
        for t in tiers
    )
    where = f"{spec.service}/{slo.name}"
    figures = notification_annotations(spec.service, slo, severity, tiers, slo.alerting.name)
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
