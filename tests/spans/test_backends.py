"""Trace backends as the source of trace SLIs: Tempo's TraceQL metrics API and Jaeger's query
API, driven with respx through answers shaped as their public API documents them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner

from sloguard.cli import main
from sloguard.errors import QueryRejected, SourceUnavailable
from sloguard.evaluating import evaluate
from sloguard.evaluation.model import Origin, Status
from sloguard.sources.traces import Jaeger, Tempo
from sloguard.spans import traceql
from sloguard.spec.model import ServiceSLOs
from sloguard.spec.traces import Traces
from tests.support.fakes import Switchable
from tests.support.repo import FIXTURES

TEMPO, JAEGER = "http://tempo:3200", "http://jaeger:16686"
PAY = Traces.model_validate(
    {"service": "checkout", "span": {"name": "POST /pay", "kind": "SERVER"}}
)
SLOW = PAY.model_copy(update={"threshold": "300ms"})
AT = 1_764_150_600.0


def checkout() -> ServiceSLOs:
    """A service whose one SLO is the `PAY` trace SLI."""
    slo = {"name": "pay", "objective": 99.9, "sli": {"traces": PAY.model_dump(mode="json")}}
    return ServiceSLOs.model_validate({"service": "checkout", "slos": [slo]})


def answer(name: str) -> Any:
    return json.loads((FIXTURES / "traces" / name).read_text())


def test_traceql_selects_the_spans_and_the_bad_ones() -> None:
    bad, every = traceql.counts(PAY.model_copy(update={"match": {"http.origin": "/pay"}}))
    selection = 'resource.service.name = "checkout" && name = "POST /pay" && kind = server && .http.origin = "/pay"'
    assert every == f"{{ {selection} }} | count_over_time()"
    assert bad == (
        f"{{ {selection} && (status = error || span.http.response.status_code >= 500 "
        "|| span.http.status_code >= 500) } | count_over_time()"
    )
    assert traceql.bad(SLOW) == "duration > 300ms"
    quoted = traceql.selection(Traces(service='say "hi"\\'))
    assert quoted == 'resource.service.name = "say \\"hi\\"\\\\"'


@respx.mock
def test_tempo_counts_bad_and_all_spans_over_the_range() -> None:
    route = respx.get(f"{TEMPO}/api/metrics/query").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=answer("tempo-instant.json")
            if "status = error" not in request.url.params["q"]
            else {"series": [{"labels": [], "value": 37}]},
        )
    )

    async def counted() -> Any:
        async with httpx.AsyncClient(base_url=TEMPO) as http:
            return await Tempo(http).counts(PAY, AT - 3600, AT)

    assert asyncio.run(counted()) == (37.0, 1000.0)
    first = route.calls[0].request.url.params
    assert (first["start"], first["end"]) == (str(int(AT - 3600)), str(int(AT)))
    assert first["q"].endswith("| count_over_time()")


@pytest.mark.parametrize(
    ("fixture", "expected"), [("tempo-empty.json", None), ("tempo-zero.json", (0.0, 0.0))]
)
@respx.mock
def test_tempo_without_spans_is_no_data_and_an_omitted_value_is_zero(
    fixture: str, expected: Any
) -> None:
    respx.get(f"{TEMPO}/api/metrics/query").mock(
        return_value=httpx.Response(200, json=answer(fixture))
    )

    async def counted() -> Any:
        async with httpx.AsyncClient(base_url=TEMPO) as http:
            return await Tempo(http).counts(PAY, AT - 300, AT)

    assert asyncio.run(counted()) == expected


@pytest.mark.parametrize(
    ("response", "error", "kind"),
    [
        (
            httpx.Response(400, text="parse error at line 1, col 3: syntax error"),
            QueryRejected,
            "rejected",
        ),
        (
            httpx.Response(503, text="too many outstanding requests"),
            SourceUnavailable,
            "http_status",
        ),
        (httpx.Response(200, text="<html>proxy</html>"), SourceUnavailable, "invalid_response"),
        (httpx.Response(200, json=[1, 2]), SourceUnavailable, "invalid_response"),
        (httpx.ConnectError("refused"), SourceUnavailable, "connection"),
        (httpx.ReadTimeout("slow"), SourceUnavailable, "timeout"),
    ],
)
@respx.mock
def test_a_failing_backend_is_a_source_error(
    response: Any, error: type[Exception], kind: str
) -> None:
    route = respx.get(f"{TEMPO}/api/metrics/query")
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)

    async def counted() -> Any:
        async with httpx.AsyncClient(base_url=TEMPO) as http:
            return await Tempo(http).counts(PAY, AT - 300, AT)

    with pytest.raises(error) as raised:
        asyncio.run(counted())
    assert raised.value.kind == kind  # type: ignore[attr-defined]


@pytest.mark.parametrize(("traces", "expected"), [(PAY, (2.0, 3.0)), (SLOW, (1.0, 3.0))])
@respx.mock
def test_jaeger_spans_are_classified_as_the_receiver_does(
    traces: Traces, expected: tuple[float, float]
) -> None:
    route = respx.get(f"{JAEGER}/api/traces").mock(
        return_value=httpx.Response(200, json=answer("jaeger-traces.json"))
    )

    async def counted() -> Any:
        async with httpx.AsyncClient(base_url=JAEGER) as http:
            return await Jaeger(http, limit=500).counts(traces, AT - 300, AT)

    assert asyncio.run(counted()) == expected
    params = route.calls[0].request.url.params
    assert dict(params) == {
        "service": "checkout",
        "operation": "POST /pay",
        "start": str(int((AT - 300) * 1_000_000)),
        "end": str(int(AT * 1_000_000)),
        "limit": "500",
    }


@respx.mock
def test_a_trace_slo_is_evaluated_from_the_backend() -> None:
    spec = checkout()
    asked: list[tuple[str, str]] = []

    def tempo(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        asked.append((params["start"], params["end"]))
        value = 50 if "status = error" in params["q"] else 1000
        return httpx.Response(200, json={"series": [{"labels": [], "value": value}]})

    respx.get(f"{TEMPO}/api/metrics/query").mock(side_effect=tempo)

    async def evaluated() -> Any:
        async with httpx.AsyncClient(base_url=TEMPO) as http:
            return await evaluate([spec], Switchable(), AT, traces=Tempo(http))

    [evaluation] = asyncio.run(evaluated())
    assert evaluation.origin is Origin.TRACES
    assert evaluation.sli == pytest.approx(0.95)
    assert evaluation.status in {Status.CRITICAL, Status.EXHAUSTED}
    starts = {AT - float(start) for start, _ in asked}
    assert {300.0, 3600.0, 30 * 86400.0} <= starts  # every alert window and the SLO window


@respx.mock
def test_a_backend_without_spans_is_no_data() -> None:
    spec = checkout()
    respx.get(f"{TEMPO}/api/metrics/query").mock(
        return_value=httpx.Response(200, json=answer("tempo-empty.json"))
    )

    async def evaluated() -> Any:
        async with httpx.AsyncClient(base_url=TEMPO) as http:
            return await evaluate([spec], Switchable(), AT, traces=Tempo(http))

    [evaluation] = asyncio.run(evaluated())
    assert evaluation.status is Status.NO_DATA


def test_a_backend_needs_its_url() -> None:
    result = CliRunner().invoke(
        main, ["evaluate", "--prometheus=http://127.0.0.1:9", "--traces-backend=tempo"]
    )
    assert result.exit_code == 2 and "--traces-backend needs --traces-url" in result.output
