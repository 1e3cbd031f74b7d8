"""Spans as applications send them: an SDK's exports of the shop's payments, and hand-made protobuf for the hostile cases."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

DEFINITION = """\
service: checkout
slos:
  - name: pay-availability
    objective: 99.9
    sli:
      traces: {service: checkout, span: {name: POST /pay, kind: SERVER}}
  - name: pay-latency
    objective: 99
    sli:
      traces: {service: checkout, span: {name: POST /pay, kind: SERVER}, threshold: 300ms}
"""


def emit(provider: TracerProvider) -> None:
    """14 POST /pay server spans (3 ERROR, 2 with 503, 3 slower than 300 ms), plus spans no SLI
    counts: another name, another kind."""
    tracer = provider.get_tracer("shop")
    start = time.time_ns()

    def one(
        milliseconds: int,
        error: bool = False,
        code: int = 200,
        name: str = "POST /pay",
        kind: SpanKind = SpanKind.SERVER,
    ) -> None:
        span = tracer.start_span(
            name, kind=kind, start_time=start, attributes={"http.response.status_code": code}
        )
        if error:
            span.set_status(Status(StatusCode.ERROR, "boom"))
        span.end(end_time=start + milliseconds * 1_000_000)

    for _ in range(6):
        one(50)
    for _ in range(3):
        one(500)  # slow, fine otherwise
    for _ in range(3):
        one(40, error=True)
    for _ in range(2):
        one(40, code=503)
    one(40, error=True, name="GET /cart")
    one(900, kind=SpanKind.CLIENT)


def provider_for(processor: Any, version: str = "2.4.1") -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "checkout", "service.version": version})
    )
    provider.add_span_processor(processor)
    return provider


def received_requests() -> trace_service_pb2.ExportTraceServiceRequest:
    memory = InMemorySpanExporter()
    provider = provider_for(SimpleSpanProcessor(memory))
    emit(provider)
    spans: list[ReadableSpan] = list(memory.get_finished_spans())
    return encode_spans(spans)


def length_delimited(field: int, payload: bytes) -> bytes:
    """One protobuf field of wire type 2."""
    size, prefix = len(payload), bytearray()
    while size >= 0x80:
        prefix.append(size & 0x7F | 0x80)
        size >>= 7
    prefix.append(size)
    return bytes([field << 3 | 2]) + bytes(prefix) + payload


def empty_spans(count: int) -> bytes:
    """An export of `count` empty spans: two bytes each."""
    return length_delimited(1, length_delimited(2, b"\x12\x00" * count))


def versioned(version: str) -> bytes:
    memory = InMemorySpanExporter()
    emit(provider_for(SimpleSpanProcessor(memory), version=version))
    return encode_spans(memory.get_finished_spans()).SerializeToString()
