"""Replicas of one Prometheus (an HA pair): the agent reads from one at a time, fails over
within a cycle, fails back, and says which it read."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sloguard.assembly import Settings, assemble
from sloguard.errors import QueryRejected, SourceUnavailable
from sloguard.sources.prometheus import FAILBACK_SECONDS, Failover, PrometheusSettings
from tests.support.canaries import DEFINITION, history
from tests.support.realprom import backfill, running_prometheus


class Replica:
    """A stand-in for one replica's client: answers, or fails as told."""

    def __init__(self, name: str) -> None:
        self.name, self.down, self.asked = name, False, 0

    async def query(self, expr: str, at: float) -> list[Any]:
        self.asked += 1
        if self.down:
            raise SourceUnavailable(f"{self.name} is down", "connection")
        if expr == "bad(":
            raise QueryRejected("parse error", "rejected")
        return [({"replica": self.name}, 1.0)]


def test_one_replica_at_a_time_over_then_back_after_a_minute() -> None:
    now = [0.0]
    first, second = Replica("a"), Replica("b")
    switched: list[str] = []
    failover = Failover(
        [("http://a", first), ("http://b", second)], lambda: now[0], switched.append
    )  # type: ignore[list-item]

    def ask() -> str:
        return asyncio.run(failover.query("up", 0))[0][0]["replica"]

    assert ask() == "a" and second.asked == 0  # the first while it answers
    first.down = True
    assert ask() == "b" and failover.active == "http://b" and switched == ["http://b"]
    asked = first.asked
    assert ask() == "b" and first.asked == asked  # stays on the second meanwhile
    first.down = False
    now[0] += FAILBACK_SECONDS
    assert ask() == "a" and failover.active == "http://a" and switched[-1] == "http://a"


def test_a_rejected_query_is_not_asked_of_the_other_replica() -> None:
    first, second = Replica("a"), Replica("b")
    failover = Failover([("http://a", first), ("http://b", second)])  # type: ignore[list-item]
    with pytest.raises(QueryRejected):
        asyncio.run(failover.query("bad(", 0))
    assert second.asked == 0


def test_every_replica_down_is_unavailable_naming_the_first() -> None:
    first, second = Replica("a"), Replica("b")
    first.down = second.down = True
    failover = Failover([("http://a", first), ("http://b", second)])  # type: ignore[list-item]
    with pytest.raises(SourceUnavailable, match="every replica failed; the first said: a is down"):
        asyncio.run(failover.query("up", 0))


@pytest.mark.integration  # two real Prometheus
def test_the_agent_fails_over_to_the_second_prometheus_within_a_cycle(tmp_path: Path) -> None:
    import time

    end = int(time.time()) // 60 * 60 - 60
    definitions = tmp_path / "shop.yaml"
    definitions.write_text(DEFINITION, encoding="utf-8")
    with contextlib.ExitStack() as both, contextlib.ExitStack() as first_only:
        urls = []
        for name, stack in (("a", first_only), ("b", both)):
            directory = tmp_path / name
            directory.mkdir()
            backfill(directory, history(end))
            retention = ("--storage.tsdb.retention.time=400d",)
            urls.append(stack.enter_context(running_prometheus(directory, {}, [], retention)).url)
        settings = Settings(
            paths=(definitions,),
            prometheus=PrometheusSettings(
                url=urls[0], replicas=(urls[1],), retries=0, timeout_seconds=2
            ),
        )
        registry = CollectorRegistry()
        assembly = assemble(settings, registry=registry, clock=lambda: float(end))

        async def cycles() -> list[list[Any]]:
            try:
                read = [await assembly.agent.cycle()]
                first_only.close()  # the first replica stops
                read.append(await assembly.agent.cycle())
                return read
            finally:
                await assembly.aclose()

        before, after = asyncio.run(cycles())
    for evaluations, url in ((before, urls[0]), (after, urls[1])):
        assert {e.prometheus for e in evaluations} == {url}
        assert {e.status.value for e in evaluations} == {"ok"}  # no gap: read whole elsewhere
    active = [registry.get_sample_value("sloguard_prometheus_active", {"url": u}) for u in urls]
    assert active == [0.0, 1.0]
    assert assembly.agent.source_error == ""  # the cycle completed with Prometheus answering
