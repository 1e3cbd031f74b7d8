"""The generated rules run by vmalert against VictoriaMetrics, live: Prometheus scrapes a
failing service and remote-writes into VictoriaMetrics, vmalert evaluates the rule file as
`sloguard generate` writes it, writes the recorded series back, and sends the page to a real
Alertmanager. (vmalert's groups keep their own intervals: only the fast group's first
evaluations fit in a test; the slower groups are the same PromQL, accepted by `vmalert
-dryRun` in tests/test_victoria.py.)"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloguard.demo.prometheus import free_port
from sloguard.loading import load
from sloguard.rules.output import RuleFormat, render_rule_files
from tests.support.alertmanager import running_alertmanager
from tests.support.exporter import exporter
from tests.support.processes import serving
from tests.support.realprom import running_prometheus
from tests.support.victoria import running_victoria

pytestmark = pytest.mark.integration  # starts VictoriaMetrics, vmalert, Prometheus, Alertmanager

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
        # from the raw counters, and fire the page.
        firing = 'ALERTS{alertstate="firing",sloguard_severity="page",service="shop"}'
        deadline = time.monotonic() + 120
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
