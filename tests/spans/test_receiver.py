"""The OTLP/HTTP receiver: spans from the real OpenTelemetry SDK counted exactly (protobuf, gzip,
JSON), and every bad request answered with a clear 4xx while nothing is counted twice."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sloguard.agent import Agent
from sloguard.server import otlp
from sloguard.server.app import create_app
from sloguard.server.otlp import MAX_LABEL_BYTES, MAX_SPANS, TraceReceiver
from sloguard.spans.admission import SeriesTable
from sloguard.spec.model import ServiceSLOs
from sloguard.telemetry.metrics import AgentMetrics, TraceMetrics
from tests.support.canaries import running_agent
from tests.support.fakes import Switchable
from tests.support.spans import (
    DEFINITION,
    emit,
    empty_spans,
    length_delimited,
    provider_for,
    received_requests,
    versioned,
)

pytestmark = pytest.mark.integration  # starts real processes or servers

# (outcome of availability, of latency) for the spans `emit` sends
EXPECTED = {"pay-availability": {"good": 9, "bad": 5}, "pay-latency": {"good": 11, "bad": 3}}


def events(metrics_text: str) -> dict[tuple[str, str], float]:
    """(sli key, outcome) -> count from the agent's /metrics."""
    found = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "sloguard_trace_events_total":
                found[(sample.labels["sli"], sample.labels["outcome"])] = sample.value
    return found


def expected_counts() -> dict[tuple[str, str], float]:
    spec = ServiceSLOs.model_validate(yaml.safe_load(DEFINITION))
    keys = {slo.name: slo.sli.traces.key for slo in spec.slos}  # type: ignore[union-attr]
    return {
        (keys[slo], outcome): n for slo, counts in EXPECTED.items() for outcome, n in counts.items()
    }


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "checkout.yaml").write_text(DEFINITION)
    return tmp_path / "defs"


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_an_sdk_applications_spans_are_counted_exactly(
    definitions: Path, compression: Compression
) -> None:
    with running_agent(definitions, "http://127.0.0.1:9", "t") as (url, _):
        exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=compression)
        provider = provider_for(SimpleSpanProcessor(exporter))
        emit(provider)
        provider.force_flush()
        provider.shutdown()
        assert events(httpx.get(f"{url}/metrics").text) == expected_counts()


def serving(definitions: Path, **options: Any) -> tuple[httpx.AsyncClient, CollectorRegistry]:
    """The agent's app in-process, its receiver made with `options`."""
    registry = CollectorRegistry()
    agent = Agent([definitions], Switchable(), AgentMetrics(registry, list))
    agent.reload()
    receiver = TraceReceiver(lambda: agent.definitions, TraceMetrics(registry), **options)
    transport = httpx.ASGITransport(app=create_app(agent, registry, receiver=receiver))
    return httpx.AsyncClient(transport=transport, base_url="http://agent"), registry


@pytest.fixture
def app(definitions: Path) -> tuple[httpx.AsyncClient, CollectorRegistry]:
    return serving(definitions, series=SeriesTable(100, 3600, 600))


def post(
    client: httpx.AsyncClient, body: bytes, content_type: str, **headers: str
) -> httpx.Response:
    async def send() -> httpx.Response:
        return await client.post(
            "/v1/traces", content=body, headers={"Content-Type": content_type, **headers}
        )

    return asyncio.run(send())


