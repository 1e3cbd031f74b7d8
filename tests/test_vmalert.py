"""The generated rules run by vmalert against VictoriaMetrics.

Live: Prometheus scrapes a failing service and remote-writes into VictoriaMetrics, vmalert
evaluates the rule file as `sloguard generate` writes it, writes the recorded series back, and
sends the page to a real Alertmanager. Only the fast group's first evaluations fit in a test.

Replayed: `sloguard prove`'s scenarios (the same input series and checks promtool runs) over
VictoriaMetrics, every group at its own interval, the 2m and 10m groups included."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sloguard.demo.prometheus import free_port
from sloguard.loading import load
from sloguard.rules.output import RuleFormat, render_rule_file, render_rule_files
from sloguard.scenarios import Scenario, scenario_spec, scenarios_for
from tests.support.alertmanager import running_alertmanager
from tests.support.exporter import exporter
from tests.support.processes import serving
from tests.support.realprom import Series, running_prometheus
from tests.support.repo import FIXTURES
from tests.support.victoria import import_history, replay, running_victoria

pytestmark = pytest.mark.integration  # starts VictoriaMetrics, vmalert, Prometheus, Alertmanager

DAY = 86400
FAILING = 0.10  # 100 times a 99.9% SLO's budget
DEFINITION = """
service: shop
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(requests_total{job="shop",code="500"}[{{window}}]))
        total: sum(rate(requests_total{job="shop"}[{{window}}]))
"""


@contextlib.contextmanager
def running_vmalert(
    directory: Path, rules: Path, victoria: str, alertmanager: str
) -> Iterator[str]:
    """vmalert reading and writing `victoria`, notifying `alertmanager`; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        "vmalert",
        f"-rule={rules}",
        f"-datasource.url={victoria}",
        f"-remoteWrite.url={victoria}",
        "-remoteWrite.flushInterval=1s",
        f"-notifier.url={alertmanager}",
        f"-httpListenAddr=127.0.0.1:{port}",
    ]
    with serving(command, directory / "vmalert.log", f"{url}/health"):
        yield url


