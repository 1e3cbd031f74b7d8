"""One dashboard per service: a row per SLO with what an on-call engineer checks when paged.

Per SLO: the SLI over the window and the budget left (stats), the page and ticket alert states,
the traffic, the SLI against its objective, the budget left over time with the window's start
marked, and the burn rate of every alert window with the page and ticket thresholds drawn.
Every query comes from `promql`, so the panels read exactly what the rules record.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from grafanalib.core import GridPos as Grid
from grafanalib.core import RowPanel, Stat, StateTimeline, TimeSeries

from sloguard import promql
from sloguard.burnrate import tier_windows, tiers_for
from sloguard.dashboards import parts
from sloguard.dashboards.parts import GREEN, ORANGE, RED, YELLOW, Json
from sloguard.links import OVERVIEW_UID, dashboard_uid
from sloguard.spec.model import SLO, Calendar, ServiceSLOs, Severity
from sloguard.spec.promtext import number

SLO_VARIABLE = "slo"
ROW_HEIGHT = 14


def service_dashboard(spec: ServiceSLOs) -> Json:
    """The service's dashboard as Grafana JSON (uid from `links.dashboard_uid`)."""
    grouping = sorted({label for slo in spec.slos for label in promql.slo_grouping(slo)})
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
        annotations=[*annotations, parts.deploy_markers(spec.service)],
        time_from="now-7d",
        tags=[spec.service],
    )
    return parts.to_json(board)


@dataclass(frozen=True)
class _Row:
    """What every panel of one SLO's row shares."""

    slo: SLO
    labels: dict[str, str]
    keys: list[str]  # the definition's label names
    matchers: list[str]
    legend: str
    common: dict[str, object]
    y: int  # the row's top


def _slo_row(spec: ServiceSLOs, slo: SLO, y: int, ids: Iterator[int]) -> tuple[list[object], Json]:
    grouping = promql.slo_grouping(slo)
    runbook = slo.alerting.runbook
    links = [parts.link("Runbook", runbook, f"What to do for {slo.name}")] if runbook else []
    row = _Row(
        slo=slo,
        labels={"service": spec.service, "slo": slo.name},
        keys=sorted(spec.labels_of(slo)),
        matchers=[parts.regex_matcher(SLO_VARIABLE), *map(parts.regex_matcher, grouping)],
        legend=" ".join(f"{{{{{label}}}}}" for label in grouping),
        common={"dataSource": parts.DATASOURCE, "links": links, "maxDataPoints": None},
        y=y,
    )
    panels: list[object] = [
        RowPanel(
            id=next(ids),
            title=f"{slo.name}: {_objective_words(slo)}",
            gridPos=Grid(h=1, w=24, x=0, y=y),
            collapsed=False,
        ),
        _sli_stat(row, next(ids)),
        _budget_stat(row, next(ids)),
        _alerts(row, next(ids)),
    ]
    if slo.sli.counts_events:
        panels.append(_traffic(row, next(ids)))
    panels.append(_sli_chart(row, next(ids)))
    budget_id = next(ids)
    panels.append(_budget_chart(row, budget_id))
    panels.append(_burn_rates(row, next(ids)))
    return panels, _window_start(row, budget_id)


def _as_defined(row: _Row, metric: str) -> str:
    """A series the shared rules record, of the SLO as it was defined at each time."""
    info = promql.recorded(promql.INFO, row.labels)
    return promql.as_defined(promql.recorded(metric, row.labels, *row.matchers), row.keys, info)


def _objective_words(slo: SLO) -> str:
    return f"{number(slo.objective)}% over {_window_words(slo)}"


def _sli_stat(row: _Row, panel_id: int) -> Stat:
    slo = row.slo
    return Stat(
        id=panel_id,
        title=f"SLI over {_window_words(slo)}",
        description=slo.description
        or f"Share of good events; the objective is {_objective_words(slo)}.",
        targets=[
            parts.target(
                promql.window_sli(row.labels, row.keys, *row.matchers),
                row.legend,
                "A",
                instant=True,
            )
        ],
        format="percentunit",
        decimals=3,
        graphMode="none",
        reduceCalc="lastNotNull",
        color={"mode": "thresholds"},
        thresholds=parts.steps(RED, (float(slo.objective_ratio), GREEN)),
        gridPos=Grid(h=5, w=4, x=0, y=row.y + 1),
        **row.common,
    )


