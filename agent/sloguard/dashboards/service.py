"""One dashboard per service: a row per SLO with what an on-call engineer checks when paged.

Per SLO: the SLI over the window and the budget left (stats), the page and ticket alert states,
the traffic, the SLI against its objective, the budget left over time with the window's start
marked, and the burn rate of every alert window with the page and ticket thresholds drawn.
Every query comes from `promql`, so the panels read exactly what the rules record.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from grafanalib.core import GridPos as Grid
from grafanalib.core import RowPanel, Stat, StateTimeline, TimeSeries

from sloguard import promql
from sloguard.burnrate import tiers_for
from sloguard.dashboards import parts
from sloguard.dashboards.parts import GREEN, ORANGE, RED, YELLOW, Json
from sloguard.links import OVERVIEW_UID, dashboard_uid
from sloguard.spec.durations import parse_seconds
from sloguard.spec.model import SLO, Calendar, ServiceSLOs, Severity
from sloguard.spec.promtext import number

SLO_VARIABLE = "slo"
ROW_HEIGHT = 14


def service_dashboard(spec: ServiceSLOs) -> Json:
    """The service's dashboard as Grafana JSON (uid from `links.dashboard_uid`)."""
    grouping = sorted({label for slo in spec.slos for label in _grouping(slo)})
    ids = itertools.count(1)
    panels: list[object] = []
    annotations: list[Json] = []
    for index, slo in enumerate(spec.slos):
        row_panels, annotation = _slo_row(spec, slo, index * ROW_HEIGHT, ids)
        panels.extend(row_panels)
        annotations.append(annotation)
    variables = [
        parts.choice_variable(SLO_VARIABLE, "SLO", [slo.name for slo in spec.slos]),
        *(
            parts.label_variable(
                label,
                promql.label_values(
                    promql.TOTAL + promql.selector({"service": spec.service}), label
                ),
            )
            for label in grouping
        ),
    ]
    links = [
        parts.link("SLO overview", f"/d/{OVERVIEW_UID}", "Every SLO by error budget left"),
        *(
            parts.link(f"Runbook: {slo.name}", slo.alerting.runbook)
            for slo in spec.slos
            if slo.alerting.runbook
        ),
    ]
    board = parts.dashboard(
        title=f"SLOs / {spec.service}",
        uid=dashboard_uid(spec.service),
        description=f"Service level objectives of {spec.service}",
        panels=panels,
        variables=variables,
        links=links,
        annotations=annotations,
        time_from="now-7d",
        tags=[spec.service],
    )
    return parts.to_json(board)


def _grouping(slo: SLO) -> tuple[str, ...]:
    """Labels the SLI keeps per series (`sum by (...)`), offered as variables."""
    sli = slo.sli
    query = sli.events.total if sli.events else sli.raw.error_ratio if sli.raw else ""
    return promql.grouping_labels(query) if query else ()


