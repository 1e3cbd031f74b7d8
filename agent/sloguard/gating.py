"""The promotion gate's shell: read what a request needs from Prometheus within a time budget,
decide (pure, `gate`), and count, trace and log every decision.

Identical requests share one reading: concurrent ones wait for the same task, repeated polls
within `cache_seconds` get the same decision. Nothing read is never a pass: a timeout, an
error or an empty answer becomes the SLO's `on_missing` verdict with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.trace import NoOpTracer, Span, Tracer

from sloguard.errors import QueryRejected, SourceError
from sloguard.evaluating import RangeSource, evaluate
from sloguard.evaluation.model import Status
from sloguard.files import append_line, tail_lines
from sloguard.gate.decision import decide, decide_slo
from sloguard.gate.model import Decision, Interval, Observation, Verdict
from sloguard.gate.readings import (
    garbled,
    intervals,
    labels_chosen_by,
    unattributed,
    unattributed_query,
    versions_query,
)
from sloguard.gate.report import DecisionReport, GateRecord, gate_record, report
from sloguard.gate.request import Analysis, AnalysisRequest, Target, resolve
from sloguard.gate.selection import Selector
from sloguard.journal import Journal
from sloguard.marking import DeployMarkers
from sloguard.spans.counting import VERSION_LABEL
from sloguard.spec.model import Definitions, ServiceSLOs
from sloguard.telemetry.metrics import GateMetrics

log = logging.getLogger("sloguard.gate")
CANARY, BASELINE = "canary", "baseline"
# Error budget left per SLO of a service, or None and why it is unknown.
Budgets = dict[str, tuple[float | None, str]]
# What one range query read: intervals per (SLO, version), and why nothing could be read.
Read = tuple[dict[tuple[str, str], list[Interval]], str]
CACHE_PRUNE_SIZE = 1024  # expired decisions are dropped once this many are kept
ASKED_SECONDS = 3600  # how long a version asked about stays preferred by the trace receiver


@dataclass(frozen=True)
class GateSettings:
    """Time budget (Argo's web provider gives up after 10 s), how long a decision is reused,
    and the log every decision is added to (read back into the journal at start)."""

    time_budget_seconds: float = 5.0
    cache_seconds: float = 5.0
    log_path: Path | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A decision, the moment it was made for, and its report as JSON: serialized once for
    every caller it is shared with, and all a cached answer keeps of the report (the report's
    objects, kept for every cached decision, made the collector's full passes 3x longer under
    load: 58-64 ms against 20-25, bench/gate.py's distinct scenario)."""

    decision: Decision
    at: float
    body: bytes = field(compare=False)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A decision as the journal keeps it: what it is filtered and told apart by, and its
    `GateRecord` as JSON (serialized once, served as is)."""

    service: str
    canary: str
    baseline: str | None
    verdict: Verdict
    body: bytes

    def rollout(self) -> tuple[str, str, str | None, Verdict]:
        """A journal key: a rollout's analysis asks again and again; the same verdict on the
        same canary and baseline is one entry with a count (the newest kept), so the journal
        holds many rollouts' stories, not one rollout's polls."""
        return (self.service, self.canary, self.baseline, self.verdict)


def _log(path: Path, line: str) -> None:
    try:
        append_line(path, line)
    except OSError as exc:
        log.warning("gate decision not logged to %s: %s", path, exc)


def logged_decisions(path: Path) -> list[Recorded]:
    """The decisions at the end of the gate's log (`files.tail_lines`), oldest first: what the
    journal starts from. Lines that are not decisions are skipped."""
    found = []
    for raw in tail_lines(path):
        try:
            record = GateRecord.model_validate_json(raw)
        except ValueError:
            continue
        decided = record.decision
        body = record.model_dump_json(exclude={"repeated"}).encode()
        found.append(
            Recorded(decided.service, record.canary, record.baseline, decided.verdict, body)
        )
    return found


class Gatekeeper:
    """Answers gate requests against the current definitions."""

    def __init__(
        self,
        definitions: Callable[[], Definitions],
        source: RangeSource,
        metrics: GateMetrics,
        settings: GateSettings = GateSettings(),
        tracer: Tracer | None = None,
        clock: Callable[[], float] = time.time,
        markers: DeployMarkers | None = None,
        journal: Journal[Recorded] | None = None,
    ) -> None:
        self._definitions = definitions
        self.journal = journal  # the recent decisions, for the console
        self._markers = markers
        self._source = source
        self._metrics = metrics
        self._settings = settings
        self._tracer = tracer or NoOpTracer()
        self._clock = clock
        self._inflight: dict[bytes, asyncio.Future[Answer]] = {}
        self._cache: dict[bytes, Answer] = {}
        # Request bytes -> the request's key, and the definitions' version it was resolved on.
        self._polls: dict[bytes, tuple[bytes, int]] = {}
        # Readings every request about a service shares for `cache_seconds` (budgets, the
        # check that bad events can be told apart by version): when made, and the reading.
        self._shared: dict[tuple[object, ...], tuple[float, asyncio.Future[dict[str, Any]]]] = {}
        self._asked: dict[str, float] = {}  # span version label value -> last asked

    async def analyse(self, request: AnalysisRequest, sent: bytes | None = None) -> Answer:
        """The decision on `request`; RequestError when it cannot be answered as asked.
        `sent`, the request's bytes, lets `repeated` answer the same bytes again."""
        definitions = self._definitions()
        analysis = resolve(request, definitions.services)
        self._remember_versions(analysis)
        key = orjson.dumps(request.model_dump(), option=orjson.OPT_SORT_KEYS)
        if sent is not None:
            if len(self._polls) >= CACHE_PRUNE_SIZE:
                self._polls = {b: p for b, p in self._polls.items() if p[0] in self._cache}
                if len(self._polls) >= CACHE_PRUNE_SIZE:  # many bodies per request: start over
                    self._polls.clear()
            self._polls[sent] = (key, definitions.version)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached.at < self._settings.cache_seconds:
            self._metrics.shared.labels("cached").inc()
            return cached
        pending = self._inflight.get(key)
        if pending is not None:
            self._metrics.shared.labels("coalesced").inc()
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(self._answer(analysis, now))
        self._inflight[key] = task
        task.add_done_callback(lambda done: self._settle(key, done))
        return await asyncio.shield(task)

    def asked_versions(self) -> frozenset[str]:
        """The span versions (`version="..."`) callers asked about within the last hour: the
        trace receiver keeps room for them."""
        now = self._clock()
        return frozenset(v for v, at in self._asked.items() if now - at < ASKED_SECONDS)

    def _remember_versions(self, analysis: Analysis) -> None:
        if not any(t.slo.sli.traces for t in analysis.targets):
            return
        now = self._clock()
        for chosen in (analysis.canary, analysis.baseline):
            for matcher in chosen.matchers if chosen is not None else ():
                if matcher.name == VERSION_LABEL and matcher.op == "=":
                    self._asked.pop(matcher.value, None)
                    self._asked[matcher.value] = now
        while len(self._asked) > CACHE_PRUNE_SIZE:  # the oldest first
            del self._asked[next(iter(self._asked))]

    def repeated(self, sent: bytes) -> Answer | None:
        """The cached decision on a request sent with exactly these bytes before, while it is
        fresh and the definitions are the ones it was made on; None otherwise."""
        poll = self._polls.get(sent)
        if poll is None or poll[1] != self._definitions().version:
            return None
        cached = self._cache.get(poll[0])
        if cached is None or self._clock() - cached.at >= self._settings.cache_seconds:
            return None
        self._metrics.shared.labels("cached").inc()
        return cached

    def _settle(self, key: bytes, done: asyncio.Future[Answer]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled() and done.exception() is None:
            now = self._clock()
            if len(self._cache) >= CACHE_PRUNE_SIZE:
                self._cache = {
                    k: a
                    for k, a in self._cache.items()
                    if now - a.at < self._settings.cache_seconds
                }
            self._cache[key] = done.result()

    async def _answer(self, analysis: Analysis, at: float) -> Answer:
        started = time.perf_counter()
        service = analysis.spec.service
        with self._tracer.start_as_current_span(f"gate {service}") as span:
            budget = self._settings.time_budget_seconds
            try:
                seen = await asyncio.wait_for(self._observe(analysis, at), timeout=budget)
            except TimeoutError:
                reason = f"Prometheus did not answer within the gate's {budget:g}s time budget"
                seen = [
                    Observation([], None, t.step_seconds, None, reason) for t in analysis.targets
                ]
            verdicts = [decide_slo(t.slo, o) for t, o in zip(analysis.targets, seen, strict=True)]
            longest = max(t.window_seconds for t in analysis.targets)
            decision = decide(service, verdicts, at - longest, at)
            decided = report(decision, at)
            answer = Answer(decision, at, decided.model_dump_json().encode())
            self._record(span, analysis, answer, time.perf_counter() - started)
            self._keep(analysis, decided, seen)
        return answer

    async def _observe(self, analysis: Analysis, at: float) -> list[Observation]:
        versions = {CANARY: analysis.canary}
        if analysis.baseline is not None:
            versions[BASELINE] = analysis.baseline
        # SLOs sharing a window, step and rate window are read in one query.
        groups: dict[tuple[float, float, float], list[Target]] = {}
        for target in analysis.targets:
            key = (target.window_seconds, target.step_seconds, target.rate_seconds)
            groups.setdefault(key, []).append(target)
        budgets, answers, unattributable = await asyncio.gather(
            self._budgets(analysis.spec, at),
            asyncio.gather(*(self._read(group, versions, at) for group in groups.values())),
            self._unattributable(analysis, versions.values(), at),
        )
        read: dict[str, Read] = {}
        for group, answer in zip(groups.values(), answers, strict=True):
            read.update({t.slo.name: answer for t in group})
        observations = []
        for target in analysis.targets:
            found, missing = read[target.slo.name]
            name = target.slo.name
            observations.append(
                Observation(
                    found.get((name, CANARY), []),
                    found.get((name, BASELINE), []) if BASELINE in versions else None,
                    target.step_seconds,
                    budgets.get(name, (None, ""))[0],
                    missing or unattributable.get(name, ""),
                    budgets.get(name, (None, "not evaluated"))[1],
                )
            )
        return observations

    async def _budgets(self, spec: ServiceSLOs, at: float) -> Budgets:
        """Error budget left per SLO of the service (None where unknown), shared by every
        request about the service for `cache_seconds`: fifty rollouts of one service need
        one evaluation, not fifty."""
        return await self._share(("budgets", spec.service), at, lambda: self._evaluate(spec, at))

    async def _unattributable(
        self, analysis: Analysis, selectors: Iterable[Selector], at: float
    ) -> dict[str, str]:
        """Per SLO whose bad events include series without the labels the selectors choose
        by, why it cannot be judged; shared like the budgets (it does not depend on the
        versions' values). A failed read leaves every SLO unjudged."""
        label_sets = labels_chosen_by(selectors)
        if not label_sets:
            return {}
        # At least one step: a window shorter than that (`1ms`) holds no rate to compare.
        slis = {
            t.slo.name: (t.slo.sli, max(t.window_seconds, t.step_seconds)) for t in analysis.targets
        }
        query = unattributed_query(slis, label_sets)
        key = ("unattributed", query)  # the SLIs' queries, labels and windows, as read

        async def read() -> dict[str, str]:
            try:
                return unattributed(await self._source.query(query, at))
            except SourceError as exc:
                if isinstance(exc, QueryRejected):
                    log.error("the gate's query was rejected", extra={"error": exc.reason})
                return {name: f"Prometheus: {exc.reason}" for name in slis}

        return await self._share(key, at, read)

    async def _share(
        self, key: tuple[object, ...], at: float, read: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """`read()`'s answer, made once for every caller asking with `key` within
        `cache_seconds` (a failure is not shared later)."""
        shared = self._shared.get(key)
        if shared is None or at - shared[0] >= self._settings.cache_seconds:
            if len(self._shared) >= CACHE_PRUNE_SIZE:
                self._shared = {
                    k: v
                    for k, v in self._shared.items()
                    if at - v[0] < self._settings.cache_seconds
                }
            shared = (at, asyncio.ensure_future(read()))
            self._shared[key] = shared
        try:
            return await asyncio.shield(shared[1])
        except Exception:
            self._shared.pop(key, None)
            raise

    async def _evaluate(self, spec: ServiceSLOs, at: float) -> Budgets:
        evaluations = await evaluate([spec], self._source, at, tracer=self._tracer)
        return {
            e.slo: (None, e.reason)
            if e.status is Status.NO_DATA
            else (e.error_budget_remaining, "")
            for e in evaluations
        }

    async def _read(self, targets: list[Target], versions: dict[str, Selector], at: float) -> Read:
        window, step = targets[0].window_seconds, targets[0].step_seconds
        slis = {t.slo.name: t.slo.sli for t in targets}
        query = versions_query(slis, targets[0].rate_seconds, versions)
        try:
            found = intervals(await self._source.query_range(query, at - window, at, step))
            if garbled(found):
                return {}, "Prometheus answered values no event rate can have (NaN, infinite, <0)"
            return found, ""
        except SourceError as exc:
            if isinstance(exc, QueryRejected):
                log.error("the gate's query was rejected", extra={"error": exc.reason})
            return {}, f"Prometheus: {exc.reason}"

    def _keep(self, analysis: Analysis, decided: DecisionReport, seen: list[Observation]) -> None:
        if self.journal is None:
            return
        canary = str(analysis.canary)
        baseline = None if analysis.baseline is None else str(analysis.baseline)
        slos = [t.slo.name for t in analysis.targets]
        record = gate_record(decided, canary, baseline, slos, seen)
        body = record.model_dump_json(exclude={"repeated"}).encode()
        self.journal.add(Recorded(decided.service, canary, baseline, decided.verdict, body))
        path = self._settings.log_path
        if path is not None:  # the intervals stay out: the log keeps what was decided
            line = record.model_copy(update={"samples": {}}).model_dump_json(exclude={"repeated"})
            asyncio.get_running_loop().run_in_executor(None, _log, path, line)

    def _record(self, span: Span, analysis: Analysis, answer: Answer, seconds: float) -> None:
        decision = answer.decision
        self._metrics.decisions.labels(decision.service, decision.verdict.value).inc()
        for judged in decision.slos:
            self._metrics.slo_verdicts.labels(
                decision.service, judged.slo, judged.verdict.value
            ).inc()
        self._metrics.decision_seconds.observe(seconds)
        if self._markers is not None:
            self._markers.decision(decision, str(analysis.canary))
        span.set_attributes(
            {
                "sloguard.service": decision.service,
                "sloguard.verdict": decision.verdict.value,
                "sloguard.reason": decision.reason,
                "sloguard.canary": str(analysis.canary),
                "sloguard.baseline": str(analysis.baseline or ""),
            }
        )
        for verdict in decision.slos:
            span.add_event(
                f"slo {verdict.slo}",
                {"sloguard.verdict": verdict.verdict.value, "sloguard.reason": verdict.reason},
            )
        if not log.isEnabledFor(logging.INFO):
            return
        log.info(
            "gate decision",
            extra={
                "service": decision.service,
                "verdict": decision.verdict.value,
                "reason": decision.reason,
                "canary": str(analysis.canary),
                "baseline": str(analysis.baseline or ""),
                "duration_seconds": round(seconds, 4),
                "slos": orjson.loads(answer.body)["slos"],  # what the callers were answered
            },
        )
