"""What a service dashboard shows for each SLO, read from the JSON Grafana will load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from sloguard import promql
from sloguard.dashboards.overview import overview_dashboard
from sloguard.dashboards.service import service_dashboard
from sloguard.links import dashboard_uid
from sloguard.loading import Loaded, load
from sloguard.rules.generation import render_groups
from tests.support.boards import row_panels
from tests.support.repo import REPO, load_text


@pytest.fixture(scope="module")
def bundled() -> Loaded:
    return load([REPO / "slo-definitions"])


def board_of(loaded: Loaded, service: str) -> dict[str, Any]:
    return service_dashboard(next(s for s in loaded.services if s.service == service))


def selectors(expr: str) -> set[str]:
    """Metric names a query reads (walking the parsed expression's text form)."""
    names = set()
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr):
        names.add(match[1])
    return names


def test_every_slo_has_a_row_with_the_panels_on_call_needs(bundled: Loaded) -> None:
    board = board_of(bundled, "checkout")
    for slo in ("availability", "latency"):
        titles = set(row_panels(board, slo))
        assert titles == {
            "SLI over 30d",
            "Error budget left",
            "Alerts",
            "Traffic",
            "SLI against objective",
            "Error budget left over 30d",
            "Burn rate per alert window",
        }


def test_every_query_parses_and_reads_only_what_the_rules_record(bundled: Loaded) -> None:
    for spec in bundled.services:
        recorded = {
            rule["record"]
            for group in render_groups(spec)
            for rule in group["rules"]
            if "record" in rule
        }
        board = service_dashboard(spec)
        exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
        exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
        for expr in exprs:
            promql_parser.parse(expr.replace("$", ""))
            assert selectors(expr) <= recorded | {"ALERTS"}, expr


def test_stats_and_thresholds_follow_the_objective_and_tiers(bundled: Loaded) -> None:
    panels = row_panels(board_of(bundled, "checkout"), "availability")
    sli = panels["SLI over 30d"]
    assert sli["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert sli["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "red", "value": None},
        {"color": "green", "value": 0.999},
    ]
    burn = panels["Burn rate per alert window"]
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "green"),
        (1.0, "orange"),
        (3.0, "orange"),
        (6.0, "red"),
        (14.4, "red"),
    ]
    assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    windows = [t["legendFormat"] for t in burn["targets"]]
    assert windows == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]


def test_alert_states_select_by_sloguard_severity_whatever_a_route_renames(
    bundled: Loaded,
) -> None:
    alerts = row_panels(board_of(bundled, "catalog"), "availability")["Alerts"]
    exprs = {t["refId"]: t["expr"] for t in alerts["targets"]}
    assert 'sloguard_severity="page"' in exprs["page"]
    assert 'sloguard_severity="ticket"' in exprs["ticket"]
    # The route renames `severity` to critical/warning: selecting on it would find nothing.
    assert ",severity=" not in exprs["page"] + exprs["ticket"]
    assert exprs["page"].endswith("or on() vector(0)")


def test_a_disabled_route_has_no_alert_state(bundled: Loaded) -> None:
    alerts = row_panels(board_of(bundled, "invoice-worker"), "freshness")["Alerts"]
    assert [t["refId"] for t in alerts["targets"]] == ["page"]


def test_a_raw_ratio_has_no_traffic_panel(bundled: Loaded) -> None:
    assert "Traffic" not in row_panels(board_of(bundled, "invoice-worker"), "freshness")


def test_per_label_slos_get_a_variable_and_a_legend_per_value(bundled: Loaded) -> None:
    board = board_of(bundled, "catalog")
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "slo", "grpc_method"]
    panels = row_panels(board, "availability")
    target = panels["SLI against objective"]["targets"][0]
    assert target["legendFormat"] == "{{grpc_method}}"
    assert 'grpc_method=~"$grpc_method"' in target["expr"]
    # The latency SLO has no such label: selecting a method must not blank it.
    latency = row_panels(board, "search-latency")["SLI against objective"]["targets"][0]
    assert "grpc_method" not in latency["expr"]


