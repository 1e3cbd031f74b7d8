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
