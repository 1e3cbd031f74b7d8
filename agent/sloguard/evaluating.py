"""One evaluation of every SLO against a metric source: the rules path where the generated
rules are loaded, the raw path where they are not, then the pure judgement; and the SLOs'
histories the console draws, read from the recorded series."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from opentelemetry.trace import NoOpTracer, Span, Tracer
from prometheus_client import Counter

from sloguard.errors import SourceError
from sloguard.evaluation.history import (
    History,
    Trends,
    history,
    queries,
    span,
    trend_query,
    trend_span,
    trends,
)
from sloguard.evaluation.judgement import judge
from sloguard.evaluation.model import Evaluation, Origin, Reading, Status
from sloguard.evaluation.readings import (
    Readings,
    RulesAnswers,
    RulesQueries,
    Sample,
    raw_query,
    raw_readings,
    rules_queries,
    rules_readings,
    seconds,
    window_ranges,
)
from sloguard.gate.readings import Series
from sloguard.sources.traces import TraceBackend
from sloguard.spec.model import SLO, ServiceSLOs
from sloguard.spec.traces import Traces
from sloguard.telemetry.tracing import query_span

log = logging.getLogger("sloguard.evaluation")
CONSOLE_QUERIES = 2  # range queries the console may have in flight at once
TREND_SECONDS = 60.0  # the overview's budget trends, a point a day or so: read every minute
EMPTY_TREND_SECONDS = 10.0  # a failed or empty reading (a Prometheus just started): soon again
# A per-label SLO is as bad as its worst group; missing data outranks health, never a breach.
_RANK = {
    Status.EXHAUSTED: 0,
    Status.CRITICAL: 1,
    Status.WARNING: 2,
    Status.NO_DATA: 3,
    Status.OK: 4,
}


class Source(Protocol):
    """What evaluation needs from Prometheus: instant queries at a given time."""

    async def query(self, expr: str, at: float) -> Sequence[Sample]: ...


class RangeSource(Source, Protocol):
    """What the gate needs besides: range queries."""

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> Sequence[Series]: ...


class HistorySource(RangeSource, Protocol):
    """What reports need besides: the raw samples of a range selector."""

    async def samples(self, expr: str, at: float) -> Sequence[Series]: ...


class InstrumentedSource:
    """A Prometheus source whose every query is a client span and whose every failure is
    counted by kind (`sloguard_query_errors_total`): one for the agent, the gate and the
    actions, so a failing Prometheus shows whoever asked it."""

    def __init__(self, source: HistorySource, errors: Counter, tracer: Tracer) -> None:
        self._source = source
        self._errors = errors
        self._tracer = tracer

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        with self._span("prometheus query", expr) as span:
            samples = await self._source.query(expr, at)
            span.set_attribute("sloguard.result_size", len(samples))
            return samples

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> Sequence[Series]:
        with self._span("prometheus query_range", expr) as span:
            series = await self._source.query_range(expr, start, end, step)
            span.set_attribute("sloguard.result_size", len(series))
            return series

    async def samples(self, expr: str, at: float) -> Sequence[Series]:
        with self._span("prometheus query", expr) as span:
            series = await self._source.samples(expr, at)
            span.set_attribute("sloguard.result_size", len(series))
            return series

    @contextlib.contextmanager
    def _span(self, name: str, expr: str) -> Iterator[Span]:
        with query_span(self._tracer, name, expr) as span:
            started = time.perf_counter()
            try:
                yield span
            except SourceError as exc:
                self._errors.labels(exc.kind).inc()
                raise
            finally:
                span.set_attribute("sloguard.duration_seconds", time.perf_counter() - started)


# Shards whose answers are read and held at once: the rest wait. Prometheus still has eight
# queries to run side by side, and 10,000 SLOs' answers together would be 150 MB.
SHARDS_AT_ONCE = 2


async def evaluate(
    specs: Sequence[ServiceSLOs],
    source: Source,
    at: float,
    concurrency: int = 8,
    tracer: Tracer | None = None,
    traces: TraceBackend | None = None,
) -> list[Evaluation]:
    """Every SLO of `specs` at `at`, in definition order; a span per SLO when traced (the
    queries an SLO needs alone, on the raw path, are its children). With a `traces` backend,
    trace SLIs are read from it instead of from the agent's counters in Prometheus."""
    tracer = tracer or NoOpTracer()

    async def read_shard(queries: RulesQueries) -> RulesAnswers | str:
        """The shard's answers, or why the source failed them (the other queries stopped:
        nothing of a shard keeps running once it has failed)."""
        failed: list[SourceError] = []
        try:
            async with asyncio.TaskGroup() as group:
                asked = [
                    group.create_task(source.query(expr, at))
                    for expr in (
                        queries.burn_rates,
                        queries.budgets,
                        queries.events,
                        queries.window_events,
                    )
                ]
        except* SourceError as raised:
            failed.extend(e for e in raised.exceptions if isinstance(e, SourceError))
        if failed:
            return failed[0].reason
        return RulesAnswers.index(*(task.result() for task in asked))

    limit = asyncio.Semaphore(concurrency)
    pairs = [(spec, slo) for spec in specs for slo in spec.slos]
    results: list[Evaluation | None] = [None] * len(pairs)
    raw: list[int] = []
    backend: list[int] = []
    reading = asyncio.Semaphore(SHARDS_AT_ONCE)

    async def from_rules(queries: RulesQueries, first: int) -> None:
        """The shard's SLOs (from `first` in `pairs`) judged while its answers are at hand, or
        queued for the raw path or the trace backend."""
        async with reading:
            answers = await read_shard(queries)
            for index in range(first, first + queries.slos):
                spec, slo = pairs[index]
                if traces is not None and slo.sli.traces is not None:
                    backend.append(index)
                    continue
                # Most SLOs are answered from memory: no task per SLO, just its span.
                readings = (
                    rules_readings(spec, slo, answers, at)
                    if isinstance(answers, RulesAnswers)
                    else None
                )
                if isinstance(answers, RulesAnswers) and readings is None:
                    raw.append(index)
                    continue
                with tracer.start_as_current_span(f"slo {spec.service}/{slo.name}") as span:
                    if readings is not None:
                        evaluation = _worst(spec, slo, readings, at, Origin.RULES)
                    else:
                        # The source failed the shard's queries: the raw query would too.
                        evaluation = _failed(spec, slo, at, str(answers))
                    results[index] = _described(span, evaluation)

    shards = rules_queries(specs)
    firsts = list(itertools.accumulate((q.slos for q in shards), initial=0))[:-1]
    async with asyncio.TaskGroup() as group:  # a defect in one shard stops the others
        for shard, first in zip(shards, firsts, strict=True):
            group.create_task(from_rules(shard, first))

    async def from_raw(index: int) -> None:
        spec, slo = pairs[index]
        with tracer.start_as_current_span(f"slo {spec.service}/{slo.name}") as span:
            async with limit:
                try:
                    samples = _finite(await source.query(raw_query(slo, at), at))
                except SourceError as exc:
                    results[index] = _described(span, _failed(spec, slo, at, exc.reason))
                    return
            evaluation = _worst(spec, slo, raw_readings(spec, slo, samples, at), at, Origin.RAW)
            results[index] = _described(span, evaluation)

    async def from_backend(index: int) -> None:
        spec, slo = pairs[index]
        assert traces is not None and slo.sli.traces is not None
        with tracer.start_as_current_span(f"slo {spec.service}/{slo.name}") as span:
            async with limit:
                try:
                    readings = await trace_readings(traces, slo, slo.sli.traces, at)
                except SourceError as exc:
                    results[index] = _described(span, _failed(spec, slo, at, exc.reason))
                    return
            results[index] = _described(span, _worst(spec, slo, readings, at, Origin.TRACES))

    await asyncio.gather(*map(from_raw, sorted(raw)), *map(from_backend, sorted(backend)))
    return [e for e in results if e is not None]


