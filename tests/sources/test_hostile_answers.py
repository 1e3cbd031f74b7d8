"""What a "Prometheus" may send that a real one would not, over real HTTP: answers past the
size cap, bodies dripped slower than the deadline, result items of the wrong shape. Each is
a failed query of its own kind, never a crash, a hang or a bloated agent."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from sloguard.errors import SourceUnavailable
from sloguard.sources.prometheus import Prometheus, PrometheusSettings, client
from tests.support.hostile import Answer, drip, hostile_prometheus, huge, json_answer

pytestmark = pytest.mark.integration  # starts real processes or servers


def ask(settings: PrometheusSettings, kind: str = "range") -> Any:
    async def once() -> Any:
        async with client(settings) as http:
            source = Prometheus(http, settings)
            if kind == "range":
                return await source.query_range("up", 0, 60, 15)
            return await source.query("up", 0)

    return asyncio.run(once())


@pytest.mark.parametrize("declared", [False, True])
def test_an_answer_past_the_cap_is_dropped_as_it_streams_in(declared: bool) -> None:
    sent = huge(200 * 2**20, declared)  # 200 MiB, made as it is sent
    streamed = 0

    def counted() -> Any:
        nonlocal streamed
        for chunk in sent.chunks:
            streamed += len(chunk)
            yield chunk

    with hostile_prometheus(lambda _: Answer(counted(), length=sent.length)) as prom:
        settings = PrometheusSettings(url=prom.url, retries=0, max_answer_bytes=2**20)
        with pytest.raises(SourceUnavailable) as failed:
            ask(settings)
    assert failed.value.kind == "too_large"
    assert "over the 1 MiB cap" in failed.value.reason
    # Read no further than the cap (and what the socket buffers held): not 200 MiB.
    assert streamed < 32 * 2**20


def test_an_answer_within_the_cap_is_read() -> None:
    body = orjson.dumps(
        {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": {"a": "b"}, "values": []}]},
        }
    )
    with hostile_prometheus(lambda _: json_answer(body)) as prom:
        settings = PrometheusSettings(url=prom.url, retries=0, max_answer_bytes=len(body))
        assert ask(settings) == [({"a": "b"}, [])]


def test_the_timeout_is_a_deadline_for_the_whole_answer() -> None:
    body = orjson.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
    # Every byte arrives well within a read timeout, the whole body far past the deadline.
    with hostile_prometheus(lambda _: drip(body, 0.2)) as prom:
        settings = PrometheusSettings(url=prom.url, retries=0, timeout_seconds=1.0)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable) as failed:
            ask(settings, "instant")
    assert failed.value.kind == "timeout"
    assert "timed out after 1s" in failed.value.reason
    assert time.monotonic() - started < 0.2 * len(body) / 2  # gave up long before the end


GARBLED: list[tuple[str, Any]] = [
    ("instant", {"resultType": "vector", "result": [{"metric": {}, "value": [1, "abc"]}]}),
    ("instant", {"resultType": "vector", "result": [{"metric": {}}]}),
    ("instant", {"resultType": "vector", "result": [{"value": [1, "1"]}]}),
    ("instant", {"resultType": "vector", "result": [{"metric": {"a": 1}, "value": [1, "1"]}]}),
    ("instant", {"resultType": "vector", "result": [{"metric": [], "value": [1, "1"]}]}),
    ("instant", {"resultType": "vector", "result": ["x"]}),
    ("instant", {"resultType": "vector", "result": [{"metric": {}, "value": []}]}),
    ("instant", {"resultType": "scalar", "result": [1]}),
    ("instant", {"resultType": "scalar", "result": [1, None]}),
    ("range", {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]}),
    ("range", {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "x"]]}]}),
    ("range", {"resultType": "matrix", "result": [{"metric": {}, "values": 5}]}),
    ("range", {"resultType": "matrix", "result": [{"metric": {}, "value": [1, "1"]}]}),
]


@pytest.mark.parametrize(("kind", "data"), GARBLED)
def test_result_items_of_the_wrong_shape_are_a_garbled_answer(kind: str, data: Any) -> None:
    body = orjson.dumps({"status": "success", "data": data})
    with (
        hostile_prometheus(lambda _: json_answer(body)) as prom,
        pytest.raises(SourceUnavailable) as failed,
    ):
        ask(PrometheusSettings(url=prom.url, retries=0), kind)
    assert failed.value.kind == "invalid_response"
    assert failed.value.reason.startswith("garbled answer from Prometheus")
