"""Trace backends as a source of trace SLIs, for clusters that already store their spans:
Grafana Tempo's TraceQL metrics API (`GET /api/metrics/query`, instant, `count_over_time()`)
and Jaeger's query API (`GET /api/traces`). Each answers the bad and all spans of a trace SLI
over a time range; failures become `SourceError`s, as Prometheus's do.

Jaeger returns traces, not counts: at most `limit` of them per range, so beyond that the
counts are a sample (the ratio stays an estimate, the event count is a floor)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from sloguard.errors import QueryRejected, SourceUnavailable
from sloguard.sources.http import json_object, send
from sloguard.spans import jaeger, traceql
from sloguard.spec.traces import Traces


class TraceBackend(Protocol):
    """Bad and all spans of a trace SLI between `start` and `end` (unix seconds); None when
    the backend has no matching span at all."""

    name: str

    async def counts(
        self, traces: Traces, start: float, end: float
    ) -> tuple[float, float] | None: ...

    async def aclose(self) -> None: ...


def connect(kind: str, url: str, timeout_seconds: float = 10.0) -> TraceBackend:
    """The backend `kind` (`tempo` or `jaeger`) at `url`."""
    http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_seconds)
    return Tempo(http) if kind == "tempo" else Jaeger(http)


class _Backend:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def aclose(self) -> None:
        await self._http.aclose()


class Tempo(_Backend):
    name = "tempo"

    async def counts(self, traces: Traces, start: float, end: float) -> tuple[float, float] | None:
        bad_query, all_query = traceql.counts(traces)
        total = await self._instant(all_query, start, end)
        if total is None:
            return None
        return (await self._instant(bad_query, start, end) or 0.0), total

    async def _instant(self, query: str, start: float, end: float) -> float | None:
        params = {"q": query, "start": str(int(start)), "end": str(int(end))}
        body = await _get(self._http, "/api/metrics/query", params, "Tempo")
        series = body.get("series")
        if not isinstance(series, list) or not series:
            return None
        try:  # jsonpb omits zero values
            return sum(float(s.get("value", 0.0)) for s in series)
        except (TypeError, ValueError, AttributeError) as exc:
            raise SourceUnavailable(
                f"Tempo answered series without values: {exc}", "invalid_response"
            ) from exc


class Jaeger(_Backend):
    name = "jaeger"

    def __init__(self, http: httpx.AsyncClient, limit: int = 1500) -> None:
        super().__init__(http)
        self._limit = limit

    async def counts(self, traces: Traces, start: float, end: float) -> tuple[float, float] | None:
        params = {
            "service": traces.service,
            "start": str(int(start * 1_000_000)),
            "end": str(int(end * 1_000_000)),
            "limit": str(self._limit),
        }
        if traces.span.name is not None:
            params["operation"] = traces.span.name
        body = await _get(self._http, "/api/traces", params, "Jaeger")
        if not isinstance(body.get("data", []), list):
            raise SourceUnavailable("Jaeger answered without a list of traces", "invalid_response")
        bad, total = jaeger.counts(traces, body)
        return (float(bad), float(total)) if total else None


async def _get(
    http: httpx.AsyncClient, path: str, params: dict[str, str], who: str
) -> dict[str, Any]:
    response = await send(http, "GET", path, who, params=params)
    if response.status_code in (400, 422):
        raise QueryRejected(f"{who} rejected the query: {response.text[:200]}", "rejected")
    if response.status_code != 200:
        raise SourceUnavailable(f"HTTP {response.status_code} from {who}", "http_status")
    return json_object(response, who)
