"""Old results are never served as current: a garbled answer is no data with its reason, a
cycle that hangs is cut short at its deadline, and once no cycle has completed for three
intervals every SLO is no data, /readyz says why and /metrics shows it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest

from sloguard.agent import Agent
from sloguard.evaluation.model import Status
from sloguard.evaluation.readings import Sample
from sloguard.sources.prometheus import PrometheusSettings
from tests.support.agent import api, assembled
from tests.support.fakes import Clock, Switchable
from tests.support.hostile import hostile_prometheus, json_answer

pytestmark = pytest.mark.integration  # starts real processes or servers


def test_results_older_than_three_cycles_are_served_as_no_data(shop_definitions: Path) -> None:
    clock = Clock()
    assembly = assembled(shop_definitions, Switchable(), clock, interval_seconds=30)
    agent, registry, http = assembly.agent, assembly.registry, api(assembly)

    async def scenario() -> None:
        await agent.cycle()
        assert (await http.get("/readyz")).status_code == 200
        fresh = (await http.get("/v1/slos")).json()
        assert {s["status"] for s in fresh} == {"ok"}
        clock.now += 90  # three intervals: still current
        assert (await http.get("/readyz")).status_code == 200
        clock.now += 1
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"].startswith("stale: the last evaluation completed 91s ago")
        served = (await http.get("/v1/slos")).json()
        assert {s["status"] for s in served} == {"no_data"}
        assert all(s["reason"].startswith("stale:") for s in served)
        assert all(s["error_budget_remaining"] is None and s["sli"] is None for s in served)
        assert served[0]["at"] == fresh[0]["at"]  # when it was evaluated, as it was
        await agent.cycle()  # a cycle completes: current again
        assert (await http.get("/readyz")).status_code == 200

    asyncio.run(scenario())
    clock.now += 91
    text = generate_latest(registry).decode()
    assert 'sloguard_slo_status{service="shop",slo="availability",status="no_data"} 1.0' in text
    assert "sloguard_slo_error_budget_remaining{" not in text


def test_a_garbled_answer_is_no_data_with_the_reason_not_a_failed_cycle(
    shop_definitions: Path,
) -> None:
    item = {"metric": {"slo": "availability"}, "value": [1, "abc"]}
    body = orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": [item]}})
    with hostile_prometheus(lambda _: json_answer(body)) as prom:
        settings = PrometheusSettings(url=prom.url, retries=0)

        async def scenario() -> tuple[Agent, int]:
            assembly = assembled(shop_definitions, prometheus=settings)
            try:
                await assembly.agent.cycle()
                ready = await api(assembly).get("/readyz")
                return assembly.agent, ready.status_code
            finally:
                await assembly.aclose()

        agent, ready = asyncio.run(scenario())
    assert ready == 503
    assert agent.cycles == 1
    assert {e.status for e in agent.current()} == {Status.NO_DATA}
    assert all("garbled answer from Prometheus" in e.reason for e in agent.current())
    assert "garbled answer" in agent.readiness().reason


class Hanging(Switchable):
    """A source whose queries never return."""

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        await asyncio.Event().wait()
        return []


def test_a_cycle_that_hangs_is_cut_short_at_its_deadline(
    shop_definitions: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = assembled(shop_definitions, Hanging(), interval_seconds=0.2).agent

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(agent.run(stop))
        while not any("cut short" in r.message for r in caplog.records):
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(loop, 5)

    with caplog.at_level(logging.ERROR, "sloguard.agent"):
        asyncio.run(asyncio.wait_for(scenario(), 30))
    assert agent.cycles == 0
    cut = next(r for r in caplog.records if "cut short" in r.message)
    assert cut.deadline_seconds == pytest.approx(0.4)  # type: ignore[attr-defined]
