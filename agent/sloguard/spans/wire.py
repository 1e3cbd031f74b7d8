"""How many spans an OTLP export holds, read from its protobuf bytes without decoding them.

Decoding is what a hostile export costs: 8 MB of empty spans is 4 million of them, 1.2 s and
700 MB to parse. The count walks only the three levels that hold spans
(`ExportTraceServiceRequest.resource_spans` -> `ResourceSpans.scope_spans` ->
`ScopeSpans.spans`), skipping every field by its length, and gives up after `budget` fields
at any level, so its cost is bounded by the budget whatever the bytes hold.
"""

from __future__ import annotations

from collections.abc import Iterator

# Field numbers of the repeated messages on the way to the spans, and their wire type.
_RESOURCE_SPANS = _SCOPE_SPANS = _SPANS = 2
_TOP = 1
_LENGTH_DELIMITED = 2


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class TooMany(Exception):
    """Past the budget of fields: more spans (or padding) than an export may carry."""


def count_spans(data: bytes, budget: int) -> int:
    """Spans in a serialized `ExportTraceServiceRequest`; TooMany once `budget` fields have
    been read at any level, WireError for bytes that are not protobuf."""
    remaining = [budget]
    spans = 0
    view = memoryview(data)
    for resource in _messages(view, 0, len(view), _TOP, remaining):
        for scope in _messages(view, *resource, _SCOPE_SPANS, remaining):
            spans += sum(1 for _ in _messages(view, *scope, _SPANS, remaining))
    return spans


def _messages(
    data: memoryview, start: int, end: int, field: int, remaining: list[int]
) -> Iterator[tuple[int, int]]:
    """(start, end) of each length-delimited value of `field` in data[start:end]."""
    at = start
    while at < end:
        remaining[0] -= 1
        if remaining[0] < 0:
            raise TooMany
        key, at = _varint(data, at, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at, end)
            continue
        if wire == _LENGTH_DELIMITED:
            length, at = _varint(data, at, end)
            if at + length > end:
                raise WireError("a length runs past the end of its message")
            if number == field:
                yield at, at + length
            at += length
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
            if at > end:
                raise WireError("a fixed-width value runs past the end of its message")
        else:
            raise WireError(f"wire type {wire} (groups) is not used by OTLP")


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
