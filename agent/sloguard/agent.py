"""The long-running agent: evaluate every SLO each interval, reload definitions when their files
change, and keep what the HTTP endpoints and metrics report.

A failed reload keeps the last good definitions and says why; a failing Prometheus turns SLOs
into `no_data` (never `ok`) and the agent not ready, and both heal by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.trace import NoOpTracer, Tracer

from sloguard.errors import SloguardError, SourceError, SpecProblem
from sloguard.evaluating import Source, evaluate
from sloguard.evaluation import judgement
from sloguard.evaluation.model import Evaluation
from sloguard.evaluation.readings import Sample
from sloguard.loading import Loaded, definition_files, load
from sloguard.sources.traces import TraceBackend
from sloguard.spec.model import Definitions, ServiceSLOs
from sloguard.telemetry.metrics import AgentMetrics

log = logging.getLogger("sloguard.agent")

# What the definition files looked like when last loaded: (resolved path, mtime, size) of each,
# and the problems finding them.
Fingerprint = tuple[tuple[tuple[str, int, int], ...], tuple[SpecProblem, ...]]

# A cycle running longer than this many intervals is cut short; with none completed for
# STALE_CYCLES intervals the evaluations are stale (no data, and /readyz says so).
CYCLE_DEADLINE_INTERVALS = 2
STALE_CYCLES = 3

# What runs after each evaluation (the actions): the definitions in use and what was seen.
AfterCycle = Callable[[Sequence[ServiceSLOs], Sequence[Evaluation]], Awaitable[object]]


class _Remembered:
    """The agent's source, remembering what failed during the cycle (readiness says why)."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self.failures: list[SourceError] = []

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        try:
            return await self._source.query(expr, at)
        except SourceError as exc:
            self.failures.append(exc)
            raise


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str


# Allocations between two rounds of the garbage collector's youngest generation (Python's
# default is 700): a cycle of 10,000 SLOs allocates a million objects, its answers, which live
# until their SLOs are judged, and at 700 the collector ran a thousand rounds over them, a
# third of the cycle's time. Reference cycles wait a little longer to be collected.
YOUNG_ROUND = 100_000