async def trace_readings(backend: TraceBackend, slo: SLO, sli: Traces, at: float) -> Readings:
    """One reading per window from the backend's counts of bad and all spans."""
    windows = seconds(window_ranges(slo, at))
    answers = await asyncio.gather(*(backend.counts(sli, at - w, at) for w in windows.values()))
    found = {
        window: Reading(bad / total if total > 0 else 0.0, total)
        for window, counted in zip(windows, answers, strict=True)
        if counted is not None
        for bad, total in [counted]
    }
    return {(): found} if found else {}


def _finite(samples: Sequence[Sample]) -> list[Sample]:
    """The samples that are figures: a NaN or infinite value is garbled, so it is read as no
    sample (the window unknown, never a calm one)."""
    return [(labels, value) for labels, value in samples if math.isfinite(value)]


def _described(span: Span, evaluation: Evaluation) -> Evaluation:
    """Put what was found on the SLO's span (a no-op span when not traced)."""
    span.set_attributes(
        {
            "sloguard.service": evaluation.service,
            "sloguard.slo": evaluation.slo,
            "sloguard.status": evaluation.status.value,
            "sloguard.path": evaluation.origin.value,
            "sloguard.reason": evaluation.reason,
        }
    )
    if evaluation.error_budget_remaining is not None:
        span.set_attribute("sloguard.error_budget_remaining", evaluation.error_budget_remaining)
    return evaluation


def _worst(
    spec: ServiceSLOs, slo: SLO, readings: Readings, at: float, origin: Origin
) -> Evaluation:
    """The SLO's evaluation: its worst group's, carrying the other groups' (worst first)."""
    if not readings:
        return judge(spec.service, slo, {}, at, origin)
    evaluations = sorted(
        (judge(spec.service, slo, r, at, origin, dict(g)) for g, r in readings.items()),
        key=lambda e: (
            _RANK[e.status],
            e.error_budget_remaining if e.error_budget_remaining is not None else 0.0,
        ),
    )
    return replace(evaluations[0], others=tuple(evaluations[1:]))


