"""An example of a dashboard of your own, in grafanalib's `*.dashboard.py` convention.

`sloguard generate` runs every such script in this directory and writes the `dashboard` it
defines as `<name>.json` beside the generated ones. This one shows what sloguard's rule groups
cost the Prometheus that evaluates them.
"""

from grafanalib.core import Dashboard, GridPos, Target, Templating, TimeSeries

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def panel(title: str, expr: str, unit: str, x: int) -> TimeSeries:
    return TimeSeries(
        title=title,
        dataSource=DATASOURCE,
        targets=[Target(expr=expr, legendFormat="{{rule_group}}", refId="A", datasource=DATASOURCE)],
        unit=unit,
        gridPos=GridPos(h=9, w=12, x=x, y=0),
    )


dashboard = Dashboard(
    title="SLOs / rule evaluation",
    uid="sloguard-rule-evaluation",
    tags=["sloguard"],
    timezone="utc",
    templating=Templating(
        list=[{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"}]
    ),
    panels=[
        panel(
            "Last evaluation time per rule group",
            'prometheus_rule_group_last_duration_seconds{rule_group=~".*sloguard-.*"}',
            "s",
            0,
        ),
        panel(
            "Evaluations missed",
            'increase(prometheus_rule_group_iterations_missed_total{rule_group=~".*sloguard-.*"}[10m])',
            "short",
            12,
        ),
    ],
)
