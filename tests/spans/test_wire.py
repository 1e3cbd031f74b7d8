"""Counting an export's spans from its protobuf bytes, against the protobuf library's own
decoding, within a budget whatever the bytes hold."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from sloguard.spans.wire import TooMany, WireError, count_spans


def export(shape: list[list[int]]) -> trace_service_pb2.ExportTraceServiceRequest:
    """Resources holding scopes holding that many spans, with the fields around them set."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    for scopes in shape:
        resource = request.resource_spans.add(schema_url="https://opentelemetry.io/schemas/1")
        resource.resource.attributes.add(key="service.name").value.string_value = "shop"
        resource.resource.dropped_attributes_count = 300
        for spans in scopes:
            scope = resource.scope_spans.add()
            scope.scope.name = "lib"
            for n in range(spans):
                span = scope.spans.add(name=f"GET /{n}", start_time_unix_nano=2**62, kind=2)
                span.attributes.add(key="ratio").value.double_value = 0.5
                span.status.code = 2
    return request


@pytest.mark.parametrize("shape", [[], [[]], [[3]], [[1, 0, 2], [], [5]], [[300]]])
def test_the_count_is_the_decoded_exports(shape: list[list[int]]) -> None:
    data = export(shape).SerializeToString()
    assert count_spans(data, 10_000) == sum(map(sum, shape))


def test_past_the_budget_counting_stops() -> None:
    data = export([[300]]).SerializeToString()
    with pytest.raises(TooMany):
        count_spans(data, 100)


def test_every_field_at_any_depth_counts_against_the_budget() -> None:
    request = export([[1]])
    span = request.resource_spans[0].scope_spans[0].spans[0]
    value = span.attributes.add(key="deep").value
    for _ in range(25):  # values nested in values (two messages a level)
        value = value.array_value.values.add()
    for n in range(500):
        span.events.add(name=f"e{n}").attributes.add(key="k").value.int_value = n
    data = request.SerializeToString()
    assert count_spans(data, 10_000) == 1
    with pytest.raises(TooMany):
        count_spans(data, 2_000)  # 500 events of 4 fields each


def test_values_nested_past_the_depth_limit_are_refused() -> None:
    request = export([[1]])
    value = request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="x").value
    for _ in range(80):
        value = value.array_value.values.add()
    with pytest.raises(WireError, match="deeper"):
        count_spans(request.SerializeToString(), 10_000)


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x05ab",  # a length past the end
        b"\x0a",  # a key with no value
        b"\x08" + b"\xff" * 11,  # a varint that never ends
        b"\x0b",  # a group
        b"\x09\x00\x00",  # a fixed64 cut short
    ],
)
def test_bytes_that_are_not_protobuf_are_a_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        count_spans(data, 100)