def _slo_row(spec: ServiceSLOs, slo: SLO, y: int, ids: Iterator[int]) -> tuple[list[object], Json]:
    labels = {"service": spec.service, "slo": slo.name}
    grouping = _grouping(slo)
    matchers = [parts.regex_matcher(SLO_VARIABLE), *map(parts.regex_matcher, grouping)]
    legend = " ".join(f"{{{{{label}}}}}" for label in grouping)
    runbook = slo.alerting.runbook
    links = [parts.link("Runbook", runbook, f"What to do for {slo.name}")] if runbook else []
    common: dict[str, object] = {
        "dataSource": parts.DATASOURCE,
        "links": links,
        "maxDataPoints": None,
    }
    window = f"{number(slo.objective)}% over {_window_words(slo)}"

    row = RowPanel(
        id=next(ids),
        title=f"{slo.name}: {window}",
        gridPos=Grid(h=1, w=24, x=0, y=y),
        collapsed=False,
    )
    sli_stat = Stat(
        id=next(ids),
        title=f"SLI over {_window_words(slo)}",
        description=slo.description or f"Share of good events; the objective is {window}.",
        targets=[parts.target(promql.window_sli(labels, *matchers), legend, "A", instant=True)],
        format="percentunit",
        decimals=3,
        graphMode="none",
        reduceCalc="lastNotNull",
        color={"mode": "thresholds"},
        thresholds=parts.steps(RED, (float(slo.objective_ratio), GREEN)),
        gridPos=Grid(h=5, w=4, x=0, y=y + 1),
        **common,
    )
    budget_stat = Stat(
        id=next(ids),
        title="Error budget left",
        description="Share of the window's error budget not yet spent; negative when overspent.",
        targets=[
            parts.target(promql.recorded(promql.BUDGET_REMAINING, labels, *matchers), legend, "A")
        ],
        format="percentunit",
        decimals=1,
        graphMode="area",
        reduceCalc="lastNotNull",
        color={"mode": "thresholds"},
        thresholds=parts.steps(RED, (0.0, ORANGE), (0.25, GREEN)),
        gridPos=Grid(h=5, w=4, x=4, y=y + 1),
        **common,
    )
    has_traffic = slo.sli.counts_events
    alerts = StateTimeline(
        id=next(ids),
        title="Alerts",
        description="Page and ticket alerts of this SLO, from ALERTS.",
        targets=[
            parts.target(
                promql.alert_state(
                    {
                        **labels,
                        "alertname": slo.alerting.name,
                        promql.ALERT_SEVERITY_LABEL: severity.value,
                    },
                    *matchers,
                ),
                severity.value,
                severity.value,
            )
            for severity in _alerting_severities(slo)
        ],
        mappings=[
            {
                "type": "value",
                "options": {
                    "0": {"text": "OK", "color": GREEN, "index": 0},
                    "1": {"text": "pending", "color": YELLOW, "index": 1},
                    "2": {"text": "firing", "color": RED, "index": 2},
                },
            }
        ],
        gridPos=Grid(h=5, w=8 if has_traffic else 16, x=8, y=y + 1),
        **common,
    )
    panels: list[object] = [row, sli_stat, budget_stat, alerts]
    if has_traffic:
        panels.append(
            TimeSeries(
                id=next(ids),
                title="Traffic",
                description="Events per second (all, and bad), so quiet periods are visible.",
                targets=[
                    parts.target(
                        promql.recorded(promql.TOTAL, labels, *matchers),
                        f"events {legend}".strip(),
                        "A",
                    ),
                    parts.target(
                        promql.recorded(promql.ERRORS, labels, *matchers),
                        f"bad {legend}".strip(),
                        "B",
                    ),
                ],
                unit="short",
                axisLabel="events/s",
                fillOpacity=10,
                gridPos=Grid(h=5, w=8, x=16, y=y + 1),
                **common,
            )
        )
    panels.append(
        TimeSeries(
            id=next(ids),
            title="SLI against objective",
            description="Good share of events over 5m; the dashed line is the objective.",
            targets=[
                parts.target(promql.sli_ratio(labels, *matchers), legend or "SLI", "A"),
                parts.target(promql.recorded(promql.OBJECTIVE, labels), "objective", "B"),
            ],
            unit="percentunit",
            overrides=[_dashed("objective", RED)],
            gridPos=Grid(h=8, w=8, x=0, y=y + 6),
            **common,
        )
    )
    budget_id = next(ids)
    panels.append(
        TimeSeries(
            id=budget_id,
            title=f"Error budget left over {_window_words(slo)}",
            description="The marker is where the current window began.",
            targets=[
                parts.target(
                    promql.recorded(promql.BUDGET_REMAINING, labels, *matchers),
                    legend or "budget left",
                    "A",
                )
            ],
            unit="percentunit",
            timeFrom=_budget_range(slo),
            thresholds=parts.steps(RED, (0.0, GREEN)),
            thresholdsStyleMode="line",
            fillOpacity=10,
            gridPos=Grid(h=8, w=8, x=8, y=y + 6),
            **common,
        )
    )
    panels.append(_burn_rates(slo, labels, matchers, legend, next(ids), y + 6, common))
    annotation = {
        "name": f"{slo.name}: window start",
        "datasource": parts.DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "purple",
        "expr": promql.window_start_ms(labels, slo.window_seconds, slo.calendar),
        "step": "1h",
        "titleFormat": f"{slo.name}: SLO window starts",
        "useValueForTime": True,
        "filter": {"exclude": False, "ids": [budget_id]},
    }
    return panels, annotation


def _burn_rates(
    slo: SLO,
    labels: dict[str, str],
    matchers: list[str],
    legend: str,
    panel_id: int,
    y: int,
    common: dict[str, object],
) -> TimeSeries:
    tiers = tiers_for(slo)
    windows = sorted({w for t in tiers for w in (t.long, t.short)}, key=parse_seconds)
    colour: dict[float, str] = {}
    for tier in tiers:
        if colour.get(tier.factor) != RED:
            colour[tier.factor] = RED if tier.severity is Severity.PAGE else ORANGE
    pairs = "; ".join(
        f"{t.severity.value} at {number(t.factor)}x over {t.long} and {t.short}" for t in tiers
    )
    return TimeSeries(
        id=panel_id,
        title="Burn rate per alert window",
        description=f"Error ratio over each window divided by the error budget. Alerts: {pairs}. "
        "Dashed lines: page (red) and ticket (orange) thresholds.",
        targets=[
            parts.target(
                promql.recorded(promql.burn_rate_metric(w), labels, *matchers),
                f"{w} {legend}".strip(),
                chr(ord("A") + i),
            )
            for i, w in enumerate(windows)
        ],
        unit="x",
        thresholds=parts.steps(GREEN, *((f, colour[f]) for f in sorted(colour))),
        thresholdsStyleMode="dashed",
        gridPos=Grid(h=8, w=8, x=16, y=y),
        **common,
    )


def _alerting_severities(slo: SLO) -> list[Severity]:
    tiers = tiers_for(slo)
    return [
        s
        for s in Severity
        if not getattr(slo.alerting, s.value).disable and any(t.severity is s for t in tiers)
    ]


def _dashed(series: str, colour: str) -> Json:
    return {
        "matcher": {"id": "byName", "options": series},
        "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": colour}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
        ],
    }


def _window_words(slo: SLO) -> str:
    calendar = slo.calendar
    return f"this {calendar.value}" if calendar else slo.window


def _budget_range(slo: SLO) -> str:
    """The budget panel's own time range: this and the previous window, so the start shows."""
    if slo.calendar is Calendar.MONTH:
        return "now-1M/M"
    if slo.calendar is Calendar.WEEK:
        return "now-1w/w"
    seconds = 2 * slo.window_seconds
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h"
