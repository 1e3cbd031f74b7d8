"""The agent's traces, sent over OTLP/HTTP to a real receiver and decoded with
opentelemetry-proto (not read back from an in-memory exporter)."""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sloguard.assembly import Assembly, Settings, assemble
from sloguard.gate.request import AnalysisRequest
from sloguard.sources.prometheus import PrometheusSettings
from sloguard.telemetry import tracing
from tests.support.fakes import Switchable
from tests.support.gate import Counting
from tests.support.repo import FIXTURES

pytestmark = pytest.mark.integration  # starts real processes or servers


def assembled(source: Any, telemetry: dict[str, str]) -> Assembly:
    """The agent as `sloguard run` builds it, over `source`, tracing as `telemetry` says."""
    settings = Settings(
        paths=(FIXTURES / "native",),
        prometheus=PrometheusSettings(url="http://127.0.0.1:9"),
        telemetry=telemetry,
    )
    return assemble(settings, source=source)


class Receiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1 keeping every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.resources: list[Any] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                receiver.paths.append(self.path)
                for resource_spans in request.resource_spans:
                    receiver.resources.append(resource_spans.resource)
                    for scope in resource_spans.scope_spans:
                        receiver.spans.extend(scope.spans)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever)
    thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()
        thread.join()


def attributes(span: Any) -> dict[str, Any]:
    values = {}
    for item in span.attributes:
        value = item.value
        values[item.key] = getattr(value, value.WhichOneof("value"))
    return values


def test_a_cycle_is_a_trace_of_slos_and_queries(receiver: Receiver, tmp_path: Path) -> None:
    source = Switchable()
    telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "sloguard-test"}
    assembly = assembled(source, telemetry)
    asyncio.run(assembly.agent.cycle())
    source.down = True
    asyncio.run(assembly.agent.cycle())
    asyncio.run(assembly.aclose())

    assert set(receiver.paths) == {"/v1/traces"}
    service = {a.key: a.value.string_value for a in receiver.resources[0].attributes}
    assert service["service.name"] == "sloguard-test"
    by_name: dict[str, list[Any]] = {}
    for span in receiver.spans:
        by_name.setdefault(span.name, []).append(span)
    cycles = by_name["sloguard evaluation"]
    assert len(cycles) == 2
    slos = by_name["slo shop/availability"]
    queries = by_name["prometheus query"]
    assert {s.parent_span_id for s in slos} == {c.span_id for c in cycles}
    assert all(q.parent_span_id in {c.span_id for c in cycles} for q in queries)
    healthy = next(s for s in slos if attributes(s)["sloguard.status"] == "ok")
    assert attributes(healthy)["sloguard.path"] == "rules"
    assert attributes(healthy)["sloguard.error_budget_remaining"] == 0.75
    first = [q for q in queries if q.trace_id == cycles[0].trace_id]
    assert len(first) == 4 and all(attributes(q)["db.system"] == "prometheus" for q in first)
    assert {attributes(q)["sloguard.result_size"] for q in first} >= {1}
    assert all(attributes(q)["sloguard.duration_seconds"] >= 0 for q in first)
    failed = [q for q in queries if q.trace_id == cycles[1].trace_id]
    assert failed and all(q.status.code == q.status.STATUS_CODE_ERROR for q in failed)
    assert attributes(failed[0])["error.type"] == "connection"
    assert "cannot reach Prometheus" in failed[0].status.message


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_tracing_is_off_unless_an_endpoint_is_set(env: dict[str, str]) -> None:
    traces = tracing.from_environment(env)
    assert traces.provider is None
    traces.shutdown()


def test_a_gate_decision_is_a_span_with_its_queries_and_verdicts(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assembly = assembled(Counting(), {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})
    assembly.agent.reload()
    request = AnalysisRequest(service="shop", canary={"version": "2"}, baseline={"version": "1"})
    with caplog.at_level(logging.INFO, logger="sloguard.gate"):
        asyncio.run(assembly.gatekeeper.analyse(request))
    asyncio.run(assembly.aclose())

    [decision] = [s for s in receiver.spans if s.name == "gate shop"]
    assert attributes(decision)["sloguard.verdict"] == "inconclusive"
    assert attributes(decision)["sloguard.canary"] == '{version="2"}'
    assert [e.name for e in decision.events] == ["slo availability"]
    # One range query for every SLO and version of the request.
    [reads] = [s for s in receiver.spans if s.name == "prometheus query_range"]
    assert reads.parent_span_id == decision.span_id
    # The budget is read with the same instrumented source as the agent's evaluation.
    budget = [s for s in receiver.spans if s.name == "prometheus query"]
    assert budget and all(s.trace_id == decision.trace_id for s in budget)
    assert {'version="1"', 'version="2"'} <= set(
        re.findall(r'version="\d"', attributes(reads)["db.statement"])
    )
    [line] = [r for r in caplog.records if r.getMessage() == "gate decision"]
    checks = {c["name"]: c for c in line.slos[0]["checks"]}  # type: ignore[attr-defined]
    assert checks["burn_rate"]["values"]["max_burn_rate"] == 14.4
    assert checks["evidence"]["values"]["min_events"] == 2995
