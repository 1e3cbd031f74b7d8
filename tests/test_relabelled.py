"""An SLO whose labels changed a day ago, read from a real Prometheus: the report's budget, the
SLO's history, the overview's budget trend and the Grafana dashboards count each time once, as
the SLO was defined then. And the joins that do so keep every SLO whose labels did not change.

The shared rules go on recording an SLO's series under its old labels for as long as a window
reaches back (its budget for the whole SLO window), while its own rules (the 5m rates, the
info series) stop at once; the history here is written as they would have left it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from sloguard import promql
from sloguard.dashboards.output import dashboard_files
from sloguard.evaluating import Histories
from sloguard.evaluation.history import History, Trends
from sloguard.loading import Loaded, load
from sloguard.reporting import Reader, objectives
from sloguard.reports.period import between
from sloguard.sources.prometheus import Prometheus as PrometheusSource
from sloguard.sources.prometheus import PrometheusSettings, client
from sloguard.spec.model import ServiceSLOs
from tests.support.backfilled import RETENTION
from tests.support.boards import as_all, panel_queries
from tests.support.month import DEFINITION
from tests.support.realprom import Prometheus, Series, backfill, running_prometheus

pytestmark = pytest.mark.integration  # starts real processes or servers

T = TypeVar("T")
DAY = 86400
STEP = 300
NOW = int(time.time()) // STEP * STEP - 2 * STEP
CHANGED = NOW - DAY  # the definition's team went from `old` to `new`
START = NOW - 7 * DAY


def series(name: str, team: str, first: int, last: int, value: float, step: int = STEP) -> Series:
    labels = {"service": "shop", "slo": "availability", "team": team}
    return name, labels, [(t, value) for t in range(first, last, step)]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("prometheus")
    backfill(
        directory,
        {
            # 0.1% errors (1x the budget) for six days under the old team, 1% (10x) since.
            "slo:sli_total:rate5m": [
                series("slo:sli_total:rate5m", "old", START, CHANGED, 10),
                series("slo:sli_total:rate5m", "new", CHANGED, NOW + 1, 10),
            ],
            "slo:sli_errors:rate5m": [
                series("slo:sli_errors:rate5m", "old", START, CHANGED, 0.01),
                series("slo:sli_errors:rate5m", "new", CHANGED, NOW + 1, 0.1),
            ],
            # The shared rules' old series go on; the new ones start at the change.
            "slo:error_budget_remaining:ratio": [
                series("slo:error_budget_remaining:ratio", "old", START, NOW + 1, 0.5),
                series("slo:error_budget_remaining:ratio", "new", CHANGED, NOW + 1, 0.9),
            ],
            **{
                f"slo:burn_rate:{w}": [
                    series(f"slo:burn_rate:{w}", "old", START, NOW + 1, 5),
                    series(f"slo:burn_rate:{w}", "new", CHANGED, NOW + 1, 1),
                ]
                for w in ("5m", "30m", "1h", "6h")
            },
            # The SLO's own rules stop the old series at once.
            **{
                name: [
                    series(name, "old", START, CHANGED, value, 60),
                    series(name, "new", CHANGED, NOW + 1, value, 60),
                ]
                for name, value in (
                    ("slo:error_budget:ratio", 0.001),
                    ("slo:objective:ratio", 0.999),
                    ("sloguard_slo_info", 1),
                )
            },
        },
    )
    with running_prometheus(directory, {}, [], RETENTION) as prom:
        yield prom


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    path = tmp_path_factory.mktemp("definitions") / "shop.yaml"
    path.write_text(DEFINITION.format(service="shop", team="new"), encoding="utf-8")
    return load([path])


@pytest.fixture(scope="module")
def spec(loaded: Loaded) -> ServiceSLOs:
    [found] = loaded.services
    return found


def reading(prometheus: Prometheus, read: Callable[[PrometheusSource], Awaitable[T]]) -> T:
    settings = PrometheusSettings(prometheus.url)

    async def run() -> T:
        async with client(settings) as http:
            return await read(PrometheusSource(http, settings))

    return asyncio.run(run())


def test_the_report_counts_each_sample_of_the_window_once(
    prometheus: Prometheus, spec: ServiceSLOs
) -> None:
    # Six days at 1x and one at 10x: 16/7 of the budget spent, -129% left. Averaging each
    # series alone and adding the averages up made it (0.01 + 0.1) / 20 = 5.5x: -450%.
    period = between(datetime.fromtimestamp(CHANGED, UTC), datetime.fromtimestamp(NOW, UTC))

    async def read(source: PrometheusSource) -> dict[tuple[str, str], tuple[float | None, ...]]:
        reader = Reader(source, ["shop"], period, NOW, 1)
        return await reader.window_budget(objectives([spec]))

    budgets = reading(prometheus, read)
    at_start, at_end = budgets[("shop", "availability")]
    assert at_start == pytest.approx(0.0, abs=0.01)  # six days at 1x, all under the old team
    assert at_end == pytest.approx(1 - 16 / 7, abs=0.01)


def test_the_history_and_the_trend_follow_the_labels_of_their_time(
    prometheus: Prometheus, spec: ServiceSLOs
) -> None:
    [slo] = spec.slos

    async def read(source: PrometheusSource) -> tuple[History, Trends]:
        histories = Histories(source, 30)
        seen = await histories.read(spec, slo, NOW, 1, 2 * DAY)
        return seen, await histories.trends([spec], NOW, 1, 30)

    seen, trends = reading(prometheus, read)

    def values(kind: str, after: bool) -> set[float]:
        return {
            v
            for line in seen.series[kind]
            for t, v in line.points
            if (t > CHANGED + STEP if after else CHANGED - 2 * STEP > t > NOW - 2 * DAY)
        }

    assert values("budget", after=False) == {0.5} and values("budget", after=True) == {0.9}
    assert values("burn_rate", after=False) == {5.0} and values("burn_rate", after=True) == {1.0}
    trend = trends[("shop", "availability")]
    assert {v for t, v in trend if t > CHANGED + STEP} == {0.9}
    assert {v for t, v in trend if START + DAY < t < CHANGED - 2 * STEP} == {0.5}


def test_the_dashboards_show_the_slo_under_the_labels_of_their_time(
    prometheus: Prometheus, loaded: Loaded
) -> None:
    boards = dashboard_files(loaded.services, loaded.sources)
    budget_chart = ""
    for name, text in boards.items():
        for where, expr, _ in panel_queries(json.loads(text)):
            found = prometheus.query(as_all(expr), NOW)
            assert found, f"{name} {where}: no data"
            assert all(r["metric"].get("team") != "old" for r in found), f"{name} {where}"
            if where.startswith("Error budget left over"):
                budget_chart = as_all(expr)
            if where == "Budget left/A":  # the overview's table: one row, the new budget
                assert [float(r["value"][1]) for r in found] == [0.9]
    lines = prometheus.query_range(budget_chart, NOW - 2 * DAY, NOW, STEP)
    points = [(float(t), float(v)) for line in lines for t, v in line["values"]]
    assert {v for t, v in points if t < CHANGED - STEP} == {0.5}
    assert {v for t, v in points if t > CHANGED + STEP} == {0.9}


GEO = """
service: geo
slos:
  - name: eu
    objective: 99
    labels: {region: eu}
    sli: {raw: {error_ratio: 'avg_over_time(eu_failed_ratio[{{window}}])'}}
  - name: per-region
    objective: 99
    sli: {raw: {error_ratio: 'avg by (region) (avg_over_time(failed_ratio[{{window}}]))'}}
