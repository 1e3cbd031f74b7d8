"""Every query of every generated dashboard works against a real Prometheus.

The bundled definitions' rules run in Debian's Prometheus, which scrapes a small exporter
built on prometheus-client that serves synthetic traffic for each SLI (events, good events,
latency histograms, per-method gRPC calls, a consumer-lag gauge). Rule groups are evaluated
every second instead of every 30s/2m/10m so minutes of recorded data arrive in a test's time;
the expressions are exactly those of the committed rules and dashboards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from sloguard.dashboard_scripts import render_scripts
from sloguard.dashboards.output import dashboard_files
from sloguard.loading import Loaded, load
from tests.support.boards import as_all, panel_queries
from tests.support.realprom import Prometheus
from tests.support.repo import REPO
from tests.support.synthetic import prometheus_with_traffic

pytestmark = pytest.mark.integration  # starts real processes or servers

DEADLINE_SECONDS = 300
SLO_MATCHER = re.compile(r'slo="([^"]+)"')


@pytest.fixture(scope="module")
def loaded() -> Loaded:
    return load([REPO / "slo-definitions"])


@pytest.fixture(scope="module")
def prometheus(loaded: Loaded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with prometheus_with_traffic(loaded, tmp_path_factory.mktemp("prometheus")) as (prom, _):
        yield prom


def dashboards(loaded: Loaded) -> dict[str, dict[str, Any]]:
    files = dashboard_files(loaded.services, loaded.sources)
    files = files.with_texts(render_scripts(REPO / "dashboards"))
    return {name: yaml.safe_load(text) for name, text in files.items()}


def problems(prom: Prometheus, boards: dict[str, dict[str, Any]]) -> list[str]:
    """What is still wrong: queries Prometheus rejects, returns nothing for, or returns data of
    another SLO for. Rejections raise at once: they are bugs, not a matter of waiting."""
    now = time.time()
    found = []
    for name, board in boards.items():
        for where, expr, instant in panel_queries(board):
            query = as_all(expr)
            if instant:
                result = prom.query(query, now)
            else:
                result = prom.query_range(query, now - 120, now, 5)
            if not result:
                found.append(f"{name}: {where}: no data for {query}")
                continue
            expected = set(SLO_MATCHER.findall(expr))
            shown = {s["metric"]["slo"] for s in result if "slo" in s["metric"]}
            if expected and not shown <= expected:
                found.append(f"{name}: {where}: shows {shown - expected}, not {expected}")
    return found


@pytest.mark.timeout(DEADLINE_SECONDS + 120)
def test_every_panel_query_parses_and_returns_data(prometheus: Prometheus, loaded: Loaded) -> None:
    boards = dashboards(loaded)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        remaining = problems(prometheus, boards)
        if not remaining or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert not remaining, "\n".join(remaining)
    queries = sum(len(list(panel_queries(b))) for b in boards.values())
    assert queries > 50  # all dashboards were walked, rows and annotations included


def test_the_overview_table_lists_every_slo(prometheus: Prometheus, loaded: Loaded) -> None:
    table = next(
        target["expr"]
        for panel in dashboards(loaded)["sloguard-overview.json"]["panels"]
        if panel["type"] == "table"
        for target in panel["targets"]
    )
    expected = {(s.service, slo.name) for s in loaded.services for slo in s.slos}
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        rows = prometheus.query(as_all(table))
        listed = {(r["metric"]["service"], r["metric"]["slo"]) for r in rows}
        if listed >= expected or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert listed == expected
    assert all({"objective", "window", "dashboard_uid"} <= r["metric"].keys() for r in rows)


def test_label_variables_offer_the_values_prometheus_has(
    prometheus: Prometheus, loaded: Loaded
) -> None:
    board = dashboards(loaded)["slo-catalog.json"]
    variable = next(v for v in board["templating"]["list"] if v["name"] == "grpc_method")
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
    assert match is not None
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not prometheus.label_values(match[2], match[1]):
        assert time.monotonic() < deadline, "no grpc_method values recorded"
        time.sleep(2)
    assert set(prometheus.label_values(match[2], match[1])) == {"Get", "Search"}


def test_the_overview_shows_only_the_selected_team(prometheus: Prometheus, loaded: Loaded) -> None:
    board = dashboards(loaded)["sloguard-overview.json"]
    team = next(v for v in board["templating"]["list"] if v["name"] == "team")
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", team["definition"])
    assert match is not None
    table = next(p for p in board["panels"] if p["type"] == "table")["targets"][0]["expr"]
    teams = {s.service: s.labels["team"] for s in loaded.services}
    deadline = time.monotonic() + DEADLINE_SECONDS
    while set(prometheus.label_values(match[2], as_all(match[1]))) != set(teams.values()):
        assert time.monotonic() < deadline, "the team variable never offered every team"
        time.sleep(2)
    # Budgets are recorded after the info series: wait for every team's rows first.
    while {r["metric"]["service"] for r in prometheus.query(as_all(table))} != set(teams):
        assert time.monotonic() < deadline, "the overview never listed every service"
        time.sleep(2)
    rows = prometheus.query(as_all(table.replace("$team", "payments")))
    shown = {r["metric"]["service"] for r in rows}
    assert shown == {service for service, name in teams.items() if name == "payments"}