def counted(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return events(generate_latest(registry).decode())


def test_json_is_counted_like_protobuf(app: Any) -> None:
    client, registry = app
    body = json_format.MessageToJson(received_requests()).encode()
    answer = post(client, body, "application/json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert (
        json_format.Parse(answer.content, trace_service_pb2.ExportTraceServiceResponse())
        == trace_service_pb2.ExportTraceServiceResponse()
    )
    assert counted(registry) == expected_counts()


def test_an_answer_in_protobuf_is_an_export_response(app: Any) -> None:
    client, registry = app
    answer = post(client, received_requests().SerializeToString(), "application/x-protobuf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer.content)
    assert not response.HasField("partial_success")
    assert registry.get_sample_value("sloguard_trace_spans_received_total") == 16


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "says"),
    [
        (
            lambda b: b[: len(b) // 2],
            "application/x-protobuf",
            {},
            400,
            "not an ExportTraceServiceRequest (protobuf)",
        ),
        (
            lambda b: b"{not json",
            "application/json",
            {},
            400,
            "not an ExportTraceServiceRequest (JSON)",
        ),
        (lambda b: b, "text/plain", {}, 415, "unsupported content type 'text/plain'"),
        (
            lambda b: b"\x1f\x8b garbage",
            "application/x-protobuf",
            {"Content-Encoding": "gzip"},
            400,
            "not valid gzip",
        ),
        (
            lambda b: gzip.compress(b)[:-12],
            "application/x-protobuf",
            {"Content-Encoding": "gzip"},
            400,
            "not valid gzip",
        ),
        (
            lambda b: b,
            "application/x-protobuf",
            {"Content-Encoding": "br"},
            400,
            "unsupported content encoding 'br'",
        ),
        (
            lambda b: gzip.compress(b"\0" * (33 * 1024 * 1024)),
            "application/x-protobuf",
            {"Content-Encoding": "gzip"},
            413,
            "once decompressed",
        ),
    ],
)
def test_a_bad_request_is_a_clear_4xx_and_counts_nothing(
    app: Any, body: Any, content_type: str, headers: dict[str, str], status: int, says: str
) -> None:
    client, registry = app
    good = received_requests().SerializeToString()
    answer = post(client, body(good), content_type, **headers)
    assert answer.status_code == status
    if answer.headers["content-type"] == "application/x-protobuf":
        error = json_format.MessageToDict(status_pb2.Status.FromString(answer.content))
    else:
        error = answer.json()
    assert says in error["message"] and error["code"] == 3  # INVALID_ARGUMENT: do not retry
    assert counted(registry) == {}
    assert registry.get_sample_value("sloguard_otlp_requests_total", {"code": str(status)}) == 1
    assert post(client, good, "application/x-protobuf").status_code == 200  # still up
    assert counted(registry) == expected_counts()  # counted once


def test_a_body_over_the_cap_is_refused_before_it_is_read(app: Any) -> None:
    client, registry = app
    answer = post(client, b"\0" * (8 * 1024 * 1024 + 1), "application/x-protobuf")
    assert answer.status_code == 413
    assert counted(registry) == {}


def test_unknown_fields_are_ignored(app: Any) -> None:
    client, registry = app
    document = json_format.MessageToDict(received_requests())
    document["somethingNew"] = {"from": "a later OTLP"}
    document["resourceSpans"][0]["futureField"] = 1
    answer = post(client, json.dumps(document).encode(), "application/json")
    assert answer.status_code == 200
    assert counted(registry) == expected_counts()


def test_too_many_exports_at_once_are_told_to_retry(definitions: Path) -> None:
    client, registry = serving(definitions, max_in_flight=0)
    answer = post(client, received_requests().SerializeToString(), "application/x-protobuf")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert status_pb2.Status.FromString(answer.content).code == 14  # UNAVAILABLE: retry
    assert counted(registry) == {}


def test_past_the_series_cap_spans_are_dropped_counted_and_reported(definitions: Path) -> None:
    client, registry = serving(definitions, series=SeriesTable(2, 3600, 600))
    assert (
        post(client, received_requests().SerializeToString(), "application/x-protobuf").status_code
        == 200
    )
    memory = InMemorySpanExporter()
    provider = provider_for(
        SimpleSpanProcessor(memory), version="2.5.0"
    )  # new series: over the cap
    emit(provider)
    answer = post(
        client,
        encode_spans(memory.get_finished_spans()).SerializeToString(),
        "application/x-protobuf",
    )
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_spans == 14 * 2
    assert "cap of 2 series per trace SLI" in response.partial_success.error_message
    assert (
        registry.get_sample_value("sloguard_trace_spans_dropped_total", {"reason": "cardinality"})
        == 28
    )


def test_otlp_json_as_the_specification_writes_it(app: Any) -> None:
    """Hex trace and span ids, enums as integers, 64-bit integers as strings (OTLP/JSON)."""
    client, registry = app
    span = {
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B173",
        "name": "POST /pay",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712660400000000",
        "attributes": [{"key": "http.response.status_code", "value": {"intValue": "503"}}],
        "status": {"code": 0},
    }
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]
                },
                "scopeSpans": [{"scope": {"name": "shop"}, "spans": [span]}],
            }
        ]
    }
    answer = post(client, json.dumps(body).encode(), "application/json")
    assert answer.status_code == 200, answer.text
    keys = {slo: outcome for (slo, outcome), n in counted(registry).items() if n == 1}
    assert sorted(keys.values()) == ["bad", "bad"]  # a 503 (availability), 400 ms (latency)


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "says"),
    [
        (lambda: empty_spans(4_000_000), "application/x-protobuf", "", "fields"),
        (lambda: gzip.compress(empty_spans(8_000_000)), "application/x-protobuf", "gzip", ""),
        (lambda: empty_spans(MAX_SPANS + 1), "application/x-protobuf", "", "over the cap"),
        (
            lambda: gzip.compress(
                b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + b"{}," * 2_000_000 + b"{}]}]}]}"
            ),
            "application/json",
            "gzip",
            "JSON values",
        ),
        (  # one span, 15M empty attributes: 28 KiB of gzip
            lambda: gzip.compress(
                length_delimited(1, length_delimited(2, length_delimited(2, b"J\0" * 15_000_000)))
            ),
            "application/x-protobuf",
            "gzip",
            "fields",
        ),
        (  # 10M empty lists in a field nobody reads
            lambda: gzip.compress(b'{"resourceSpans":[],"x":[' + b"[]," * 10_000_000 + b"[]]}"),
            "application/json",
            "gzip",
            "JSON values",
        ),
        (
            lambda: json.dumps(
                {"resourceSpans": [{"scopeSpans": [{"spans": [{}] * (MAX_SPANS + 1)}]}]}
            ).encode(),
            "application/json",
            "",
            "over the cap",
        ),
    ],
)
def test_an_export_of_millions_of_spans_is_refused_before_it_is_decoded(
    app: Any, body: Any, content_type: str, encoding: str, says: str
) -> None:
    client, registry = app
    headers = {"Content-Encoding": encoding} if encoding else {}
    answer = post(client, body(), content_type, **headers)
    assert answer.status_code == 413
    if content_type == "application/x-protobuf":
        status = status_pb2.Status.FromString(answer.content)
    else:
        status = json_format.Parse(answer.content, status_pb2.Status())
    assert status.code == 3 and says in status.message
    assert registry.get_sample_value("sloguard_trace_spans_received_total") == 0


