"""The OTLP/HTTP trace receiver (`POST /v1/traces`): decodes an `ExportTraceServiceRequest`
(protobuf or JSON, gzip or not), counts the spans the definitions' trace SLIs match, and never
stores a span.

Per the OTLP specification: 200 with an `ExportTraceServiceResponse` (partial success when spans
were dropped), 400 with a `google.rpc.Status` for a body that does not decode, 413 past the size
caps, 415 for other content types, 503 with `Retry-After` (and code UNAVAILABLE) while too many
exports are in flight.
A request is counted whole or not at all.

Nobody needs a token to export spans, so what an export may cost is bounded before it is
decoded: bytes as sent and decompressed, spans per export (counted from the protobuf bytes
without decoding them, `spans.wire`; JSON objects for JSON), label values' length, and the
series kept (`spans.admission`). `receive` runs on a worker thread, never the event loop.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
import zlib
from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sloguard.spans.admission import SeriesTable
from sloguard.spans.counting import Series, Span, SpanCounter
from sloguard.spans.wire import TooMany, WireError, count_spans
from sloguard.spec.model import Definitions
from sloguard.telemetry.metrics import TraceMetrics

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY_BYTES = 8 * 1024 * 1024  # as sent (compressed or not)
MAX_DECODED_BYTES = 32 * 1024 * 1024  # after gunzip: a small bomb stays small
MAX_SPANS = 65_536  # per export: SDKs send 512 at most by default, the Collector 8,192
# Fields of every message at any depth (a span with 25 attributes is about 100): what decoding
# builds objects for, some 65 bytes each. A protobuf export holds at most one per 2 bytes, so
# only one over 2 MB is walked (`spans.wire`) before it is decoded; JSON counts `{`, `[`, `,`.
MAX_FIELDS = 1_000_000
LARGE_BYTES = 2 * MAX_FIELDS  # decoded exports past this are walked first, one at a time
MAX_LABEL_BYTES = 256  # a version label longer than this is cut, with a digest of the rest
# google.rpc.Code of the error bodies: the request's fault, or the receiver's (retry later).
INVALID_ARGUMENT, UNAVAILABLE = 3, 14


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    media_type: str
    retry_after: int | None = None


class TraceReceiver:
    """Counts spans into `TraceMetrics` for the trace SLIs of the current definitions.

    `wanted` names the versions the gate was asked about lately: they get room in a full SLI.
    """

    def __init__(
        self,
        definitions: Callable[[], Definitions],
        metrics: TraceMetrics,
        series: SeriesTable | None = None,
        max_in_flight: int = 16,
        wanted: Callable[[], Set[str]] = frozenset,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._definitions = definitions
        self._metrics = metrics
        if series is None:
            series = SeriesTable(per_sli=256, idle_seconds=3600, reuse_seconds=600)
        self._series = series
        self._max_in_flight = max_in_flight
        self._wanted = wanted
        self._clock = clock
        self._in_flight = 0
        self._lock = threading.Lock()  # exports are counted on worker threads
        # One large export read at a time: walking or decoding a million fields takes a core
        # for a second or more, and 15 KB of gzip can ask for it.
        self._large = threading.Semaphore(1)
        self._counter: tuple[int, SpanCounter] | None = None

    def admit(self) -> bool:
        """Take a slot for one export; False (answer 503) while too many are in flight."""
        if self._in_flight >= self._max_in_flight:
            return False
        self._in_flight += 1
        return True

    def release(self) -> None:
        self._in_flight -= 1

    def overloaded(self, content_type: str, what: str = "too many exports in flight") -> Reply:
        media = _media(content_type) or PROTOBUF
        busy = _status(f"{what}; retry", media, UNAVAILABLE)
        return self._reply(503, busy, media, 1)

    def receive(self, body: bytes, content_type: str, encoding: str) -> Reply:
        """The answer to one export (CPU-bound: call it off the event loop)."""
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
        large = len(raw) > LARGE_BYTES
        if large and not self._large.acquire(blocking=False):
            return self.overloaded(content_type, "another large export is being read")
        try:
            request = _parsed(raw, media)
        except _TooLarge as exc:
            return self._reply(413, _status(str(exc), media), media)
        except (
            DecodeError,
            json_format.ParseError,
            UnicodeDecodeError,
            ValueError,
            RecursionError,
        ) as exc:
            what = "protobuf" if media == PROTOBUF else "JSON"
            message = f"not an ExportTraceServiceRequest ({what}): {exc}"
            return self._reply(400, _status(message, media), media)
        finally:
            if large:
                self._large.release()
        dropped = self._count(request)
        response = trace_service_pb2.ExportTraceServiceResponse()
        if dropped:
            response.partial_success.rejected_spans = dropped
            response.partial_success.error_message = (
                f"{dropped} span(s) not counted: the cap of {self._series.per_sli} series per "
                "trace SLI is reached"
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
            for key in counter.version_attributes & resource.keys():
                value = resource[key]  # more characters than bytes allowed: no need to encode
                if len(value) > MAX_LABEL_BYTES or len(value.encode()) > MAX_LABEL_BYTES:
                    resource[key] = _shortened(resource[key])
                    self._metrics.truncated.inc()
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
        return self._record(counted)

    def _record(self, counted: dict[Series, int]) -> int:
        """Count what the series table admits; the spans it did not."""
        dropped = 0
        wanted = self._wanted()
        with self._lock:
            now = self._clock()
            forgotten = self._series.expire(now)
            for series, n in counted.items():
                admitted, evicted = self._series.admit(series, now, wanted)
                forgotten += evicted
                if not admitted:
                    dropped += n
                    continue
                self._metrics.events.labels(*series).inc(n)
            for series in forgotten:
                self._metrics.events.remove(*series)
            if forgotten:
                self._metrics.forgotten.inc(len(forgotten))
        if dropped:
            self._metrics.dropped.labels("cardinality").inc(dropped)
        return dropped

    def _current(self) -> SpanCounter:
        """The counter for the definitions in use, rebuilt when they are reloaded."""
        definitions = self._definitions()
        with self._lock:
            if self._counter is None or self._counter[0] != definitions.version:
                self._counter = (definitions.version, SpanCounter.of(definitions.services))
            return self._counter[1]

    def _reply(self, status: int, body: bytes, media: str, retry: int | None = None) -> Reply:
        self._metrics.requests.labels(str(status)).inc()
        return Reply(status, body, media, retry)


class _TooLarge(Exception):
    pass


def _parsed(raw: bytes, media: str) -> trace_service_pb2.ExportTraceServiceRequest:
    """The export, once its size in spans is known to be within bounds (_TooLarge if not)."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    if media == PROTOBUF:
        if len(raw) > LARGE_BYTES:
            try:
                _check_spans(count_spans(raw, MAX_FIELDS))
            except TooMany:
                raise _TooLarge(f"more than {MAX_FIELDS} fields in one export") from None
            except WireError as exc:
                raise DecodeError(str(exc)) from None
        request.ParseFromString(raw)
        _check_spans(sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans))
        return request
    if sum(map(raw.count, (b"{", b"[", b","))) > MAX_FIELDS:
        raise _TooLarge(f"more than {MAX_FIELDS} JSON values in one export")
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise json_format.ParseError("the body is not a JSON object")
    _check_spans(_json_spans(document))
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        # json_format says ParseError, but some shapes slip past its checks (fuzzed).
        raise json_format.ParseError(f"{type(exc).__name__}: {exc}") from None
    return request


def _check_spans(spans: int) -> None:
    if spans > MAX_SPANS:
        raise _TooLarge(f"{spans} spans in one export, over the cap of {MAX_SPANS}")


def _json_spans(document: Any) -> int:
    """Spans in an OTLP/JSON export as decoded (ParseDict checks its shape after)."""
    spans = 0
    for resource in _items(document, "resourceSpans", "resource_spans"):
        for scope in _items(resource, "scopeSpans", "scope_spans"):
            spans += len(_items(scope, "spans"))
    return spans


def _items(node: Any, *keys: str) -> list[Any]:
    """The list under any of `keys` (OTLP/JSON's lowerCamelCase, or the proto's own names)."""
    found: list[Any] = []
    for key in keys:
        items = node.get(key) if isinstance(node, dict) else None
        found += items if isinstance(items, list) else []
    return found


def _shortened(value: str) -> str:
    """A label value cut to MAX_LABEL_BYTES, ending in a digest of the whole so that distinct
    long values stay distinct."""
    digest = "~" + hashlib.sha256(value.encode()).hexdigest()[:16]
    room = MAX_LABEL_BYTES - len(digest)
    head = value[:room].encode()[:room].decode("utf-8", "ignore")
    return head + digest


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