def query(victoria: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{victoria}/api/v1/query", params={"query": expr})
    response.raise_for_status()
    return list(response.json()["data"]["result"])


def test_vmalert_records_the_burn_rates_and_pages_through_alertmanager(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "shop.yaml").write_text(DEFINITION, encoding="utf-8")
    loaded = load([tmp_path / "defs"])
    [(name, text)] = render_rule_files(
        loaded.services, loaded.sources, RuleFormat.PROMETHEUS
    ).items()
    rules = tmp_path / name
    rules.write_text(text, encoding="utf-8")
    for part in ("victoria", "prometheus", "alertmanager"):
        (tmp_path / part).mkdir()
    with contextlib.ExitStack() as stack:
        victoria = stack.enter_context(running_victoria(tmp_path / "victoria"))
        target = stack.enter_context(exporter(10.0, FAILING))
        stack.enter_context(
            running_prometheus(
                tmp_path / "prometheus",
                {"shop": target},
                [],
                remote_write=f"{victoria}/api/v1/write",
            )
        )
        manager = stack.enter_context(running_alertmanager(tmp_path / "alertmanager"))
        stack.enter_context(running_vmalert(tmp_path, rules, victoria, manager.url))
        # The fast group runs every 30s: its first evaluations record the rates and burn rates
        # from the raw counters, and fire the page. Alone that takes under a minute; on a CI
        # machine running other servers beside it, four rounds of the group (120 s) were once
        # not enough, so the wait allows eight.
        firing = 'ALERTS{alertstate="firing",sloguard_severity="page",service="shop"}'
        deadline = time.monotonic() + 240
        while not query(victoria, firing):
            assert time.monotonic() < deadline, (tmp_path / "vmalert.log").read_text()[-3000:]
            time.sleep(1)
        [burn] = query(victoria, 'slo:burn_rate:5m{service="shop",slo="availability"}')
        assert float(burn["value"][1]) == pytest.approx(FAILING / 0.001, rel=0.01)
        [errors] = query(victoria, 'slo:sli_errors:rate5m{service="shop"}')
        [total] = query(victoria, 'slo:sli_total:rate5m{service="shop"}')
        assert float(errors["value"][1]) / float(total["value"][1]) == pytest.approx(
            FAILING, rel=0.01
        )
        [alert] = manager.delivered(timeout=30)
        assert alert["labels"]["sloguard_severity"] == "page"
        assert alert["labels"]["slo"] == "availability"


# Replayed: the scenarios `sloguard prove` runs through promtool, the same input series and the
# same checks, run by vmalert over VictoriaMetrics at every group's own interval, the slow and
# coarse groups included, which a live test cannot wait for.
SHOP = load([FIXTURES / "native"]).services[0]
START = 1_767_225_600  # 2026-01-01T00:00:00Z: the scenarios' time 0, on every group's interval


def samples(values: str, step: int) -> list[tuple[int, float]]:
    """promtool's expanding notation (`a+bxn` terms) as samples from START, `step` apart."""
    found: list[tuple[int, float]] = []
    for term in values.split():
        match = re.fullmatch(r"([-+]?[\d.]+(?:e[-+]?\d+)?)([-+][\d.]+(?:e[-+]?\d+)?)x(\d+)", term)
        assert match, f"not a promtool term: {term}"
        first, increment, count = float(match[1]), float(match[2]), int(match[3])
        found += [
            (START + (len(found) + i) * step, first + i * increment) for i in range(count + 1)
        ]
    return found


def scenario_history(test: dict[str, Any]) -> dict[str, list[Series]]:
    step = int(test["interval"].removesuffix("s"))
    series = []
    for given in test["input_series"]:
        name, labels = given["series"].rstrip("}").split("{")
        key, value = labels.split("=")
        series.append((name, {key: value.strip('"')}, samples(given["values"], step)))
    return {"scenario": series}


def instant(victoria: str, expr: str, at: int) -> list[dict[str, Any]]:
    response = httpx.get(f"{victoria}/api/v1/query", params={"query": expr, "time": str(at)})
    response.raise_for_status()
    return list(response.json()["data"]["result"])


@pytest.mark.parametrize("scenario", scenarios_for(SHOP, SHOP.slos[0]), ids=lambda s: s.name)
def test_the_prove_scenarios_hold_when_vmalert_replays_the_rules(
    tmp_path: Path, scenario: Scenario
) -> None:
    text = render_rule_file(scenario_spec(SHOP, SHOP.slos[0]), [], RuleFormat.PROMETHEUS)
    checks = scenario.test["promql_expr_test"]
    end = START + max(int(c["eval_time"].removesuffix("s")) for c in checks)
    with running_victoria(tmp_path) as victoria:
        import_history(victoria, scenario_history(scenario.test))
        replay(tmp_path, yaml.safe_load(text)["groups"], victoria, START, end)
        for check in checks:
            at = START + int(check["eval_time"].removesuffix("s"))
            found = [float(r["value"][1]) for r in instant(victoria, check["expr"], at)]
            expected = [float(s["value"]) for s in check["exp_samples"]]
            assert found == expected, f"{scenario.claim}: {check['expr']} at {check['eval_time']}"
        if scenario.name == "burn-2x":
            # The slow and coarse groups' figures, against the arithmetic: three healthy days,
            # then 2x. Two days into the burn, 0.8 of the budget's ratio is spent over the five
            # days there are; the day and three-day windows, all in the burn, read 2x at the end.
            [left] = instant(
                victoria, 'slo:error_budget_remaining:ratio{slo="availability"}', START + 5 * DAY
            )
            assert float(left["value"][1]) == pytest.approx(0.2, abs=0.01)
            for window in ("1d", "3d"):
                [burn] = instant(victoria, f'slo:burn_rate:{window}{{slo="availability"}}', end)
                assert float(burn["value"][1]) == pytest.approx(2.0, rel=0.02), window
