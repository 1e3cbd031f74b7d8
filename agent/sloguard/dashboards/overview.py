"""The overview dashboard: every SLO of every service in one table, worst budget first."""

from __future__ import annotations

from collections.abc import Sequence

from grafanalib.core import GridPos as Grid
from grafanalib.core import Stat, Table, TableSortByField

from sloguard import promql
from sloguard.dashboards import parts
from sloguard.dashboards.parts import GREEN, ORANGE, RED, Json
from sloguard.links import GRAFANA_TAG, OVERVIEW_UID
from sloguard.spec.model import ServiceSLOs

SERVICE_VARIABLE = "service"
BUDGET_COLUMN = "Budget left"


def overview_dashboard(specs: Sequence[ServiceSLOs]) -> Json:
    """Grafana JSON of the overview of `specs` (uid `links.OVERVIEW_UID`)."""
    services = [spec.service for spec in specs]
    filters = declared_labels(specs)
    matchers = [parts.regex_matcher(name) for name in (SERVICE_VARIABLE, *filters)]
    budgets = promql.budget_overview(services, promql.joined_keys(specs), *matchers)
    panels = [
        _stat(
            "SLOs",
            promql.overview_count(f"{promql.OBJECTIVE}{promql.selector({}, *matchers)}"),
            0,
            parts.steps("blue"),
            "SLOs with recorded objectives in the selected services.",
        ),
        _stat(
            "Error budgets spent",
            promql.overview_count(f"{budgets} < 0"),
            8,
            parts.steps(GREEN, (1.0, RED)),
            "SLOs (or label values of per-label SLOs) that have overspent their window.",
        ),
        _stat(
            "Alerts firing",
            promql.overview_count(promql.firing_slo_alerts(services, *matchers)),
            16,
            parts.steps(GREEN, (1.0, RED)),
            "Page and ticket alerts of these SLOs firing now.",
        ),
        _budget_table(budgets),
    ]
    board = parts.dashboard(
        title="SLOs / overview",
        uid=OVERVIEW_UID,
        description="Every SLO sloguard generated rules for, worst error budget first.",
        panels=panels,
        variables=[
            parts.choice_variable(SERVICE_VARIABLE, "Service", services),
            *(
                parts.label_variable(
                    name,
                    promql.label_values(promql.INFO + promql.selector({}, matchers[0]), name),
                )
                for name in filters
            ),
        ],
        links=[
            {
                "title": "Service SLOs",
                "type": "dashboards",
                "tags": [GRAFANA_TAG],
                "asDropdown": True,
                "icon": "external link",
                "includeVars": False,
                "keepTime": True,
                "targetBlank": False,
                "tooltip": "",
            }
        ],
        annotations=[],
        time_from="now-7d",
    )
    return parts.to_json(board)


def _stat(title: str, expr: str, x: int, thresholds: list[Json], description: str) -> Stat:
    """One of the counts across the top."""
    return Stat(
        title=title,
        description=description,
        dataSource=parts.DATASOURCE,
        targets=[parts.target(expr, instant=True)],
        graphMode="none",
        reduceCalc="lastNotNull",
        color={"mode": "thresholds"},
        thresholds=thresholds,
        gridPos=Grid(h=4, w=8, x=x, y=0),
    )


def _budget_table(budgets: str) -> Table:
    """Every SLO with its budget left, worst first, each linking to its service dashboard."""
    return Table(
        title="Every SLO by error budget left",
        description="Worst first. Select an SLO to open its service dashboard.",
        dataSource=parts.DATASOURCE,
        targets=[parts.target(budgets, instant=True, table=True)],
        transformations=[
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "__name__": True},
                    "indexByName": {"service": 0, "slo": 1, "objective": 2, "window": 3},
                    "renameByName": {"Value": BUDGET_COLUMN},
                },
            }
        ],
        overrides=[
            {
                "matcher": {"id": "byName", "options": BUDGET_COLUMN},
                "properties": [
                    {"id": "unit", "value": "percentunit"},
                    {"id": "decimals", "value": 1},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                    {
                        "id": "thresholds",
                        "value": {
                            "mode": "absolute",
                            "steps": parts.steps(RED, (0.0, ORANGE), (0.25, GREEN)),
                        },
                    },
                ],
            },
            {
                "matcher": {"id": "byName", "options": "slo"},
                "properties": [
                    {
                        "id": "links",
                        "value": [
                            {
                                "title": "Open the service dashboard",
                                "url": "/d/${__data.fields.dashboard_uid}"
                                "?var-slo=${__value.raw}&${__url_time_range}",
                            }
                        ],
                    }
                ],
            },
            {
                "matcher": {"id": "byName", "options": "dashboard_uid"},
                "properties": [{"id": "custom.hidden", "value": True}],
            },
        ],
        sortBy=[TableSortByField(displayName=BUDGET_COLUMN, desc=False)],
        gridPos=Grid(h=20, w=24, x=0, y=4),
    )


def declared_labels(specs: Sequence[ServiceSLOs]) -> list[str]:
    """Label names definitions declare (e.g. `team`): the overview filters by each.

    A name that is one of the dashboard's own variables cannot be a second variable."""
    names = {name for spec in specs for name in spec.labels}
    names |= {name for spec in specs for slo in spec.slos for name in slo.labels}
    return sorted(names - {SERVICE_VARIABLE, parts.DATASOURCE_VARIABLE})