def _failed(spec: ServiceSLOs, slo: SLO, at: float, reason: str) -> Evaluation:
    """No data, because the source could not answer: the reason says what went wrong."""
    return replace(judge(spec.service, slo, {}, at, Origin.RAW), reason=f"query failed: {reason}")


class Histories:
    """Reads SLOs' histories (`evaluation.history`) for the console: every kind in parallel,
    within `timeout_seconds`, a kind that fails said as missing. Readers of the same SLO and
    range within `fresh_seconds` share a reading, and the last `size` readings are kept, so a
    page refreshed by many people asks Prometheus once."""

    def __init__(
        self,
        source: RangeSource,
        timeout_seconds: float,
        fresh_seconds: float = 15.0,
        size: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._timeout = timeout_seconds
        self._fresh = fresh_seconds
        self._size = size
        self._clock = clock  # ages readings (the range's `at` is the wall clock's)
        # Console reads share the agent's connections to Prometheus: however many people look,
        # they hold only this many, the rest for the evaluation and the gate.
        self._queries = asyncio.Semaphore(CONSOLE_QUERIES)
        self._readings: dict[tuple[object, ...], tuple[float, asyncio.Future[History]]] = {}
        self._trends: tuple[int, float, asyncio.Future[Trends]] | None = None
        self._last_trends: tuple[int, Trends] = (-1, {})

    async def read(
        self,
        spec: ServiceSLOs,
        slo: SLO,
        at: float,
        version: int,
        seconds: float | None = None,
    ) -> History:
        """`slo`'s (of `spec`) history over `seconds` (its window when None) up to `at`, read
        with the definitions of `version`."""
        key = (version, spec.service, slo.name, seconds)
        kept = self._readings.pop(key, None)
        now = self._clock()
        if kept is None or now - kept[0] >= self._fresh or _failed_reading(kept[1]):
            kept = (now, asyncio.ensure_future(self._read(spec, slo, at, seconds)))
        self._readings[key] = kept  # the newest last
        while len(self._readings) > self._size:
            del self._readings[next(iter(self._readings))]
        return await asyncio.shield(kept[1])

    async def trends(
        self, services: Sequence[ServiceSLOs], at: float, version: int, wait: float
    ) -> Trends:
        """Every SLO's budget trend (`evaluation.history.trends`), read once every
        TREND_SECONDS (a failed or empty reading again after EMPTY_TREND_SECONDS), waiting at
        most `wait` seconds for it (and showing the last reading meanwhile): an overview is
        not held up by a slow Prometheus."""
        kept = self._trends
        now = self._clock()
        if kept is None or kept[0] != version or now - kept[1] >= _trend_age(kept[2]):
            kept = (version, now, asyncio.ensure_future(self._read_trends(services, at)))
            self._trends = kept
        try:
            found = await asyncio.wait_for(asyncio.shield(kept[2]), wait)
        except TimeoutError:  # the last reading, while the next one is on its way
            return self._last_trends[1] if self._last_trends[0] == version else {}
        except SourceError:
            return {}
        except Exception:  # sparklines are no reason for the overview to fail
            log.exception("reading the budget trends failed")
            return {}
        self._last_trends = (version, found)
        return found

    async def _read_trends(self, services: Sequence[ServiceSLOs], at: float) -> Trends:
        start, end, step = trend_span(services, at)
        async with asyncio.timeout(self._timeout), self._queries:
            answer = await self._source.query_range(trend_query(services), start, end, step)
        return trends(services, answer, at)

    async def _read(self, spec: ServiceSLOs, slo: SLO, at: float, seconds: float | None) -> History:
        start, end, step = span(slo, at, seconds)
        asked = queries(spec, slo)
        answers: dict[str, Sequence[Series]] = {}
        missing: dict[str, str] = {}

        async def one(kind: str, expr: str) -> None:
            try:
                async with self._queries:
                    answers[kind] = await self._source.query_range(expr, start, end, step)
            except SourceError as exc:
                missing[kind] = f"Prometheus: {exc.reason}"

        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.gather(*(one(kind, expr) for kind, expr in asked.items()))
        except TimeoutError:
            for kind in asked:
                if kind not in answers:
                    missing.setdefault(kind, f"Prometheus did not answer within {self._timeout:g}s")
        return history(spec.service, slo, at, answers, missing, seconds)


def _failed_reading(reading: asyncio.Future[Any]) -> bool:
    return reading.done() and (reading.cancelled() or reading.exception() is not None)


def _trend_age(reading: asyncio.Future[Trends]) -> float:
    """How long a trends reading is used: failed or empty ones only briefly."""
    if _failed_reading(reading) or (reading.done() and not reading.result()):
        return EMPTY_TREND_SECONDS
    return TREND_SECONDS
