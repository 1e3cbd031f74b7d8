"""The Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`) over async httpx.

Works unchanged against Prometheus-compatible engines (Thanos, Mimir, Cortex,
VictoriaMetrics): a base URL with any path prefix, bearer token (from a file re-read when it
rotates), basic auth, CA bundle and client certificate, and extra headers such as
`X-Scope-OrgID`. Transient failures (connection errors, timeouts, 429, 5xx, unparseable bodies)
are retried with backoff a bounded number of times and then raised as `SourceUnavailable`; a
query Prometheus rejects (400/422, `bad_data`) is raised at once as `QueryRejected`. Several
URLs of the same data (an HA pair) are asked in turn by `Failover`.
prometheus-api-client is not used: it is built on `requests`, so it can neither run in the
agent's event loop nor be driven by respx in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from sloguard.backoff import retry_delay
from sloguard.errors import QueryRejected, SourceUnavailable
from sloguard.files import WatchedFile
from sloguard.sources.http import MAX_ANSWER_BYTES, json_object, send

Sample = tuple[dict[str, str], float]
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers larger than this are parsed in a thread: a month of a report's values is megabytes,
# and reading them on the event loop held every other request for up to a second.
PARSED_ON_LOOP_BYTES = 256 * 1024
Data = dict[str, Any]
T = TypeVar("T")
REJECTED_STATUSES = frozenset({400, 422})


@dataclass(frozen=True)
class PrometheusSettings:
    """How to reach and authenticate to a Prometheus-compatible API."""

    url: str
    replicas: tuple[str, ...] = ()  # more URLs of the same data (an HA pair), in order
    token: str | None = None
    token_file: Path | None = None
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 10.0
    retries: int = 2
    backoff_seconds: float = 0.2
    max_in_flight: int = 8
    max_answer_bytes: int = MAX_ANSWER_BYTES


class _TokenFile(httpx.Auth):
    """Bearer token read from a file, and read again whenever the file changes (a rotated
    service-account token or Secret), checked by its modification time on every request."""

    def __init__(self, path: Path) -> None:
        self._file = WatchedFile(path)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        try:
            token = self._file.text()
        except OSError as exc:
            raise SourceUnavailable(
                f"cannot read the token file {self._file.path}: {exc}", "credentials"
            ) from exc
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def client(settings: PrometheusSettings) -> httpx.AsyncClient:
    """An async HTTP client configured from `settings` (the caller closes it)."""
    auth: httpx.Auth | tuple[str, str] | None = None
    # Uncompressed answers unless a header asks otherwise: gzip cost Prometheus a fifth of
    # its CPU on the gate's range query (18 KB, 7.6 -> 6.0 ms) to save bytes on a link that is
    # usually inside the cluster.
    headers = httpx.Headers({"Accept-Encoding": "identity"})
    headers.update(settings.headers)
    if settings.token_file is not None:
        auth = _TokenFile(settings.token_file)
    elif settings.token:
        headers["Authorization"] = f"Bearer {settings.token}"
    elif settings.username is not None:
        auth = (settings.username, settings.password or "")
    verify: ssl.SSLContext | bool = True
    if settings.ca_file is not None or settings.cert_file is not None:
        verify = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.cert_file is not None:
            verify.load_cert_chain(
                str(settings.cert_file), str(settings.key_file) if settings.key_file else None
            )
    return httpx.AsyncClient(
        base_url=settings.url.rstrip("/") + "/",
        auth=auth,
        headers=headers,
        verify=verify,
        timeout=settings.timeout_seconds,
        # A connection kept for each query allowed in flight (`Prometheus` queues the rest).
        limits=httpx.Limits(
            max_connections=settings.max_in_flight,
            max_keepalive_connections=settings.max_in_flight,
        ),
    )


class Prometheus:
    """Instant and range queries returning plain samples; errors translated once, here.

    At most `max_in_flight` queries run at once, the rest queued first come, first served:
    Prometheus gains nothing from more than its cores can run, and httpx's connection pool
    spends time quadratic in the requests waiting in it (a tenth of the agent's CPU with fifty
    gate requests at once, bench/gate.py)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: PrometheusSettings,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._settings = settings
        self._sleep = sleep
        self._slots = asyncio.Semaphore(settings.max_in_flight)

    async def query(self, expr: str, at: float) -> list[Sample]:
        """The instant vector (or scalar) of `expr` at `at` (Unix seconds)."""
        return await self._call("api/v1/query", {"query": expr, "time": _number(at)}, _vector)

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """Each series of `expr` over [start, end] at `step` seconds."""
        params = {
            "query": expr,
            "start": _number(start),
            "end": _number(end),
            "step": _number(step),
        }
        return await self._call("api/v1/query_range", params, _matrix)

    async def samples(
        self, expr: str, at: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """The raw samples of a range selector `expr` (e.g. `up[1d]`) at `at`, with the times
        they were written at: no lookback, no steps."""

        def raw(data: dict[str, Any]) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
            if data.get("resultType") != "matrix":
                raise QueryRejected(f"{expr!r} is not a range selector", "rejected")
            return _matrix(data)

        return await self._call("api/v1/query", {"query": expr, "time": _number(at)}, raw)

    async def _call(self, path: str, params: dict[str, str], read: Callable[[Data], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._once(path, params, read)
            except SourceUnavailable:
                if attempt > self._settings.retries:
                    raise
            await self._sleep(retry_delay(self._settings.backoff_seconds, attempt))

    async def _once(self, path: str, params: dict[str, str], read: Callable[[Data], T]) -> T:
        async with self._slots:
            response = await send(
                self._http,
                "POST",
                path,
                "Prometheus",
                self._settings.max_answer_bytes,
                data=params,
            )
        if response.status_code in RETRIED_STATUSES:
            raise SourceUnavailable(f"HTTP {response.status_code} from Prometheus", "http_status")

        def answer() -> T:
            body = json_object(response, "Prometheus")
            if body.get("status") != "success":
                reason = f"{body.get('errorType', 'error')}: {body.get('error', 'no reason given')}"
                if response.status_code in REJECTED_STATUSES or body.get("errorType") == "bad_data":
                    raise QueryRejected(f"Prometheus rejected the query: {reason}", "rejected")
                raise SourceUnavailable(f"Prometheus answered {reason}", "error_status")
            data = body.get("data")
            if not isinstance(data, dict) or not isinstance(data.get("result"), list | tuple):
                raise SourceUnavailable(
                    f"unexpected answer from Prometheus: {response.text[:80]!r}", "invalid_response"
                )
            return read(data)

        if len(response.content) <= PARSED_ON_LOOP_BYTES:
            return answer()
        return await asyncio.to_thread(answer)  # a large answer: the loop serves others meanwhile


# How long after failing over the first replica is tried again.
FAILBACK_SECONDS = 60.0
Raw = list[tuple[dict[str, str], list[tuple[float, float]]]]


class Failover:
    """Replicas of the same data (an HA pair of Prometheus, Thanos Query or Mimir behind
    several URLs), asked one at a time: the one that last answered, the next in order when it
    is unavailable, and the first again `FAILBACK_SECONDS` after it failed. Answers are never
    merged: a replica's gaps stay gaps, not zeros. A query a replica rejects is not tried
    elsewhere (the query is wrong, not the replica)."""

    def __init__(
        self,
        replicas: Sequence[tuple[str, Prometheus]],
        clock: Callable[[], float] = time.monotonic,
        switched: Callable[[str], None] = lambda url: None,
    ) -> None:
        self._replicas = list(replicas)
        self._clock = clock
        self._switched = switched
        self._active = 0
        self._failed_at: float | None = None  # when the first replica last failed

    @property
    def active(self) -> str:
        """The URL the last answer came from (the first until one failed)."""
        return self._replicas[self._active][0]

    async def query(self, expr: str, at: float) -> list[Sample]:
        return await self._ask(lambda source: source.query(expr, at))

    async def query_range(self, expr: str, start: float, end: float, step: float) -> Raw:
        return await self._ask(lambda source: source.query_range(expr, start, end, step))

    async def samples(self, expr: str, at: float) -> Raw:
        return await self._ask(lambda source: source.samples(expr, at))

    async def _ask(self, call: Callable[[Prometheus], Awaitable[T]]) -> T:
        failed: SourceUnavailable | None = None
        for index in self._order():
            try:
                answer = await call(self._replicas[index][1])
            except SourceUnavailable as exc:
                failed = failed or exc
                if index == 0:
                    self._failed_at = self._clock()
                continue
            if index != self._active:
                self._active = index
                self._switched(self.active)
            return answer
        assert failed is not None  # every replica was tried
        raise SourceUnavailable(
            f"every replica failed; the first said: {failed.reason}", failed.kind
        )

    def _order(self) -> list[int]:
        """The active replica, then the rest in order; the first leads again once it has had
        `FAILBACK_SECONDS` to recover."""
        count = len(self._replicas)
        lead = self._active
        if lead != 0 and (
            self._failed_at is None or self._clock() - self._failed_at >= FAILBACK_SECONDS
        ):
            lead = 0
        return [lead, *(i for i in range(count) if i != lead)]


def prometheus_source(
    settings: PrometheusSettings, switched: Callable[[str], None] = lambda url: None
) -> tuple[Prometheus | Failover, list[httpx.AsyncClient]]:
    """The source `settings` describe (one Prometheus, or `Failover` over its replicas) and
    the HTTP clients the caller closes."""
    urls = [settings.url, *settings.replicas]
    clients = [client(dataclasses.replace(settings, url=url)) for url in urls]
    sources = [
        Prometheus(http, dataclasses.replace(settings, url=url))
        for url, http in zip(urls, clients, strict=True)
    ]
    if len(sources) == 1:
        return sources[0], clients
    return Failover(list(zip(urls, sources, strict=True)), switched=switched), clients


def _vector(data: Data) -> list[Sample]:
    result = data["result"]
    with _garbled(result):
        if data.get("resultType") == "scalar":
            return [({}, float(result[1]))]
        # Values come as strings; float() reads Prometheus's NaN and +Inf/-Inf as they are.
        return [(_labels(s["metric"]), float(s["value"][1])) for s in result]


def _matrix(data: dict[str, Any]) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    with _garbled(data["result"]):
        return [
            (_labels(s["metric"]), [(float(t), float(v)) for t, v in s["values"]])
            for s in data["result"]
        ]


def _number(value: float) -> str:
    return format(value, ".3f")


def _labels(metric: object) -> dict[str, str]:
    """A series' labels, which must be strings (TypeError otherwise, caught as garbled)."""
    if not isinstance(metric, dict) or not all(isinstance(v, str) for v in metric.values()):
        raise TypeError("labels are not a map of strings")
    return metric


@contextlib.contextmanager
def _garbled(result: object) -> Iterator[None]:
    """A result whose items are not what the API documents (a value that is no number, a
    missing key, another shape) is an answer that cannot be used, not a crash."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        shown = orjson.dumps(result)[:80].decode("utf-8", "replace") if result else ""
        raise SourceUnavailable(
            f"garbled answer from Prometheus ({type(exc).__name__}: {exc}): {shown}",
            "invalid_response",
        ) from exc
