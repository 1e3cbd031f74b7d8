"""Deploy markers: a gate decision that ends a rollout and an action the agent takes become
Grafana annotations (POST /api/annotations) on a local HTTP server answering as Grafana does;
a Grafana that refuses, is down or is slow is counted and never holds up the gate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import NoOpTracer
from prometheus_client import CollectorRegistry

from sloguard.actions.audit import Auditor, Outcome, Result
from sloguard.dashboards.service import service_dashboard
from sloguard.errors import PublishError
from sloguard.gate.model import Decision, SLOVerdict, Verdict
from sloguard.grafana import Annotations
from sloguard.loading import load
from sloguard.marking import DeployMarkers
from sloguard.playbook.model import Action, ObjectRef
from sloguard.telemetry.metrics import ActionMetrics, MarkerMetrics
from tests.support.agent import api, assembled
from tests.support.fakes import Clock
from tests.support.gate import REQUEST, Counting
from tests.support.repo import FIXTURES

pytestmark = pytest.mark.integration  # starts real processes or servers


@dataclass
class Grafana:
    """What a Grafana at `url` was sent; `status` is what it answers, after `delay` seconds."""

    url: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (auth, body)
    status: int = 200
    delay: float = 0.0
    dribble: float = 0.0  # seconds between the answer's bytes


@pytest.fixture
def grafana() -> Iterator[Grafana]:
    found = Grafana()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(found.delay)
            assert self.path == "/api/annotations"
            found.received.append((self.headers.get("Authorization", ""), body))
            answer = json.dumps({"message": "Annotation added", "id": len(found.received)})
            if found.status != 200:
                answer = json.dumps({"message": "Permissions needed: annotations:create"})
            self.send_response(found.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # given up on
                for byte in answer.encode() if found.dribble else [answer.encode()]:
                    self.wfile.write(bytes([byte]) if isinstance(byte, int) else byte)
                    self.wfile.flush()
                    time.sleep(found.dribble)

        def log_message(self, *_: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield found
    server.shutdown()
    server.server_close()
    thread.join()


def decision(verdict: Verdict, service: str = "shop") -> Decision:
    slos = [
        SLOVerdict("availability", verdict, "burn 20x", ()),
        SLOVerdict("latency", Verdict.PASS, "fine", ()),
    ]
    return Decision(service, verdict, f"{verdict.value}: burn 20x", slos, 0.0, 600.0)


def count(registry: CollectorRegistry, result: str) -> float:
    value = registry.get_sample_value("sloguard_grafana_annotations_total", {"result": result})
    return value or 0.0


Mark = Callable[[DeployMarkers], Awaitable[None]]


async def marked(
    grafana: Grafana, mark: Mark, metrics: MarkerMetrics, queue_size: int = 256
) -> DeployMarkers:
    """Run markers against `grafana`, let `mark(markers)` queue some, and stop (which posts
    what is queued)."""
    markers = DeployMarkers(
        Annotations(grafana.url, "secret-token", 2.0, "sloguard/test"),
        metrics,
        clock=lambda: 1_800_000_000.0,
        queue_size=queue_size,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(markers.run(stop))
    await mark(markers)
    stop.set()
    await running
    await markers.aclose()
    return markers


def test_a_rollout_is_marked_when_its_verdict_changes_not_at_every_poll(grafana: Grafana) -> None:
    registry = CollectorRegistry()
    metrics = MarkerMetrics(registry)

    async def mark(markers: DeployMarkers) -> None:
        for verdict in (Verdict.INCONCLUSIVE, Verdict.PASS, Verdict.PASS, Verdict.FAIL):
            markers.decision(decision(verdict), 'rollouts_pod_template_hash="new"')
        markers.decision(decision(Verdict.PASS), 'rollouts_pod_template_hash="other"')

    asyncio.run(marked(grafana, mark, metrics))
    assert [body["tags"] for _, body in grafana.received] == [
        ["sloguard", "shop", "availability", "latency", "pass"],
        ["sloguard", "shop", "availability", "fail"],  # the SLOs that failed it
        ["sloguard", "shop", "availability", "latency", "pass"],
    ]
    auth, first = grafana.received[0]
    assert auth == "Bearer secret-token"
    assert first["time"] == 1_800_000_000_000  # milliseconds, as Grafana reads it
    assert first["text"].startswith(
        "sloguard gate: pass for shop canary rollouts_pod_template_hash"
    )
    assert count(registry, "posted") == 3


def test_a_grafana_that_refuses_or_is_down_is_counted_and_what_waits_is_bounded(
    grafana: Grafana,
) -> None:
    registry = CollectorRegistry()
    metrics = MarkerMetrics(registry)
    grafana.status = 403

    async def fail(markers: DeployMarkers) -> None:
        markers.decision(decision(Verdict.FAIL), "c")

    asyncio.run(marked(grafana, fail, metrics))
    assert count(registry, "failed") == 1 and count(registry, "posted") == 0
    asyncio.run(marked(Grafana(url="http://127.0.0.1:9"), fail, metrics))
    assert count(registry, "failed") == 2

    async def flood(markers: DeployMarkers) -> None:
        for canary in range(5):
            markers.decision(decision(Verdict.FAIL), str(canary))

    grafana.status = 200
    asyncio.run(marked(grafana, flood, metrics, queue_size=2))
    assert count(registry, "dropped") == 3 and count(registry, "posted") == 2


class Failing(Counting):
    """Every request of every version fails."""

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        answer = await super().query_range(expr, start, end, step)
        return [(labels, [(t, 100.0) for t, _ in points]) for labels, points in answer]


def test_the_gate_marks_a_failing_canary_without_waiting_for_grafana(
    grafana: Grafana, tmp_path: Path
) -> None:
    shop = tmp_path / "shop.yaml"
    shop.write_text((FIXTURES / "native" / "shop.yaml").read_text(), encoding="utf-8")
    grafana.delay = 1.0  # slower than the answer may take
    assembly = assembled(shop, Failing(), Clock(), grafana_url=grafana.url)
    assembly.agent.reload()
    http = api(assembly)

    async def ask() -> tuple[dict[str, Any], float]:
        async with assembly.running():
            began = time.monotonic()
            answer = await http.post("/v1/analysis", json=REQUEST)
            took = time.monotonic() - began
        return answer.json(), took

    answer, took = asyncio.run(ask())
    assert answer["verdict"] == "fail" and took < 1.0
    [(_, body)] = grafana.received  # posted on the way out, after the answer
    assert body["tags"][:2] == ["sloguard", "shop"] and body["tags"][-1] == "fail"
    assert count(assembly.registry, "posted") == 1
    # The service's dashboard asks Grafana for exactly these (all of its tags must match).
    board = service_dashboard(load([shop]).services[0])
    [query] = [a["target"] for a in board["annotations"]["list"] if "target" in a]
    assert query["type"] == "tags" and not query["matchAny"]
    assert set(query["tags"]) <= set(body["tags"])


def test_an_action_done_in_earnest_is_marked_and_a_dry_run_is_not(grafana: Grafana) -> None:
    registry = CollectorRegistry()
    metrics = MarkerMetrics(registry)
    target = ObjectRef("Deployment", "shop", "web")

    def outcome(mode: str, result: Result) -> Outcome:
        return Outcome(
            "a1", 1_800_000_000.0, "shop", Action.UNDO, target, mode, result,
            "rolled back to revision 3", "availability burning 20x",
        )  # fmt: skip

    async def mark(markers: DeployMarkers) -> None:
        auditor = Auditor(ActionMetrics(registry), NoOpTracer(), markers=markers)
        for mode, result in (
            ("dry-run", Result.DONE),
            ("enforce", Result.FAILED),
            ("enforce", Result.DONE),
        ):
            await auditor.record(outcome(mode, result))

    asyncio.run(marked(grafana, mark, metrics))
    [(_, body)] = grafana.received
    assert body["tags"] == ["sloguard", "shop", "undo"]
    assert "rolled back to revision 3" in body["text"] and "id a1" in body["text"]


def test_a_grafana_answering_a_byte_at_a_time_is_given_up_on_in_time(grafana: Grafana) -> None:
    grafana.dribble = 0.2  # each byte within the read timeout; the whole answer far past it
    annotations = Annotations(grafana.url, "", 0.5, "sloguard/test")

    async def post() -> None:
        try:
            await asyncio.wait_for(annotations.post({"text": "x"}), 5)  # not the 12 s it'd take
        finally:
            await annotations.aclose()

    with pytest.raises(PublishError, match=r"did not answer within 0\.5s"):
        asyncio.run(post())
