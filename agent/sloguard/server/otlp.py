"""The OTLP/HTTP trace receiver (`POST /v1/traces`): decodes an `ExportTraceServiceRequest`
(protobuf or JSON, gzip or not), counts the spans the definitions' trace SLIs match, and never
stores a span.

Per the OTLP specification: 200 with an `ExportTraceServiceResponse` (partial success when spans
were dropped), 400 with a `google.rpc.Status` for a body that does not decode, 413 past the size
caps, 415 for other content types, 503 with `Retry-After` (and code UNAVAILABLE) while too many
exports are in flight.
A request is counted whole or not at all."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sloguard.spans.counting import Series, Span, SpanCounter
from sloguard.spec.model import ServiceSLOs
from sloguard.telemetry.metrics import TraceMetrics

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY_BYTES = 8 * 1024 * 1024  # as sent (compressed or not)
MAX_DECODED_BYTES = 32 * 1024 * 1024  # after gunzip: a small bomb stays small
# google.rpc.Code of the error bodies: the request's fault, or the receiver's (retry later).
INVALID_ARGUMENT, UNAVAILABLE = 3, 14


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    media_type: str
    retry_after: int | None = None


class TraceReceiver:
    """Counts spans into `TraceMetrics` for the trace SLIs of the current definitions."""

    def __init__(
        self,
        services: Callable[[], Sequence[ServiceSLOs]],
        metrics: TraceMetrics,
        max_series: int = 2000,
        max_in_flight: int = 16,
    ) -> None:
        self._services = services
        self._metrics = metrics
        self._max_series = max_series
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._series: set[Series] = set()
        self._counter: tuple[tuple[int, ...], SpanCounter] | None = None

    def admit(self) -> bool:
        """Take a slot for one export; False (answer 503) while too many are in flight."""
        if self._in_flight >= self._max_in_flight:
            return False
        self._in_flight += 1
        return True

    def release(self) -> None:
        self._in_flight -= 1

    def overloaded(self, content_type: str) -> Reply:
        media = _media(content_type) or PROTOBUF
        busy = _status("too many exports in flight; retry", media, UNAVAILABLE)
        return self._reply(503, busy, media, 1)

    def receive(self, body: bytes, content_type: str, encoding: str) -> Reply:
        media = _media(content_type)
        if media is None:
            message = f"unsupported content type {content_type!r}: use {PROTOBUF} or {JSON}"
            return self._reply(415, _status(message, JSON), JSON)
        if len(body) > MAX_BODY_BYTES:
            return self._reply(413, _status(f"body over {MAX_BODY_BYTES} bytes", media), media)
        try:
            raw = _decoded(body, encoding)
        except _TooLarge:
            message = f"body over {MAX_DECODED_BYTES} bytes once decompressed"
            return self._reply(413, _status(message, media), media)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            return self._reply(400, _status(f"body is not valid {encoding}: {exc}", media), media)
        request = trace_service_pb2.ExportTraceServiceRequest()
        try:
            if media == PROTOBUF:
                request.ParseFromString(raw)
            else:
                json_format.Parse(raw, request, ignore_unknown_fields=True)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            what = "protobuf" if media == PROTOBUF else "JSON"
            message = f"not an ExportTraceServiceRequest ({what}): {exc}"
            return self._reply(400, _status(message, media), media)
        dropped = self._count(request)
        response = trace_service_pb2.ExportTraceServiceResponse()
        if dropped:
            response.partial_success.rejected_spans = dropped
            response.partial_success.error_message = (
                f"{dropped} span(s) not counted: the cap of {self._max_series} series is reached"
            )
        return self._reply(200, _encode(response, media), media)

    def _count(self, request: trace_service_pb2.ExportTraceServiceRequest) -> int:
        counter = self._current()
        received = 0
        counted: dict[Series, int] = {}
        for resource_spans in request.resource_spans:
            resource = {
                kv.key: _text(kv.value)
                for kv in resource_spans.resource.attributes
                if kv.key in counter.resource_attributes
            }
            spans = [
                Span(
                    span.name,
                    span.kind,
                    span.status.code == 2,
                    (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9,
                    {
                        kv.key: _text(kv.value)
                        for kv in span.attributes
                        if kv.key in counter.span_attributes
                    },
                )
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]
            received += len(spans)
            for series, n in counter.count(resource, spans).items():
                counted[series] = counted.get(series, 0) + n
        self._metrics.received.inc(received)
        dropped = 0
        for series, n in counted.items():
            if series not in self._series:
                if len(self._series) >= self._max_series:
                    dropped += n
                    continue
                self._series.add(series)
            self._metrics.events.labels(*series).inc(n)
        if dropped:
            self._metrics.dropped.labels("cardinality").inc(dropped)
        return dropped

    def _current(self) -> SpanCounter:
        """The counter for the definitions in use, rebuilt when they are reloaded."""
        services = self._services()
        identity = tuple(id(s) for s in services)
        if self._counter is None or self._counter[0] != identity:
            self._counter = (identity, SpanCounter.of(services))
        return self._counter[1]

    def _reply(self, status: int, body: bytes, media: str, retry: int | None = None) -> Reply:
        self._metrics.requests.labels(str(status)).inc()
        return Reply(status, body, media, retry)


class _TooLarge(Exception):
    pass


def _media(content_type: str) -> str | None:
    base = content_type.split(";")[0].strip().lower()
    return base if base in (PROTOBUF, JSON) else None


def _decoded(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ValueError(f"unsupported content encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    raw = inflater.decompress(body, MAX_DECODED_BYTES + 1)
    if len(raw) > MAX_DECODED_BYTES:
        raise _TooLarge
    if not inflater.eof:
        raise gzip.BadGzipFile("truncated gzip stream")
    return raw


def _text(value: AnyValue) -> str:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return str(value.int_value)
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "double_value":
        return repr(value.double_value)
    return ""


def _encode(message: Message, media: str) -> bytes:
    if media == JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    return bytes(message.SerializeToString())


def _status(message: str, media: str, code: int = INVALID_ARGUMENT) -> bytes:
    return _encode(status_pb2.Status(code=code, message=message), media)
