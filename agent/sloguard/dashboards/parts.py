"""Pieces every generated dashboard shares: the datasource, variables, thresholds, clean JSON.

grafanalib 0.7 writes `null`s, string datasources and an old `schemaVersion`; Grafana's current
dashboard schema rejects those, so everything grafanalib builds passes through `to_json` here
(which also replaces grafanalib's JSON encoder: one walk instead of encode, decode, clean).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafanalib.core import Annotations, Dashboard, Templating, Time

from sloguard import promql
from sloguard.links import GRAFANA_TAG

# What Grafana 13 writes; older versions load it as is, newer ones migrate it on read.
SCHEMA_VERSION = 42
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}
ALL = ".*"

GREEN, YELLOW, ORANGE, RED = "green", "yellow", "orange", "red"

Json = dict[str, Any]


def datasource_variable() -> Json:
    """Pick any Prometheus datasource; the panels read it through `${datasource}`."""
    return {
        "name": DATASOURCE_VARIABLE,
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"text": "default", "value": "default"},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def choice_variable(name: str, label: str, values: Sequence[str]) -> Json:
    """A multi-select list of known values with All (a regex over them) selected."""
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "multi": True,
        "includeAll": True,
        "allValue": ALL,
        "current": {"text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


def label_variable(name: str, query: str) -> Json:
    """A multi-select over a label's values as Prometheus has them (per-label SLOs)."""
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "multi": True,
        "includeAll": True,
        "allValue": ALL,
        "current": {"text": ["All"], "value": ["$__all"]},
        "options": [],
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "hide": 0,
    }


def regex_matcher(variable: str) -> str:
    """Matcher narrowing a query to a variable's selection, e.g. `slo=~"$slo"`."""
    return promql.regex_matcher(variable, f"${variable}")


def steps(base: str, *levels: tuple[float, str]) -> list[Json]:
    """Threshold steps: `base` below the first level (Grafana's base step has value null)."""
    return [{"color": base, "value": None}, *({"color": c, "value": v} for v, c in levels)]


def link(title: str, url: str, tooltip: str = "") -> Json:
    """A dashboard link to a URL, opened in a new tab."""
    return {
        "title": title,
        "url": url,
        "type": "link",
        "tooltip": tooltip,
        "icon": "external link",
        "asDropdown": False,
        "includeVars": False,
        "keepTime": False,
        "tags": [],
        "targetBlank": True,
    }


def target(
    expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, table: bool = False
) -> Json:
    """A Prometheus query of a panel, as Grafana's query editor saves it."""
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        "format": "table" if table else "time_series",
    }


def dashboard(
    *,
    title: str,
    uid: str,
    description: str,
    panels: list[Any],
    variables: list[Json],
    links: list[Json],
    annotations: list[Json],
    time_from: str,
    tags: Sequence[str] = (),
) -> Dashboard:
    """A grafanalib dashboard with sloguard's defaults (UTC, 1m refresh, shared crosshair)."""
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return Dashboard(
        title=title,
        uid=uid,
        description=description,
        tags=[GRAFANA_TAG, *tags],
        panels=panels,
        templating=Templating(list=[datasource_variable(), *variables]),
        links=links,
        annotations=Annotations(list=[builtin, *annotations]),
        time=Time(time_from, "now"),
        refresh="1m",
        graphTooltip=1,
        editable=True,
        schemaVersion=SCHEMA_VERSION,
        timezone="utc",
    ).auto_panel_ids()


def to_json(board: Dashboard) -> Json:
    """grafanalib's dashboard as Grafana's current schema wants it: no nulls, no legacy keys."""
    cleaned: Json = _plain(board)
    for legacy in ("hideControls", "sharedCrosshair", "style"):
        cleaned.pop(legacy, None)
    for unused in ("rows", "__inputs"):  # a user's row-based layout stays as it is
        if not cleaned.get(unused):
            cleaned.pop(unused, None)
    return cleaned


_SCALARS = frozenset({str, bool, int, float})


def _plain(node: Any) -> Any:
    """JSON data of grafanalib objects (what its encoder writes), without `None`s, in one pass.

    Scalars are most of the ~700,000 nodes of a thousand SLOs' dashboards, so they are copied
    in place rather than through a call each.
    """
    while hasattr(node, "to_json_data"):
        node = node.to_json_data()
    kind = type(node)
    if kind is dict:
        if "color" in node and "value" in node:
            # A threshold's base step keeps its null value: Grafana reads it as "-Infinity".
            return {
                k: v if type(v) in _SCALARS or v is None else _plain(v) for k, v in node.items()
            }
        return {
            k: v if type(v) in _SCALARS else _plain(v) for k, v in node.items() if v is not None
        }
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS or v is None else _plain(v) for v in node]
    return node


def deploy_markers(service: str) -> Json:
    """Grafana's own annotations that the running agent posts (`--grafana-url`): the gate's
    pass or fail of a rollout and every action, tagged `sloguard` and the service."""
    return {
        "name": "sloguard: rollouts and actions",
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": False,
        "iconColor": "orange",
        "target": {
            "type": "tags",
            "tags": [GRAFANA_TAG, service],
            "matchAny": False,
            "limit": 100,
        },
    }