"""


def test_an_slo_grouped_by_a_label_another_slo_is_defined_with_keeps_its_budget(
    tmp_path: Path,
) -> None:
    # `region` is one SLO's definition label and the other's grouping: the per-region SLO's
    # budgets carry it and its info does not, so the joins leave it out for both.
    (tmp_path / "geo.yaml").write_text(GEO, encoding="utf-8")
    loaded = load([tmp_path / "geo.yaml"])

    def budget(slo: str, region: str, value: float) -> Series:
        labels = {"service": "geo", "slo": slo, "region": region}
        return "slo:error_budget_remaining:ratio", labels, [(NOW - STEP, value), (NOW, value)]

    def info(slo: str, **labels: str) -> Series:
        found = {"service": "geo", "slo": slo, **labels}
        return "sloguard_slo_info", found, [(NOW - STEP, 1), (NOW, 1)]

    backfill(
        tmp_path,
        {
            "slo:error_budget_remaining:ratio": [
                budget("eu", "eu", 0.5),
                budget("per-region", "eu", 0.8),
                budget("per-region", "us", -9.0),
            ],
            "sloguard_slo_info": [info("eu", region="eu"), info("per-region")],
        },
    )
    with running_prometheus(tmp_path, {}, [], RETENTION) as prom:
        table = promql.budget_overview(["geo"], promql.joined_keys(loaded.services))
        rows = {(r["metric"]["slo"], r["metric"]["region"]) for r in prom.query(table, NOW)}
        assert rows == {("eu", "eu"), ("per-region", "eu"), ("per-region", "us")}

        async def read(source: PrometheusSource) -> Trends:
            return await Histories(source, 30).trends(loaded.services, NOW, 1, 30)

        trends = reading(prom, read)
    assert {k: v[-1][1] for k, v in trends.items()} == {
        ("geo", "eu"): 0.5,
        ("geo", "per-region"): -9.0,
    }
