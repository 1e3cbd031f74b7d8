"""The agent in-process: its loop, reloads, readiness, API and metrics (fake source at our port),
and a query that hangs against a real socket."""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import textwrap
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.agent import YOUNG_ROUND, Agent
from sloguard.errors import SpecError
from sloguard.evaluating import evaluate
from sloguard.evaluation.model import Status
from sloguard.loading import Loaded, load
from sloguard.sources.prometheus import Prometheus, PrometheusSettings, client
from tests.support.agent import api, assembled
from tests.support.fakes import Switchable
from tests.support.repo import FIXTURES

pytestmark = pytest.mark.integration  # starts real processes or servers

SHOP = (FIXTURES / "native" / "shop.yaml").read_text()


def build(
    shop_definitions: Path, source: Switchable, interval: float = 60.0
) -> tuple[Agent, CollectorRegistry, httpx.AsyncClient]:
    """The agent over `source`; a cycle's figures go stale after a few `interval`s, so only a
    test of the loop itself runs it fast (a busy machine made a 10 ms one stale by the time
    the next line read it)."""
    assembly = assembled(shop_definitions, source, interval_seconds=interval)
    return assembly.agent, assembly.registry, api(assembly)


def test_ready_after_a_cycle_and_not_while_prometheus_is_down(shop_definitions: Path) -> None:
    source = Switchable()
    agent, registry, http = build(shop_definitions, source)

    async def scenario() -> None:
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/v1/slos")).status_code == 503
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        await agent.cycle()
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        [slo] = (await http.get("/v1/slos")).json()
        assert (slo["status"], slo["error_budget_remaining"], slo["path"]) == ("ok", 0.75, "rules")
        source.down = True
        await agent.cycle()
        down = await http.get("/readyz")
        assert down.status_code == 503 and "cannot reach Prometheus" in down.json()["reason"]
        [slo] = (await http.get("/v1/slos")).json()
        assert slo["status"] == "no_data" and slo["reason"].startswith("query failed: cannot reach")
        source.down = False
        await agent.cycle()
        assert (await http.get("/readyz")).status_code == 200

    asyncio.run(scenario())
    assert registry.get_sample_value("sloguard_query_errors_total", {"reason": "connection"}) == 4
    assert (
        registry.get_sample_value(
            "sloguard_slo_status", {"service": "shop", "slo": "availability", "status": "ok"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "sloguard_slo_burn_rate", {"service": "shop", "slo": "availability", "window": "1h"}
        )
        == 0.5
    )
    assert registry.get_sample_value("sloguard_last_successful_evaluation_timestamp_seconds") > 0
    assert registry.get_sample_value("sloguard_evaluation_duration_seconds_count") == 3


def test_metrics_pass_promtool(shop_definitions: Path, promtool: str) -> None:
    agent, _, http = build(shop_definitions, Switchable())

    async def scrape() -> str:
        await agent.cycle()
        response = await http.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=")
        return response.text

    text = asyncio.run(scrape())
    assert 'sloguard_slo_error_budget_remaining{service="shop",slo="availability"} 0.75' in text
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_changed_definitions_are_reloaded_and_bad_ones_keep_the_last_good_set(
    shop_definitions: Path,
) -> None:
    agent, registry, http = build(shop_definitions, Switchable())
    asyncio.run(agent.cycle())
    extra = SHOP.replace("name: availability", "name: checkout-flow", 1)
    (shop_definitions / "shop.yaml").write_text(
        SHOP + textwrap.indent(extra.split("slos:\n", 1)[1], "")
    )
    asyncio.run(agent.cycle())
    assert [e.slo for e in agent.evaluations] == ["availability", "checkout-flow"]
    (shop_definitions / "shop.yaml").write_text(SHOP.replace("objective: 99.9", "objective: 120"))
    asyncio.run(agent.cycle())
    assert [e.slo for e in agent.evaluations] == ["availability", "checkout-flow"]
    assert "objective" in agent.definitions_error
    assert registry.get_sample_value("sloguard_definition_reload_errors_total") == 1
    body = asyncio.run(http.get("/readyz")).json()
    assert "objective" in body["definitions_error"]
    (shop_definitions / "shop.yaml").write_text(SHOP)
    asyncio.run(agent.cycle())
    assert agent.definitions_error == "" and [e.slo for e in agent.evaluations] == ["availability"]


def test_loaded_definitions_are_left_out_of_collections_until_they_change(
    shop_definitions: Path,
) -> None:
    agent, _, _ = build(shop_definitions, Switchable())
    asyncio.run(agent.cycle())
    first = agent.definitions.services[0]
    assert gc.get_freeze_count() > 0
    assert not any(o is first for o in gc.get_objects())  # frozen: no collection walks it
    assert gc.get_threshold()[0] == YOUNG_ROUND  # a cycle's answers are not walked 1,000 times

    class Cycle:
        pass

    garbage = Cycle()
    garbage.itself = garbage  # type: ignore[attr-defined]
    gone = weakref.ref(garbage)
    del garbage
    gc.freeze()  # as if it had been alive at the last load
    extra = SHOP.replace("objective: 99.9", "objective: 99.5")
    (shop_definitions / "shop.yaml").write_text(extra)
    asyncio.run(agent.cycle())
    assert gone() is None  # what the last set left in cycles is collected on a change
    assert not any(o is agent.definitions.services[0] for o in gc.get_objects())


@pytest.mark.parametrize(
    ("hostile", "error"),
    [
        ("service: shop\nslos: &a [ *a ]\n", "shop.yaml:2: YAML aliases are not allowed"),
        (None, "shop.yaml: broken symbolic link to shop-v2.yaml"),
    ],
    ids=["recursive-alias", "dangling-link"],
)
def test_a_hostile_reload_keeps_the_last_good_set_and_says_why(
    shop_definitions: Path, hostile: str | None, error: str
) -> None:
    agent, registry, http = build(shop_definitions, Switchable())
    asyncio.run(agent.cycle())
    (shop_definitions / "shop.yaml").unlink()
    if hostile is None:
        (shop_definitions / "shop.yaml").symlink_to("shop-v2.yaml")
    else:
        (shop_definitions / "shop.yaml").write_text(hostile)
    asyncio.run(agent.cycle())
    asyncio.run(agent.cycle())  # reported once per change, not every cycle
    assert [e.slo for e in agent.evaluations] == ["availability"]
    assert error in agent.definitions_error
    assert registry.get_sample_value("sloguard_definition_reload_errors_total") == 1
    assert error in asyncio.run(http.get("/readyz")).json()["definitions_error"]


def test_a_broken_link_next_to_good_files_is_reported_until_it_goes(shop_definitions: Path) -> None:
    agent, registry, _ = build(shop_definitions, Switchable())
    asyncio.run(agent.cycle())
    (shop_definitions / "web.yaml").symlink_to("web-v2.yaml")
    asyncio.run(agent.cycle())
    assert "web.yaml: broken symbolic link" in agent.definitions_error
    (shop_definitions / "web.yaml").unlink()
    asyncio.run(agent.cycle())
    assert agent.definitions_error == ""
    assert registry.get_sample_value("sloguard_definition_reload_errors_total") == 1


def test_definitions_are_read_off_the_event_loop(
    shop_definitions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow read (a huge or hostile file) must not stop the agent answering meanwhile."""
    agent, _, http = build(shop_definitions, Switchable())
    reading, answered = threading.Event(), threading.Event()

    def slow_load(paths: list[Path]) -> Loaded:
        reading.set()
        assert answered.wait(10), "the event loop was blocked while definitions were read"
        return load(paths)

    monkeypatch.setattr("sloguard.agent.load", slow_load)

    async def scenario() -> None:
        cycle = asyncio.create_task(agent.cycle())
        await asyncio.to_thread(reading.wait, 10)
        assert (await http.get("/healthz")).status_code == 200
        answered.set()
        await cycle

    asyncio.run(scenario())
    assert agent.cycles == 1


def test_invalid_definitions_at_start_are_an_error(shop_definitions: Path) -> None:
    (shop_definitions / "shop.yaml").write_text(SHOP.replace("objective: 99.9", "objective: 120"))
    agent, _, _ = build(shop_definitions, Switchable())
    with pytest.raises(SpecError):
        agent.reload()


def test_the_loop_survives_until_stopped(shop_definitions: Path) -> None:
    source = Switchable()
    agent, _, _ = build(shop_definitions, source, interval=0.01)

    async def loop() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        while agent.cycles < 3:
            await asyncio.sleep(0.01)
        source.down = True
        cycles = agent.cycles
        while agent.cycles < cycles + 2:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(asyncio.wait_for(loop(), 10))
    assert agent.evaluations[0].status is Status.NO_DATA


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_a_query_that_hangs_times_out_as_no_data(hanging_server: str) -> None:
    loaded = load([FIXTURES / "native"])
    settings = PrometheusSettings(
        url=hanging_server, timeout_seconds=0.3, retries=1, backoff_seconds=0.01
    )

    async def once() -> list[object]:
        async with client(settings) as http:
            return list(await evaluate(loaded.services, Prometheus(http, settings), 0.0))

    [evaluation] = asyncio.run(once())
    assert evaluation.status is Status.NO_DATA  # type: ignore[attr-defined]
    # The deadline covers the whole answer; httpx's read timeout may fire at the same moment.
    reason = evaluation.reason  # type: ignore[attr-defined]
    assert reason in (
        "query failed: timed out after 0.3s (no whole answer)",
        "query failed: timed out after 0.3s (ReadTimeout)",
    )
