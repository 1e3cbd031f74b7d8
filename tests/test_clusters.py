"""Many clusters: two Prometheus, each labelling its series with its own `cluster` (external
labels), remote-write into one VictoriaMetrics; sloguard reads the global view there, per
cluster (one SLO per `cluster`, as per-label SLOs) and across them (`sum` without it)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloguard.assembly import Settings, assemble
from sloguard.evaluation.model import Status
from sloguard.sources.prometheus import PrometheusSettings
from tests.support.exporter import exporter
from tests.support.realprom import running_prometheus
from tests.support.victoria import running_victoria

pytestmark = pytest.mark.integration  # starts two Prometheus and VictoriaMetrics

RATE = 100.0  # requests a second in each cluster
FAILING = {"east": 0.10, "west": 0.002}  # each cluster's error ratio

DEFINITION = """
service: shop
slos:
  - name: per-cluster
    objective: 99
    window: 1d
    sli:
      events:
        errors: sum by (cluster) (rate(requests_total{code="500"}[{{window}}]))
        total: sum by (cluster) (rate(requests_total[{{window}}]))
  - name: global
    objective: 99
    window: 1d
    sli:
      events:
        errors: sum(rate(requests_total{code="500"}[{{window}}]))
        total: sum(rate(requests_total[{{window}}]))
"""


def written(victoria: str) -> dict[str, float]:
    """Samples of `requests_total` VictoriaMetrics holds per cluster over the last minute."""
    response = httpx.get(
        f"{victoria}/api/v1/query",
        params={"query": "sum by (cluster) (count_over_time(requests_total[1m]))"},
    )
    response.raise_for_status()
    return {r["metric"]["cluster"]: float(r["value"][1]) for r in response.json()["data"]["result"]}


@pytest.fixture(scope="module")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """VictoriaMetrics holding 10 seconds of both clusters' traffic, written by their
    Prometheus."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(running_victoria(tmp_path_factory.mktemp("victoria")))
        for cluster, failing in FAILING.items():
            target = stack.enter_context(exporter(RATE, failing))
            stack.enter_context(
                running_prometheus(
                    tmp_path_factory.mktemp(cluster),
                    {"shop": target},
                    [],
                    external_labels={"cluster": cluster},
                    remote_write=f"{url}/api/v1/write",
                )
            )
        deadline = time.monotonic() + 60
        while min(written(url).get(c, 0) for c in FAILING) < 2 * 10:  # two series, 1 s scrapes
            assert time.monotonic() < deadline, f"not written: {written(url)}"
            time.sleep(1)
        yield url


def evaluated(victoria: str, definitions: Path) -> dict[str, Any]:
    async def once() -> dict[str, Any]:
        settings = Settings(
            paths=(definitions,), prometheus=PrometheusSettings(url=victoria, retries=0)
        )
        assembly = assemble(settings)
        try:
            return {e.slo: e for e in await assembly.agent.cycle()}
        finally:
            await assembly.aclose()

    return asyncio.run(once())


def test_one_slo_per_cluster_and_one_across_them_from_one_global_view(
    victoria: str, tmp_path: Path
) -> None:
    definitions = tmp_path / "shop.yaml"
    definitions.write_text(DEFINITION, encoding="utf-8")
    found = evaluated(victoria, definitions)
    per_cluster = found["per-cluster"]
    groups = {e.group["cluster"]: e for e in (per_cluster, *per_cluster.others)}
    assert set(groups) == set(FAILING)
    for cluster, failing in FAILING.items():
        assert groups[cluster].sli == pytest.approx(1 - failing, abs=1e-3), cluster
    # The worst cluster speaks for the SLO, and only it burns its budget.
    assert per_cluster.group == {"cluster": "east"}
    assert groups["east"].status is Status.EXHAUSTED and groups["west"].status is Status.OK
    # Across clusters, with as much traffic in each: the mean error ratio.
    across = found["global"]
    assert across.group == {} and not across.others
    assert across.sli == pytest.approx(1 - sum(FAILING.values()) / 2, abs=2e-3)
