"""Evaluation against a real Prometheus holding 30 days of synthetic traffic with known errors.

History (backfilled with promtool): 20 requests/s; 0.05% of them fail, except a 2-hour incident
ten days ago at 2% and the last day at 0.4% (a 4x burn of a 99.9% budget). The expected
figures are computed from those counts; both paths must land within 1% of them:
- raw: nothing recorded, the agent computes every window from the request counters;
- rules: the generated rules run in Prometheus over the history their inputs would have (5m
  rates every 30s for 3 days, 30m averages every 10m for 30 days, computed from the same
  counts), and the agent reads what they record.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from sloguard.cli import main
from sloguard.demo.prometheus import write_rules
from sloguard.evaluating import evaluate
from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.loading import Loaded
from sloguard.sources.prometheus import Prometheus as Source
from sloguard.sources.prometheus import PrometheusSettings, client
from tests.support.realprom import Prometheus, Series, backfill, running_prometheus
from tests.support.repo import load_text
from tests.support.running import wait_for

pytestmark = pytest.mark.integration  # starts real processes or servers

RATE = 20.0
DAY, HOUR, MINUTE = 86400, 3600, 60
HISTORY = 30 * DAY + 2 * HOUR
DEFINITION = """
service: shop
labels: {team: web}
slos:
  - name: availability
    objective: 99.9
    window: 30d
    sli:
      events:
        errors: sum(rate(http_requests_total{job="shop",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{job="shop"}[{{window}}]))
"""


def share(age: float) -> float:
    """Share of failing requests `age` seconds before the end of the history."""
    if age <= DAY:
        return 0.004
    if 10 * DAY - 2 * HOUR < age <= 10 * DAY:
        return 0.02
    return 0.0005


def failed_between(end: int, older: float, newer: float) -> float:
    """Failed requests between two ages (seconds before `end`), minute by minute (`share` is
    constant within each minute)."""
    total = 0.0
    age = newer
    while age < older:
        step = min(MINUTE - age % MINUTE or MINUTE, older - age)
        total += RATE * share(age + step) * step
        age += step
    return total


def expected_ratio(end: int, window: float) -> float:
    return failed_between(end, window, 0) / (RATE * window)


def history(end: int) -> dict[str, list[Series]]:
    """Raw counters every minute, and the recorded inputs the rules would have written."""
    start = end - HISTORY
    errors, ok, failed = [], [], 0.0
    for t in range(start, end + 1, MINUTE):
        errors.append((t, round(failed, 6)))
        ok.append((t, round(RATE * (t - start) - failed, 6)))
        failed += RATE * share(end - t - MINUTE / 2) * MINUTE
    ids = {"service": "shop", "slo": "availability", "team": "web"}

    def rate5m(t: int) -> float:
        return failed_between(end, end - t + 300, end - t) / 300

    fine = range(end - 3 * DAY - HOUR, end + 1, 30)
    coarse = range(start + HOUR, end + 1, 600)

    def rate30m(t: int) -> float:  # avg_over_time of the 5m rates recorded every 30s
        points = [rate5m(s) for s in range(t - 1800, t + 1, 30)]
        return sum(points) / len(points)

    return {
        "http_requests_total": [
            ("http_requests_total", {"job": "shop", "code": "500"}, errors),
            ("http_requests_total", {"job": "shop", "code": "200"}, ok),
        ],
        "slo:sli_errors:rate5m": [("slo:sli_errors:rate5m", ids, [(t, rate5m(t)) for t in fine])],
        "slo:sli_total:rate5m": [("slo:sli_total:rate5m", ids, [(t, RATE) for t in fine])],
        "slo:sli_errors:rate30m": [
            ("slo:sli_errors:rate30m", ids, [(t, rate30m(t)) for t in coarse])
        ],
        "slo:sli_total:rate30m": [("slo:sli_total:rate30m", ids, [(t, RATE) for t in coarse])],
    }


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return load_text(tmp_path_factory.mktemp("defs"), DEFINITION, "shop.yaml")


@pytest.fixture(scope="module")
def end() -> int:
    return int(time.time()) // MINUTE * MINUTE - MINUTE


def start(
    directory: Path, families: dict[str, list[Series]], rules: list[Path]
) -> Iterator[Prometheus]:
    backfill(directory, families)
    with running_prometheus(directory, {}, rules, ("--storage.tsdb.retention.time=400d",)) as prom:
        yield prom


@pytest.fixture(scope="module")
def raw_prometheus(tmp_path_factory: pytest.TempPathFactory, end: int) -> Iterator[Prometheus]:
    families = {k: v for k, v in history(end).items() if k == "http_requests_total"}
    yield from start(tmp_path_factory.mktemp("raw"), families, [])


@pytest.fixture(scope="module")
def rules_prometheus(
    tmp_path_factory: pytest.TempPathFactory, end: int, shop: Loaded
) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("rules")
    # Every group each second: a first evaluation within a second, not 10 minutes.
    rule_files = write_rules(directory, shop, "1s")
    yield from start(directory, history(end), rule_files)


def evaluate_at(prom: Prometheus, shop: Loaded, at: float) -> Evaluation:
    async def once() -> list[Evaluation]:
        settings = PrometheusSettings(url=prom.url)
        async with client(settings) as http:
            return await evaluate(shop.services, Source(http, settings), at)

    [evaluation] = asyncio.run(once())
    return evaluation


def assert_matches_history(evaluation: Evaluation, end: int) -> None:
    budget = 0.001
    whole = expected_ratio(end, 30 * DAY)
    assert evaluation.sli == pytest.approx(1 - whole, rel=0.01)
    assert evaluation.error_budget_remaining == pytest.approx(1 - whole / budget, rel=0.01)
    for window, burn in evaluation.burn_rates.items():
        seconds = {
            "5m": 300,
            "30m": 1800,
            "1h": HOUR,
            "2h": 2 * HOUR,
            "6h": 6 * HOUR,
            "1d": DAY,
            "3d": 3 * DAY,
        }[window]
        assert burn == pytest.approx(expected_ratio(end, seconds) / budget, rel=0.01), window
    assert evaluation.events["30d"] == pytest.approx(RATE * 30 * DAY, rel=0.01)
    # 4x over 1d and 2h is over the ticket's 3x; no window burns the page's 6x or 14.4x.
    assert (evaluation.page, evaluation.ticket) == (False, True)
    assert evaluation.status is Status.WARNING


def test_the_raw_path_matches_the_history(
    raw_prometheus: Prometheus, shop: Loaded, end: int
) -> None:
    evaluation = evaluate_at(raw_prometheus, shop, end)
    assert evaluation.origin is Origin.RAW, evaluation.reason
    assert_matches_history(evaluation, end)


def test_the_rules_path_matches_the_history(
    rules_prometheus: Prometheus, shop: Loaded, end: int
) -> None:
    deadline = time.monotonic() + 60
    while not rules_prometheus.query("slo:error_budget_remaining:ratio"):
        assert time.monotonic() < deadline, "the rules never recorded a budget"
        time.sleep(0.5)
    for _ in range(2):  # two more evaluations of every group
        since = functools.partial(rules_prometheus.rules_evaluated_since, time.time())
        wait_for(since, "the rule groups")
    evaluation = evaluate_at(rules_prometheus, shop, time.time())
    assert evaluation.origin is Origin.RULES, evaluation.reason
    assert_matches_history(evaluation, end)


def test_evaluate_prints_json_and_a_table(
    raw_prometheus: Prometheus, shop: Loaded, end: int
) -> None:
    source = next(iter(shop.sources["shop"]))
    at = datetime.fromtimestamp(end, UTC).isoformat()
    base = ["evaluate", source, "--prometheus", raw_prometheus.url, "--at", at]
    result = CliRunner().invoke(main, [*base, "--output", "json"])
    assert result.exit_code == 0, result.output
    [document] = json.loads(result.stdout)
    assert {
        "service",
        "slo",
        "objective",
        "window",
        "sli",
        "error_budget_remaining",
        "burn_rates",
        "events",
        "status",
        "reason",
    } <= document.keys()
    assert (document["objective"], document["window"], document["status"]) == (
        0.999,
        "30d",
        "warning",
    )
    assert document["at"] == datetime.fromtimestamp(end, UTC).isoformat().replace("+00:00", "Z")
    assert list(document["burn_rates"]) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    table = CliRunner().invoke(main, base)
    assert table.exit_code == 0
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["SLO", "OBJECTIVE", "WINDOW"]
    assert row.startswith("shop/availability") and "32.9%" in row and "warning" in row


def test_a_prometheus_that_is_down_gives_no_data(shop: Loaded) -> None:
    from tests.support.realprom import free_port

    url = f"http://127.0.0.1:{free_port()}"

    async def once() -> list[Evaluation]:
        settings = PrometheusSettings(url=url, retries=1, backoff_seconds=0.01)
        async with client(settings) as http:
            return await evaluate(shop.services, Source(http, settings), time.time())

    [evaluation] = asyncio.run(once())
    assert evaluation.status is Status.NO_DATA
    assert evaluation.reason.startswith("query failed: cannot reach Prometheus: ConnectError")
    assert evaluation.sli is None and evaluation.error_budget_remaining is None