def _budget_stat(row: _Row, panel_id: int) -> Stat:
    return Stat(
        id=panel_id,
        title="Error budget left",
        description="Share of the window's error budget not yet spent; negative when overspent.",
        targets=[
            parts.target(
                _as_defined(row, promql.BUDGET_REMAINING),
                row.legend,
                "A",
            )
        ],
        format="percentunit",
        decimals=1,
        graphMode="area",
        reduceCalc="lastNotNull",
        color={"mode": "thresholds"},
        thresholds=parts.steps(RED, (0.0, ORANGE), (0.25, GREEN)),
        gridPos=Grid(h=5, w=4, x=4, y=row.y + 1),
        **row.common,
    )


def _alerts(row: _Row, panel_id: int) -> StateTimeline:
    slo = row.slo
    return StateTimeline(
        id=panel_id,
        title="Alerts",
        description="Page and ticket alerts of this SLO, from ALERTS.",
        targets=[
            parts.target(
                promql.alert_state(
                    {
                        **row.labels,
                        "alertname": slo.alerting.name,
                        promql.ALERT_SEVERITY_LABEL: severity.value,
                    },
                    *row.matchers,
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
        gridPos=Grid(h=5, w=8 if slo.sli.counts_events else 16, x=8, y=row.y + 1),
        **row.common,
    )


def _traffic(row: _Row, panel_id: int) -> TimeSeries:
    return TimeSeries(
        id=panel_id,
        title="Traffic",
        description="Events per second (all, and bad), so quiet periods are visible.",
        targets=[
            parts.target(
                promql.recorded(promql.TOTAL, row.labels, *row.matchers),
                f"events {row.legend}".strip(),
                "A",
            ),
            parts.target(
                promql.recorded(promql.ERRORS, row.labels, *row.matchers),
                f"bad {row.legend}".strip(),
                "B",
            ),
        ],
        unit="short",
        axisLabel="events/s",
        fillOpacity=10,
        gridPos=Grid(h=5, w=8, x=16, y=row.y + 1),
        **row.common,
    )


def _sli_chart(row: _Row, panel_id: int) -> TimeSeries:
    return TimeSeries(
        id=panel_id,
        title="SLI against objective",
        description="Good share of events over 5m; the dashed line is the objective.",
        targets=[
            parts.target(promql.sli_ratio(row.labels, *row.matchers), row.legend or "SLI", "A"),
            parts.target(promql.recorded(promql.OBJECTIVE, row.labels), "objective", "B"),
        ],
        unit="percentunit",
        overrides=[_dashed("objective", RED)],
        gridPos=Grid(h=8, w=8, x=0, y=row.y + 6),
        **row.common,
    )


def _budget_chart(row: _Row, panel_id: int) -> TimeSeries:
    return TimeSeries(
        id=panel_id,
        title=f"Error budget left over {_window_words(row.slo)}",
        description="The marker is where the current window began.",
        targets=[
            parts.target(
                _as_defined(row, promql.BUDGET_REMAINING),
                row.legend or "budget left",
                "A",
            )
        ],
        unit="percentunit",
        timeFrom=_budget_range(row.slo),
        thresholds=parts.steps(RED, (0.0, GREEN)),
        thresholdsStyleMode="line",
        fillOpacity=10,
        gridPos=Grid(h=8, w=8, x=8, y=row.y + 6),
        **row.common,
    )


def _window_start(row: _Row, budget_id: int) -> Json:
    """The annotation marking where the SLO's window began, on the budget chart."""
    slo = row.slo
    return {
        "name": f"{slo.name}: window start",
        "datasource": parts.DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "purple",
        "expr": promql.window_start_ms(row.labels, slo.window_seconds, slo.calendar),
        "step": "1h",
        "titleFormat": f"{slo.name}: SLO window starts",
        "useValueForTime": True,
        "filter": {"exclude": False, "ids": [budget_id]},
    }


def _burn_rates(row: _Row, panel_id: int) -> TimeSeries:
    tiers = tiers_for(row.slo)
    windows = tier_windows(tiers)
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
                _as_defined(row, promql.burn_rate_metric(w)),
                f"{w} {row.legend}".strip(),
                chr(ord("A") + i),
            )
            for i, w in enumerate(windows)
        ],
        unit="x",
        thresholds=parts.steps(GREEN, *((f, colour[f]) for f in sorted(colour))),
        thresholdsStyleMode="dashed",
        gridPos=Grid(h=8, w=8, x=16, y=row.y + 6),
        **row.common,
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
