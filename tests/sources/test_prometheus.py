"""The Prometheus adapter's HTTP edge cases, with respx on an injected async client."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from sloguard.errors import QueryRejected, SourceUnavailable
from sloguard.sources.prometheus import Prometheus, PrometheusSettings, client
from tests.support.realprom import running_prometheus

pytestmark = pytest.mark.integration  # starts real processes or servers

URL = "http://prometheus.example:9090"
QUERY = f"{URL}/api/v1/query"
VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [{"metric": {"slo": "a"}, "value": [1700000000, "0.25"]}],
    },
}


def run(settings: PrometheusSettings, expr: str = "up", at: float = 1700000000.0) -> Any:
    async def once() -> Any:
        async with client(settings) as http:
            return await Prometheus(http, settings, sleep=_no_sleep).query(expr, at)

    return asyncio.run(once())


async def _no_sleep(_: float) -> None:
    return None


def test_an_instant_vector_becomes_samples(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(QUERY).respond(200, json=VECTOR)
    assert run(PrometheusSettings(url=URL), "slo:x", 1700000000.5) == [({"slo": "a"}, 0.25)]
    form = dict(httpx.QueryParams(route.calls.last.request.content.decode()))
    assert form == {"query": "slo:x", "time": "1700000000.500"}


def test_a_scalar_and_an_empty_result(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(QUERY).mock(
        side_effect=[
            httpx.Response(
                200,
                json={"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}},
            ),
            httpx.Response(
                200, json={"status": "success", "data": {"resultType": "vector", "result": []}}
            ),
        ]
    )
    settings = PrometheusSettings(url=URL)
    assert run(settings) == [({}, 3.0)]
    assert run(settings) == []


def test_a_path_prefix_and_headers_reach_scale_out_engines(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://mimir.example/prometheus/api/v1/query").respond(
        200, json=VECTOR
    )
    run(
        PrometheusSettings(
            url="https://mimir.example/prometheus", headers={"X-Scope-OrgID": "team-a"}, token="t"
        )
    )
    request = route.calls.last.request
    assert request.headers["X-Scope-OrgID"] == "team-a"
    assert request.headers["Authorization"] == "Bearer t"


def test_answers_are_asked_uncompressed_unless_a_header_says_otherwise(
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(QUERY).respond(200, json=VECTOR)
    run(PrometheusSettings(url=URL))
    assert route.calls.last.request.headers.get_list("Accept-Encoding") == ["identity"]
    run(PrometheusSettings(url=URL, headers={"accept-encoding": "gzip"}))
    assert route.calls.last.request.headers.get_list("Accept-Encoding") == ["gzip"]


def test_a_real_prometheus_answers_uncompressed_or_gzipped_as_asked(tmp_path: Path) -> None:
    async def encoding(settings: PrometheusSettings) -> str | None:
        async with client(settings) as http:
            response = await http.post("api/v1/query", data={"query": "vector(1)"})
            assert response.json()["status"] == "success"  # decoded either way
            return response.headers.get("Content-Encoding")

    with running_prometheus(tmp_path, {}, []) as prometheus:
        assert asyncio.run(encoding(PrometheusSettings(url=prometheus.url))) is None
        gzipped = PrometheusSettings(url=prometheus.url, headers={"Accept-Encoding": "gzip"})
        assert asyncio.run(encoding(gzipped)) == "gzip"


def test_basic_auth(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(QUERY).respond(200, json=VECTOR)
    run(PrometheusSettings(url=URL, username="u", password="p"))
    assert route.calls.last.request.headers["Authorization"] == "Basic dTpw"


def test_a_rotated_token_file_is_read_again(respx_mock: respx.MockRouter, tmp_path: Path) -> None:
    route = respx_mock.post(QUERY).respond(200, json=VECTOR)
    token = tmp_path / "token"
    token.write_text("first\n")
    settings = PrometheusSettings(url=URL, token_file=token)

    async def twice() -> list[str]:
        seen = []
        async with client(settings) as http:
            source = Prometheus(http, settings)
            await source.query("up", 0)
            seen.append(route.calls.last.request.headers["Authorization"])
            token.write_text("second\n")
            os.utime(token, ns=(1, 10**18))  # a new modification time, as a rotation gives
            await source.query("up", 0)
            seen.append(route.calls.last.request.headers["Authorization"])
        return seen

    assert asyncio.run(twice()) == ["Bearer first", "Bearer second"]


def test_a_missing_token_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="cannot read the token file"):
        run(PrometheusSettings(url=URL, token_file=tmp_path / "absent", retries=0))


def test_a_hanging_query_times_out_and_is_retried(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(QUERY).mock(side_effect=httpx.ReadTimeout("hung"))
    with pytest.raises(SourceUnavailable, match=r"timed out after 2s \(ReadTimeout\)"):
        run(PrometheusSettings(url=URL, timeout_seconds=2, retries=2))
    assert route.call_count == 3


def test_a_5xx_is_retried_until_prometheus_recovers(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(QUERY).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=VECTOR)]
    )
    assert run(PrometheusSettings(url=URL)) == [({"slo": "a"}, 0.25)]
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(200, text="<html>login</html>"), "invalid JSON from Prometheus (HTTP 200)"),
        (httpx.Response(200, json=["not", "an", "object"]), "unexpected answer from Prometheus"),
        (httpx.Response(200, json={"status": "success", "data": {}}), "unexpected answer"),
        (httpx.Response(502), "HTTP 502 from Prometheus"),
        (
            httpx.Response(
                503, json={"status": "error", "errorType": "timeout", "error": "query timed out"}
            ),
            "HTTP 503 from Prometheus",
        ),
        (
            httpx.Response(200, json={"status": "error", "errorType": "execution", "error": "oom"}),
            "Prometheus answered execution: oom",
        ),
    ],
)
def test_garbage_and_failures_are_unavailable(
    respx_mock: respx.MockRouter, response: httpx.Response, reason: str
) -> None:
    route = respx_mock.post(QUERY).mock(return_value=response)
    with pytest.raises(SourceUnavailable) as caught:
        run(PrometheusSettings(url=URL, retries=1))
    assert caught.value.reason.startswith(reason)
    assert route.call_count == 2  # retried once, then reported


def test_a_rejected_query_is_not_retried(respx_mock: respx.MockRouter) -> None:
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'}
    route = respx_mock.post(QUERY).respond(400, json=body)
    with pytest.raises(QueryRejected, match="rejected the query: bad_data: parse error"):
        run(PrometheusSettings(url=URL, retries=3))
    assert route.call_count == 1


def test_range_queries(respx_mock: respx.MockRouter) -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"a": "b"}, "values": [[1, "1"], [2, "NaN"]]}],
        },
    }
    respx_mock.post(f"{URL}/api/v1/query_range").respond(200, json=body)
    settings = PrometheusSettings(url=URL)

    async def once() -> Any:
        async with client(settings) as http:
            return await Prometheus(http, settings).query_range("x", 1, 2, 1)

    [(labels, values)] = asyncio.run(once())
    assert labels == {"a": "b"} and values[0] == (1.0, 1.0) and values[1][1] != values[1][1]


def test_at_most_max_in_flight_queries_run_at_once_the_rest_in_turn(
    respx_mock: respx.MockRouter,
) -> None:
    running, most, answered = 0, 0, []

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        answered.append(dict(httpx.QueryParams(request.content.decode()))["query"])
        return httpx.Response(200, json=VECTOR)

    respx_mock.post(QUERY).mock(side_effect=slow)
    settings = PrometheusSettings(url=URL, max_in_flight=3)

    async def burst() -> None:
        async with client(settings) as http:
            source = Prometheus(http, settings)
            await asyncio.gather(*(source.query(f"q{i}", 1700000000.0) for i in range(10)))

    asyncio.run(burst())
    assert most == 3
    assert answered == [f"q{i}" for i in range(10)]  # first come, first served


def test_a_large_answer_is_read_off_the_event_loop_just_the_same(
    respx_mock: respx.MockRouter,
) -> None:
    """Over 256 KiB an answer is parsed in a thread: the same samples, the same refusals, and
    the event loop keeps serving meanwhile."""
    many = [{"metric": {"slo": f"s{i}"}, "value": [1700000000, "0.5"]} for i in range(8000)]
    big = {"status": "success", "data": {"resultType": "vector", "result": many}}
    respx_mock.post(QUERY).mock(
        side_effect=[
            httpx.Response(200, json=big),
            httpx.Response(200, content=b'{"status": "success", "data": [' + b" " * 300_000),
        ]
    )
    ticks = 0

    async def both() -> Any:
        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(ticking())
        settings = PrometheusSettings(url=URL, retries=0)
        try:
            async with client(settings) as http:
                source = Prometheus(http, settings, sleep=_no_sleep)
                found = await source.query("slo:x", 1700000000.0)
                with pytest.raises(SourceUnavailable, match="invalid JSON"):
                    await source.query("slo:x", 1700000000.0)
                return found
        finally:
            ticker.cancel()

    found = asyncio.run(both())
    assert len(found) == 8000 and found[-1] == ({"slo": "s7999"}, 0.5)
    assert ticks > 2
