"""`/v1/traces` fuzzed with hypothesis, in protobuf and JSON: exports cut, spliced and
mutated from a real SDK's, and made-up ones; whatever arrives, the answer is a 200 or a 4xx
with a google.rpc.Status, never an exception, and the work per request stays bounded (the
receiver reads at most MAX_SPANS spans and its caps in bytes)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import hypothesis
import yaml
from google.protobuf import json_format
from google.rpc import status_pb2
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sloguard.server.otlp import JSON, PROTOBUF, TraceReceiver
from sloguard.spec.model import Definitions, ServiceSLOs
from sloguard.telemetry.metrics import TraceMetrics
from tests.support.spans import DEFINITION, received_requests

SPEC = ServiceSLOs.model_validate(yaml.safe_load(DEFINITION))
GOOD = received_requests()
PROTO = GOOD.SerializeToString()
DOCUMENT = json_format.MessageToDict(GOOD)
SETTINGS = hypothesis.settings(
    max_examples=150, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)


def receiver() -> TraceReceiver:
    return TraceReceiver(lambda: Definitions(1, (SPEC,)), TraceMetrics(CollectorRegistry()))


def answered(body: bytes, media: str, encoding: str = "") -> int:
    reply = receiver().receive(body, media, encoding)
    assert reply.status in (200, 400, 413), reply.status
    if reply.status != 200:
        if reply.media_type == PROTOBUF:
            status = status_pb2.Status.FromString(reply.body)
        else:
            status = json_format.Parse(reply.body, status_pb2.Status())
        assert status.code == 3 and status.message
    return reply.status


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes changed, cut, or a slice repeated."""
    body = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["flip", "cut", "repeat"]))
        if action == "flip":
            body[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del body[at : at + draw(st.integers(1, 64))]
        else:
            piece = bytes(body[at : at + draw(st.integers(1, 64))])
            body[at:at] = piece * draw(st.integers(1, 200))
        if not body:
            break
    return bytes(body)


@SETTINGS
@hypothesis.given(st.one_of(mutated(PROTO), st.binary(max_size=4096)), st.booleans())
def test_any_protobuf_body_is_a_200_or_a_4xx(body: bytes, zipped: bool) -> None:
    payload = gzip.compress(body) if zipped else body
    answered(payload, PROTOBUF, "gzip" if zipped else "")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=40,
)


def spliced(document: Any, path: list[str | int], value: Any) -> Any:
    """`document` with the node at `path` (as far as it exists) replaced by `value`."""
    if not path or not isinstance(document, dict | list):
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(document) if isinstance(document, dict) else list(document)
    if isinstance(copy, dict):
        copy[str(head)] = spliced(copy.get(str(head)), rest, value)
    elif copy:
        index = int(head) % len(copy) if isinstance(head, int) else 0
        copy[index] = spliced(copy[index], rest, value)
    return copy


PATHS = st.lists(
    st.sampled_from(
        ["resourceSpans", "scopeSpans", "spans", "resource", "attributes", 0, 1, "value", "kind"]
    ),
    max_size=6,
)


@SETTINGS
@hypothesis.given(PATHS, JSON_VALUES)
def test_any_json_body_is_a_200_or_a_4xx(path: list[str | int], value: Any) -> None:
    answered(json.dumps(spliced(DOCUMENT, path, value)).encode(), JSON)


@SETTINGS
@hypothesis.given(mutated(json.dumps(DOCUMENT).encode()))
def test_any_json_text_is_a_200_or_a_4xx(body: bytes) -> None:
    answered(body, JSON)