def _settled() -> None:
    """Leave what is alive now (the definitions above all) out of the garbage collector's
    rounds until the next change: every full round walked them all (10,000 SLOs: a third of a
    cycle's time). What the last set left in reference cycles is collected first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_ROUND, middle, old)


class Agent:
    """Holds the definitions and the latest evaluation; `run` loops until `stop` is set."""

    def __init__(
        self,
        paths: Sequence[Path],
        source: Source,
        metrics: AgentMetrics,
        interval_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
        tracer: Tracer | None = None,
        after_cycle: AfterCycle | None = None,
        traces: TraceBackend | None = None,
        after_load: Callable[[Sequence[ServiceSLOs]], None] | None = None,
        source_name: Callable[[], str] = lambda: "",
    ) -> None:
        self._paths = list(paths)
        self._source_name = source_name
        self._after_cycle = after_cycle
        self._after_load = after_load
        self._traces = traces
        self._metrics = metrics
        self._tracer = tracer or NoOpTracer()
        self._source = _Remembered(source)
        self._interval = interval_seconds
        self._clock = clock
        self._loaded: Loaded | None = None
        self.definitions = Definitions(0, ())
        self._fingerprint: Fingerprint | None = None
        self.evaluations: list[Evaluation] = []
        self.definitions_error = ""
        self.source_error = ""
        self.cycles = 0
        self.last_cycle_started: float | None = None
        self.last_cycle_completed: float | None = None

    def readiness(self) -> Readiness:
        """Ready once a cycle has completed with Prometheus answering, and while cycles go on
        completing."""
        if self.cycles == 0:
            return Readiness(False, "no evaluation has completed yet")
        stale = self._staleness()
        if stale:
            return Readiness(False, stale)
        if self.source_error:
            return Readiness(
                False, f"the last evaluation could not query Prometheus: {self.source_error}"
            )
        return Readiness(True, f"{len(self.evaluations)} SLO(s) evaluated")

    def current(self) -> list[Evaluation]:
        """The latest evaluations as they may be served: when no cycle has completed for
        STALE_CYCLES intervals (cycles failing, hanging or cut short), every SLO is no data,
        saying so, rather than its old figures standing for now."""
        stale = self._staleness()
        return [judgement.stale(e, stale) for e in self.evaluations] if stale else self.evaluations

    def _staleness(self) -> str:
        """Why the evaluations are stale, or "" while they are current."""
        if self.last_cycle_completed is None:
            return ""
        age = self._clock() - self.last_cycle_completed
        if age <= STALE_CYCLES * self._interval:
            return ""
        return (
            f"stale: the last evaluation completed {age:.0f}s ago and none since "
            f"(one is due every {self._interval:g}s)"
        )

    @property
    def services(self) -> tuple[ServiceSLOs, ...]:
        """The definitions in use (the last good set); empty before the first load."""
        return self.definitions.services

    def files(self, service: str) -> list[tuple[str, str]]:
        """The files the service's definitions were read from, with their text as read."""
        if self._loaded is None:
            return []
        texts = self._loaded.texts
        return [(f, texts.get(f, "")) for f in self._loaded.sources.get(service, ())]

    def reload(self) -> None:
        """Load the definitions again if any file changed; keep the last good set on errors."""
        self._adopt(*self._read())

    async def reread(self) -> None:
        """Read the definitions again now, changed or not (SIGHUP), off the event loop."""
        log.info("reading the definitions again (SIGHUP)")
        self._fingerprint = None
        self._adopt(*await asyncio.to_thread(self._read))

    def _read(self) -> tuple[Fingerprint, Loaded | Exception | None]:
        """The files' fingerprint and, if it changed, what loading them gave (None if it did
        not): blocking reads and parsing, which `cycle` runs in a thread, off the event loop."""
        fingerprint = self._files_fingerprint()
        if fingerprint == self._fingerprint and self._loaded is not None:
            return fingerprint, None
        try:
            return fingerprint, load(self._paths)
        except SloguardError as exc:
            return fingerprint, exc
        except Exception as exc:  # a bug in loading: reported like bad definitions, not fatal
            log.exception("loading the definitions failed")
            return fingerprint, exc

    def _adopt(self, fingerprint: Fingerprint, outcome: Loaded | Exception | None) -> None:
        """Use what `_read` loaded, or report why it could not be loaded."""
        if outcome is None:
            return
        if isinstance(outcome, Exception):
            self._fingerprint = fingerprint  # report once per change, not every cycle
            self.definitions_error = (
                str(outcome)
                if isinstance(outcome, SloguardError)
                else f"{type(outcome).__name__}: {outcome}"
            )
            self._metrics.reload_errors.inc()
            log.error(
                "definitions not reloaded; keeping the last good set",
                extra={
                    "error": str(outcome),
                    "kept_slos": self._loaded.slo_count if self._loaded else 0,
                },
            )
            if self._loaded is None:
                raise outcome
            return
        first = self._loaded is None
        self._loaded, self._fingerprint, self.definitions_error = outcome, fingerprint, ""
        _settled()
        self.definitions = Definitions(self.definitions.version + 1, tuple(outcome.services))
        self._metrics.slos.set(outcome.slo_count)
        if self._after_load is not None:
            self._after_load(self.definitions.services)
        log.info(
            "definitions loaded" if first else "definitions reloaded",
            extra={"services": len(outcome.services), "slos": outcome.slo_count},
        )

    async def cycle(self) -> list[Evaluation]:
        """One evaluation of every SLO."""
        self._adopt(*await asyncio.to_thread(self._read))
        assert self._loaded is not None
        self.last_cycle_started = self._clock()
        self._source.failures.clear()
        started = time.perf_counter()
        with self._tracer.start_as_current_span("sloguard evaluation") as span:
            evaluations = await evaluate(
                self._loaded.services,
                self._source,
                self.last_cycle_started,
                tracer=self._tracer,
                traces=self._traces,
            )
            span.set_attributes(
                {
                    "sloguard.slos": len(evaluations),
                    "sloguard.query_failures": len(self._source.failures),
                }
            )
        elapsed = time.perf_counter() - started
        self._metrics.evaluation_seconds.observe(elapsed)
        read_from = self._source_name()
        evaluations = [dataclasses.replace(e, prometheus=read_from) for e in evaluations]
        self.evaluations = evaluations
        failures = self._source.failures
        self.source_error = failures[0].reason if failures else ""
        if not failures:
            self._metrics.last_success.set(self._clock())
        self.cycles += 1
        self.last_cycle_completed = self._clock()
        counts: dict[str, int] = {}
        for e in evaluations:
            counts[e.status.value] = counts.get(e.status.value, 0) + 1
        log.info(
            "evaluated",
            extra={
                "seconds": round(elapsed, 3),
                "statuses": counts,
                "query_failures": len(failures),
            },
        )
        return evaluations

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate every interval until `stop`; a cycle that raises is logged, not fatal."""
        while not stop.is_set():
            started = time.monotonic()
            deadline = CYCLE_DEADLINE_INTERVALS * self._interval
            try:
                evaluations = await asyncio.wait_for(self.cycle(), deadline)
            except TimeoutError:
                log.error(
                    "evaluation cycle cut short: it ran past its deadline",
                    extra={"deadline_seconds": deadline},
                )
            except Exception:
                log.exception("evaluation cycle failed")
            else:
                if self._after_cycle is not None:
                    try:
                        await self._after_cycle(self.services, evaluations)
                    except Exception:
                        log.exception("acting on the evaluation failed")
            delay = max(0.0, self._interval - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    def _files_fingerprint(self) -> Fingerprint:
        """Each definition file's resolved path, mtime and size: a ConfigMap update swaps a
        symlink, which changes the resolved path even when times do not. With the problems
        finding them (a broken link): one appearing or going away is a change too."""
        files, problems = definition_files(self._paths)
        stamps = []
        for file in files:
            try:
                stat = file.stat()
            except OSError:
                continue
            stamps.append((str(file.resolve()), stat.st_mtime_ns, stat.st_size))
        return tuple(stamps), tuple(problems)
