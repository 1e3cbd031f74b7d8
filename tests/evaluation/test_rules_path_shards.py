"""The rules path's sharded queries against a real Prometheus holding the series the generated
rules record (written with promtool, as `bench.evaluation --backfilled` does at 10,000 SLOs):
each shard selects its own services and each SLO's own short windows, and every SLO is judged
from them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sloguard.burnrate import tiers_for
from sloguard.evaluating import evaluate
from sloguard.evaluation.model import Origin
from sloguard.evaluation.readings import rules_queries
from sloguard.loading import load
from sloguard.promql import PART_LABEL, RAW_WINDOW_MAX_SECONDS
from sloguard.sources.prometheus import Prometheus as Source
from sloguard.sources.prometheus import PrometheusSettings, client
from sloguard.spec.durations import parse_seconds
from tests.support.realprom import create_blocks, running_prometheus
from tests.support.recorded import write_recorded
from tests.support.repo import REPO

pytestmark = pytest.mark.integration  # starts real processes or servers

RATE = 100.0  # the 5m rates and 30m averages `write_recorded` writes, events a second


def test_each_shard_reads_its_services_and_each_slo_its_own_short_windows(
    tmp_path: Path,
) -> None:
    # 28d, 30d, month and 7d SLOs; "availability" in two services; a per-label SLO.
    loaded = load([REPO / "slo-definitions"])
    end = int(time.time()) - 60
    write_recorded(loaded, tmp_path / "recorded.om", end, {"grpc_method": ("Get", "List")})
    create_blocks(tmp_path / "recorded.om", tmp_path / "tsdb")
    shards = rules_queries(loaded.services, shard_slos=4)  # catalog and checkout; invoice-worker
    assert [shard.services for shard in shards] == [("catalog", "checkout"), ("invoice-worker",)]
    wanted = {
        (spec.service, slo.name): {t.short for t in tiers_for(slo)}
        for spec in loaded.services
        for slo in spec.slos
    }

    async def scenario(url: str) -> None:
        settings = PrometheusSettings(url=url)
        async with client(settings) as http:
            source = Source(http, settings)
            for shard in shards:
                read: dict[tuple[str, str], set[str]] = {}
                for labels, value in await source.query(shard.events, end):
                    key = (labels["service"], labels["slo"])
                    window = labels[PART_LABEL]
                    read.setdefault(key, set()).add(window)
                    if parse_seconds(window) <= RAW_WINDOW_MAX_SECONDS:  # averaged 5m rates
                        assert value == pytest.approx(RATE * parse_seconds(window)), (key, window)
                assert read == {k: w for k, w in wanted.items() if k[0] in shard.services}
                budgets = await source.query(shard.budgets, end)
                assert {labels["service"] for labels, _ in budgets} == set(shard.services)
            evaluations = await evaluate(loaded.services, source, end)
        assert [(e.service, e.slo, e.origin) for e in evaluations] == [
            (spec.service, slo.name, Origin.RULES) for spec in loaded.services for slo in spec.slos
        ]

    with running_prometheus(tmp_path, {}, []) as prom:
        asyncio.run(scenario(prom.url))