def test_exports_are_decoded_off_the_event_loop(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = app
    threads: list[str] = []
    receive = TraceReceiver.receive

    def recorded(self: TraceReceiver, *args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return receive(self, *args)

    monkeypatch.setattr(TraceReceiver, "receive", recorded)
    post(client, received_requests().SerializeToString(), "application/x-protobuf")
    assert threads and threads[0] != threading.main_thread().name


def test_a_huge_version_is_cut_to_a_label_prometheus_takes(app: Any) -> None:
    client, registry = app
    long_ones = ["v" * (20 * 2**20), "v" * (20 * 2**20 - 1) + "w"]
    for version in long_ones:
        body = gzip.compress(versioned(version))
        answer = post(client, body, "application/x-protobuf", **{"Content-Encoding": "gzip"})
        assert answer.status_code == 200
    text = generate_latest(registry).decode()
    versions = {
        sample.labels["version"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "sloguard_trace_events_total"
    }
    assert len(versions) == 2  # distinct values stay distinct
    assert all(len(v.encode()) <= MAX_LABEL_BYTES for v in versions)
    assert len(text) < 100_000
    assert registry.get_sample_value("sloguard_trace_label_values_truncated_total") == 2


def test_junk_versions_cannot_keep_a_version_the_gate_asks_about_out(definitions: Path) -> None:
    now = [0.0]
    wanted: set[str] = set()
    client, registry = serving(
        definitions,
        series=SeriesTable(per_sli=4, idle_seconds=3600, reuse_seconds=600),
        wanted=lambda: frozenset(wanted),
        clock=lambda: now[0],
    )
    for junk in ("junk-1", "junk-2"):  # 2 versions x 2 outcomes fill each SLI
        post(client, versioned(junk), "application/x-protobuf")
    refused = post(client, versioned("3.0.0"), "application/x-protobuf")
    rejected = trace_service_pb2.ExportTraceServiceResponse.FromString(refused.content)
    assert rejected.partial_success.rejected_spans == 28
    wanted.add("3.0.0")  # a gate request asked about it
    asked = post(client, versioned("3.0.0"), "application/x-protobuf")
    accepted = trace_service_pb2.ExportTraceServiceResponse.FromString(asked.content)
    assert not accepted.HasField("partial_success")
    now[0] += 600  # and a series quiet for ten minutes gives its room to anyone
    post(client, versioned("3.0.1"), "application/x-protobuf")
    labels = [
        sample.labels["version"]
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == "sloguard_trace_events_total"
    ]
    assert {"3.0.0", "3.0.1"} <= set(labels)
    assert registry.get_sample_value("sloguard_trace_series_forgotten_total") > 0


def test_large_exports_are_read_one_at_a_time(
    definitions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = CollectorRegistry()
    agent = Agent([definitions], Switchable(), AgentMetrics(registry, list))
    agent.reload()
    receiver = TraceReceiver(lambda: agent.definitions, TraceMetrics(registry))
    huge = empty_spans(4_000_000)  # walked for a second or more before its 413
    first: list[int] = []
    reader = threading.Thread(
        target=lambda: first.append(receiver.receive(huge, "application/x-protobuf", "").status)
    )
    reading = threading.Event()
    parse = otlp._parsed

    def parsed(raw: bytes, media: str) -> Any:
        reading.set()
        return parse(raw, media)

    monkeypatch.setattr(otlp, "_parsed", parsed)
    reader.start()
    assert reading.wait(10), "the first large export was never read"
    second = receiver.receive(huge, "application/x-protobuf", "")
    small = receiver.receive(received_requests().SerializeToString(), "application/x-protobuf", "")
    still_reading = reader.is_alive()
    reader.join()
    assert first == [413]
    assert second.status == 503 and second.retry_after == 1
    assert "another large export is being read" in status_pb2.Status.FromString(second.body).message
    assert small.status == 200 and still_reading  # a small export does not wait for it
