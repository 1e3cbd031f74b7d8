"""How much an OTLP export holds, read from its protobuf bytes without decoding them.

Decoding is what a hostile export costs: 8 MB of empty spans is 4 million of them (1.2 s and
700 MB to parse), and 28 KiB of gzip can carry one span with 15 million empty attributes
(a gigabyte). The walk follows OTLP's messages (request, resources, scopes, spans, their
attributes, events and links, and values nested in values), counts every field it meets at any
depth and the spans among them, skips every value by its length, and gives up after `budget`
fields or `MAX_DEPTH` levels, so its cost is bounded by the budget whatever the bytes hold.
"""

from __future__ import annotations

MAX_DEPTH = 64

# For each OTLP message, its fields that hold messages: field number -> message.
_MESSAGES: dict[str, dict[int, str]] = {
    "ExportTraceServiceRequest": {1: "ResourceSpans"},
    "ResourceSpans": {1: "Resource", 2: "ScopeSpans"},
    "Resource": {1: "KeyValue"},
    "ScopeSpans": {1: "InstrumentationScope", 2: "Span"},
    "InstrumentationScope": {3: "KeyValue"},
    "Span": {9: "KeyValue", 11: "Event", 13: "Link", 15: "Status"},
    "Event": {3: "KeyValue"},
    "Link": {4: "KeyValue"},
    "Status": {},
    "KeyValue": {2: "AnyValue"},
    "AnyValue": {5: "ArrayValue", 6: "KeyValueList"},
    "ArrayValue": {1: "AnyValue"},
    "KeyValueList": {1: "KeyValue"},
}
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class TooMany(Exception):
    """Past the budget of fields: more than an export may hold."""


def count_spans(data: bytes, budget: int) -> int:
    """Spans in a serialized `ExportTraceServiceRequest`; TooMany once `budget` fields have
    been read at any depth, WireError for bytes that are not protobuf (or nest too deep)."""
    view = memoryview(data)
    spans = 0
    # Depth first, one frame per message being read: [message, next field's offset, end].
    frames: list[list[object]] = [["ExportTraceServiceRequest", 0, len(view)]]
    while frames:
        frame = frames[-1]
        message, at, end = frame[0], frame[1], frame[2]
        assert isinstance(message, str) and isinstance(at, int) and isinstance(end, int)
        if at >= end:
            frames.pop()
            continue
        budget -= 1
        if budget < 0:
            raise TooMany
        key, at = _varint(view, at, end)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, at = _varint(view, at, end)
        elif wire == _LENGTH_DELIMITED:
            length, at = _varint(view, at, end)
            if at + length > end:
                raise WireError("a length runs past the end of its message")
            inner = _MESSAGES[message].get(number)
            if inner is not None:
                if len(frames) >= MAX_DEPTH:
                    raise WireError(f"messages nested deeper than {MAX_DEPTH} levels")
                frames.append([inner, at, at + length])
                spans += inner == "Span"
            at += length
        elif wire in (_FIXED64, _FIXED32):
            at += 8 if wire == _FIXED64 else 4
            if at > end:
                raise WireError("a fixed-width value runs past the end of its message")
        else:
            raise WireError(f"wire type {wire} (groups) is not used by OTLP")
        frame[1] = at
    return spans


def _varint(data: memoryview, at: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while at < end and shift < 64:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
    raise WireError("a truncated or overlong varint")