def test_the_budget_panel_spans_two_windows_and_marks_the_start(bundled: Loaded) -> None:
    board = board_of(bundled, "checkout")
    budget = row_panels(board, "availability")["Error budget left over 30d"]
    assert budget["timeFrom"] == "60d"
    marker = next(
        a for a in board["annotations"]["list"] if a["name"] == "availability: window start"
    )
    assert marker["filter"]["ids"] == [budget["id"]]
    assert marker["useValueForTime"] is True
    assert "- 2592000) * 1000" in marker["expr"]
    month = row_panels(board_of(bundled, "invoice-worker"), "processing")
    assert month["Error budget left over this month"]["timeFrom"] == "now-1M/M"


def test_calendar_week_marks_monday(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        service: s
        slos:
          - name: weekly
            objective: 99
            window: week
            sli:
              events:
                errors: sum(rate(e[{{window}}]))
                total: sum(rate(t[{{window}}]))
        """,
    )
    board = service_dashboard(loaded.services[0])
    marker = next(a for a in board["annotations"]["list"] if "expr" in a)
    assert "- 345600) % 604800" in marker["expr"]
    assert row_panels(board, "weekly")["Error budget left over this week"]["timeFrom"] == "now-1w/w"


def test_links_lead_to_runbooks_and_the_overview(bundled: Loaded) -> None:
    board = board_of(bundled, "checkout")
    urls = [link["url"] for link in board["links"]]
    assert urls[0] == "/d/sloguard-overview"
    assert "https://runbooks.example.com/checkout/availability" in urls
    panel = row_panels(board, "latency")["Alerts"]
    assert panel["links"][0]["url"] == "https://runbooks.example.com/checkout/latency"


def test_uids_are_stable_and_match_the_alert_links(bundled: Loaded) -> None:
    for spec in bundled.services:
        board = service_dashboard(spec)
        assert board["uid"] == dashboard_uid(spec.service)
        assert board["schemaVersion"] == 42
        assert service_dashboard(spec) == board
    assert overview_dashboard(bundled.services)["uid"] == "sloguard-overview"


def test_no_nulls_but_the_base_threshold(bundled: Loaded) -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None:
                    assert key == "value" and "color" in node, f"{path}.{key}"
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    for spec in bundled.services:
        walk(service_dashboard(spec), spec.service)
    walk(overview_dashboard(bundled.services), "overview")


def test_the_overview_is_filtered_by_service_and_sorted_by_budget(bundled: Loaded) -> None:
    board = overview_dashboard(bundled.services)
    table = next(p for p in board["panels"] if p["type"] == "table")
    expr = table["targets"][0]["expr"]
    assert expr.startswith(promql.BUDGET_REMAINING)
    assert 'service=~"catalog|checkout|invoice\\\\-worker"' in expr and "$service" in expr
    assert table["options"]["sortBy"] == [{"displayName": "Budget left", "desc": False}]
    link = table["fieldConfig"]["overrides"][1]["properties"][0]["value"][0]["url"]
    assert link.startswith("/d/${__data.fields.dashboard_uid}?var-slo=")
    variable = board["templating"]["list"][1]
    assert variable["query"] == "catalog,checkout,invoice-worker"


def test_the_overview_filters_by_the_labels_definitions_declare(bundled: Loaded) -> None:
    board = overview_dashboard(bundled.services)
    team = next(v for v in board["templating"]["list"] if v["name"] == "team")
    assert team["definition"] == 'label_values(sloguard_slo_info{service=~"$service"}, team)'
    assert team["includeAll"] and team["allValue"] == ".*"
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    assert len(exprs) == 4 and all('team=~"$team"' in e for e in exprs)


def test_a_declared_label_named_like_a_variable_is_not_a_second_variable(tmp_path: Path) -> None:
    definition = tmp_path / "api.yaml"
    definition.write_text(
        (REPO / "slo-definitions" / "checkout.yaml")
        .read_text()
        .replace("team: payments\n", "team: payments\n  datasource: main\n", 1)
    )
    board = overview_dashboard(load([definition]).services)
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "service", "team"]
