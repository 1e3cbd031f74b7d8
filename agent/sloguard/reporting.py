"""Reports' shell: reads a period's numbers from Prometheus and the agent's logs, builds the
report (`reports/`) and writes it, whole and per service, as JSON, Markdown, HTML and PDF; and,
in the running agent, `PeriodReports`: the current and the previous period's report when asked,
and each period's written once it is over.

Every kind of figure is one range query for all SLOs at once (cut into parts no answer of which
holds more than `MAX_POINTS` values), never one per SLO or per day: the events per 5-minute
slot, the budget at the ends, the alerts (counted per day first, then read raw where there are
any), and the agent's own counters."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from prometheus_client import Counter

from sloguard import promql
from sloguard.burnrate import tiers_for
from sloguard.errors import (
    OutputError,
    QueryRejected,
    SloguardError,
    SourceError,
    SourceUnavailable,
    UnknownTarget,
)
from sloguard.evaluating import HistorySource
from sloguard.files import Commit, Staged, commit_together, stage
from sloguard.gate.readings import Series
from sloguard.reports.build import build, for_service
from sloguard.reports.html import html
from sloguard.reports.markdown import markdown
from sloguard.reports.model import (
    Acted,
    Asked,
    Decided,
    Inputs,
    Key,
    Objective,
    Report,
    Traffic,
)
from sloguard.reports.period import DAY, SLOT, Period, before, containing
from sloguard.spec.durations import format_seconds
from sloguard.spec.model import Calendar, Definitions, ServiceSLOs, Severity
from sloguard.tools import print_pdf

log = logging.getLogger("sloguard.reports")

MAX_POINTS = 200_000  # values in one answer: about 6 MB of JSON, well under the answer cap
MAX_STEPS = 11_000  # Prometheus refuses more points per series in a range query
PARALLEL_PARTS = 2  # parts of one range query asked at once (Prometheus answers each on a core)
MAX_EVENTS = 1e18  # events in one slot past which an answer is garbage (sums stay finite)
MAX_LINE = 64 * 1024  # a longer log line is no record of ours
GATE_DECISIONS = "sloguard_gate_decisions_total"
ACTIONS = "sloguard_actions_total"


def objectives(services: Sequence[ServiceSLOs]) -> list[Objective]:
    """The SLOs of `services` as a report needs them."""
    found = []
    for spec in services:
        for slo in spec.slos:
            tickets = [t.factor for t in tiers_for(slo) if t.severity is Severity.TICKET]
            found.append(
                Objective(
                    service=spec.service,
                    slo=slo.name,
                    objective=float(slo.objective_ratio),
                    window=slo.window,
                    window_seconds=slo.window_seconds,
                    calendar=slo.calendar,
                    ticket_factor=min(tickets, default=1.0),
                    description=slo.description,
                    team=slo.labels.get("team") or spec.labels.get("team", ""),
                )
            )
    return found


@dataclass
class Reader:
    """Reads a period's numbers for every SLO of `services`, noting each query it makes and
    each part it could not read (a figure read from nothing is missing, never zero)."""

    source: HistorySource
    services: Sequence[str]
    period: Period
    until: float
    slos: int

    def __post_init__(self) -> None:
        self.asked: list[Asked] = []
        self.problems: list[str] = []

    async def traffic(self) -> dict[Key, Traffic]:
        """Bad and all events per slot: the recorded 5m rates at every slot's end, times 5m."""
        bad: dict[Key, dict[float, float]] = defaultdict(dict)
        total: dict[Key, dict[float, float]] = defaultdict(dict)
        expr = promql.report_events(self.services)
        steps = min(MAX_STEPS, max(1, MAX_POINTS // max(1, 2 * self.slos)))
        parts = _parts(self.period.start + SLOT, self.until, SLOT, steps)
        self.asked.extend(
            Asked("events per 5-minute slot", expr, first, last, SLOT) for first, last in parts
        )
        slots = asyncio.Semaphore(PARALLEL_PARTS)

        async def part(first: float, last: float) -> Sequence[Series] | SourceError:
            async with slots:
                try:
                    return await self.source.query_range(expr, first, last, SLOT)
                except (SourceUnavailable, QueryRejected) as exc:
                    return exc

        answers = await asyncio.gather(*(part(first, last) for first, last in parts))
        for (first, last), answer in zip(parts, answers, strict=True):
            if isinstance(answer, SourceError):
                self.problems.append(f"events from {_iso(first)} to {_iso(last)}: {answer}")
                continue
            for labels, points in answer:
                key = (labels.get("service", ""), labels.get("slo", ""))
                into = bad if labels.get("events") == "bad" else total
                into[key].update((t, v * SLOT) for t, v in points if 0 <= v * SLOT <= MAX_EVENTS)
        return {k: Traffic(bad=bad.get(k, {}), total=total[k]) for k in total}

    async def window_budget(
        self, found: Sequence[Objective]
    ) -> dict[Key, tuple[float | None, float | None]]:
        """Each SLO window's budget left at the period's start and end: bad over all events of
        the window then (a calendar window: since it began), one query per window length."""
        budgets: dict[Key, list[float | None]] = defaultdict(lambda: [None, None])
        for index, at in enumerate((self.period.start, self.until)):
            spans: dict[int, list[Objective]] = defaultdict(list)
            for o in found:
                spans[_span(o, at, ending=index == 1)].append(o)
            for span, owners in sorted(spans.items()):
                if span <= 0:  # a calendar window just begun: nothing spent yet
                    for o in owners:
                        budgets[o.key][index] = 1.0
                    continue
                events = await self._events(at, format_seconds(span))
                for o in owners:
                    bad, total = events.get((o.key, "bad")), events.get((o.key, "total"))
                    left = (
                        1 - bad / total / (1 - o.objective) if bad is not None and total else None
                    )
                    if left is not None and math.isfinite(left):
                        budgets[o.key][index] = left
        return {k: (v[0], v[1]) for k, v in budgets.items()}

    async def _events(self, at: float, window: str) -> dict[tuple[Key, str], float]:
        expr = promql.report_events(self.services, window)
        self.asked.append(Asked(f"events over {window}", expr, at, at))
        try:
            answer = await self.source.query(expr, at)
        except (SourceUnavailable, QueryRejected) as exc:
            self.problems.append(f"events over {window} to {_iso(at)}: {exc}")
            return {}
        return {
            ((labels.get("service", ""), labels.get("slo", "")), labels.get("events", "")): value
            for labels, value in answer
            if math.isfinite(value) and value >= 0
        }

    async def alerts(self) -> dict[tuple[str, str, str], list[float]]:
        """When each SLO's page and ticket alerts were firing: samples counted per day, then
        the days that have any read raw, in parts of at most MAX_POINTS samples."""
        counting = promql.report_alerts(self.services, "1d", count=True)
        days = [(a, min(b, self.until)) for a, b in self.period.days() if a < self.until]
        counts: dict[float, float] = defaultdict(float)
        for first, last in _parts(_day_end(days[0][1]), _day_end(days[-1][1]), DAY, MAX_STEPS):
            self.asked.append(Asked("alert samples per day", counting, first, last, DAY))
            try:
                answer = await self.source.query_range(counting, first, last, DAY)
            except (SourceUnavailable, QueryRejected) as exc:
                self.problems.append(f"alerts: {exc}")
                return {}
            for _, points in answer:
                for t, v in points:
                    counts[t] += v if math.isfinite(v) else 0
        found: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for first, last in _batches([(a, b, counts.get(_day_end(b), 0.0)) for a, b in days]):
            expr = promql.report_alerts(
                self.services, format_seconds(int(last - first)), count=False
            )
            self.asked.append(Asked("alert samples", expr, first, last))
            try:
                answer = await self.source.samples(expr, last)
            except (SourceUnavailable, QueryRejected) as exc:
                self.problems.append(f"alerts from {_iso(first)} to {_iso(last)}: {exc}")
                continue
            for labels, points in answer:
                key = (
                    labels.get("service", ""),
                    labels.get("slo", ""),
                    labels.get(promql.ALERT_SEVERITY_LABEL, ""),
                )
                found[key].extend(t for t, _ in points if first <= t < self.until)
        return dict(found)

    async def counted(self, metric: str, labels: Sequence[str]) -> dict[tuple[str, ...], float]:
        """How much one of the agent's counters grew over the period, by `labels` (rounded:
        it counts whole decisions and actions)."""
        window = format_seconds(int(self.until - self.period.start))
        expr = promql.report_counted(metric, labels, self.services, window)
        self.asked.append(Asked(f"{metric} over the period", expr, self.period.start, self.until))
        try:
            answer = await self.source.query(expr, self.until)
        except (SourceUnavailable, QueryRejected) as exc:
            self.problems.append(f"{metric}: {exc}")
            return {}
        return {
            tuple(found.get(name, "") for name in labels): float(round(value))
            for found, value in answer
            if math.isfinite(value) and round(value) > 0
        }


async def read(
    source: HistorySource,
    specs: Sequence[ServiceSLOs],
    period: Period,
    now: float,
    gate_log: Path | None = None,
    audit_log: Path | None = None,
) -> Inputs:
    """Everything a report over `period` is made from, read up to `now` (or the period's end);
    the logs are read in a thread, never on the event loop."""
    until = min(period.end, float(int(now // SLOT) * SLOT))
    found = objectives(specs)
    if until <= period.start:  # the period began less than a slot ago: nothing to read yet
        return Inputs(period, until, now, found, {}, {}, {}, {}, {}, [], [])
    services = sorted({o.service for o in found})
    reader = Reader(source, services, period, until, len(found))
    traffic = await reader.traffic()
    window_budget = await reader.window_budget(found)
    alerts = await reader.alerts()
    judged = await reader.counted(GATE_DECISIONS, ("service", "verdict"))
    acted = await reader.counted(ACTIONS, ("service", "action", "mode", "result"))
    return Inputs(
        period=period,
        until=until,
        generated=now,
        objectives=found,
        traffic=traffic,
        window_budget=window_budget,
        alerts=alerts,
        judged={(k[0], k[1]): v for k, v in judged.items()},
        acted={(k[0], k[1], k[2], k[3]): v for k, v in acted.items()},
        decisions=None
        if gate_log is None
        else await asyncio.to_thread(decisions, gate_log, period.start, until),
        actions=None
        if audit_log is None
        else await asyncio.to_thread(actions, audit_log, period.start, until),
        asked=reader.asked,
        problems=reader.problems,
    )


def decisions(path: Path, start: float, end: float) -> list[Decided]:
    """The gate's decisions in [start, end) from its log (`--gate-log`); lines that are not
    decisions are skipped."""
    found = []
    for record in _records(path):
        decision = record.get("decision")
        if not isinstance(decision, dict):
            continue
        at = _moment(decision.get("evaluatedAt"))
        if at is None or not start <= at < end:
            continue
        found.append(
            Decided(
                at=at,
                service=str(decision.get("service", "")),
                canary=str(record.get("canary", "")),
                baseline=None if record.get("baseline") is None else str(record["baseline"]),
                verdict=str(decision.get("verdict", "")),
                reason=str(decision.get("reason", "")),
            )
        )
    return found


def actions(path: Path, start: float, end: float) -> list[Acted]:
    """The actions on workloads in [start, end) from the audit log (the agent's own lines,
    leadership and the kill switch, have no service and are left out)."""
    found = []
    for record in _records(path):
        at = _moment(record.get("time"))
        if at is None or not start <= at < end or not record.get("service"):
            continue
        found.append(
            Acted(
                at=at,
                id=str(record.get("id", "")),
                service=str(record["service"]),
                action=str(record.get("action", "")),
                mode=str(record.get("mode", "")),
                result=str(record.get("result", "")),
                summary=str(record.get("summary", "")),
                trigger=str(record.get("trigger", "")),
            )
        )
    return found


def _records(path: Path) -> Iterator[dict[str, object]]:
    """Each JSON object line of a log, read a line at a time (a log may be large)."""
    try:
        with path.open("rb") as handle:
            for raw in handle:
                if len(raw) > MAX_LINE:
                    continue
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
                    continue
                if isinstance(record, dict):
                    yield record
    except OSError as exc:
        raise SourceUnavailable(f"cannot read {path}: {exc}", "unreadable") from exc


def _moment(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _span(objective: Objective, at: float, *, ending: bool) -> int:
    """Seconds of the SLO's window that have passed at `at` (`ending`: of the calendar window
    ending there, when `at` is on a boundary)."""
    if objective.calendar is None:
        return objective.window_seconds
    return int(at - containing(at - 1 if ending else at, objective.calendar).start)


def _parts(first: float, last: float, step: float, steps: int) -> list[tuple[float, float]]:
    """[first, last] cut into ranges of at most `steps` steps each (both ends on the steps)."""
    parts = []
    while first <= last:
        end = min(last, first + (steps - 1) * step)
        parts.append((first, end))
        first = end + step
    return parts


def _day_end(end: float) -> float:
    """The step of the per-day count that covers a day ending at `end` (a part day's too)."""
    return float(-(-end // DAY) * DAY)


def _batches(days: list[tuple[float, float, float]]) -> list[tuple[float, float]]:
    """Consecutive days with samples joined while they hold at most MAX_POINTS together."""
    batches: list[tuple[float, float]] = []
    held = 0.0
    for start, end, count in days:
        if count <= 0:
            held = MAX_POINTS + 1  # a quiet day ends a batch
            continue
        if batches and held + count <= MAX_POINTS and batches[-1][1] == start:
            batches[-1] = (batches[-1][0], end)
            held += count
        else:
            batches.append((start, end))
            held = count
    return batches


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%MZ")


def documents(report: Report, formats: Sequence[str], stem: str) -> dict[str, str]:
    """The text of every document asked for (PDF is printed from the HTML): the whole report
    as `<stem>.<ext>`, and each service's as `<stem>-<service>.<ext>`."""
    parts = [(stem, report)] + [
        (f"{stem}-{s.service}", for_service(report, s.service)) for s in report.services
    ]
    found = {}
    for name, part in parts:
        if "json" in formats:
            found[f"{name}.json"] = part.model_dump_json(indent=2) + "\n"
        if "markdown" in formats:
            found[f"{name}.md"] = markdown(part)
        if "html" in formats or "pdf" in formats:
            found[f"{name}.html"] = html(part)
    return found


def stem(period: str) -> str:
    """The start of the names of a period's documents."""
    return f"slo-report-{period.replace(':', '')}"


def write(report: Report, out: Path, formats: Sequence[str]) -> list[Path]:
    """Every document into `out`, all or none: PDFs printed first (in a scratch directory
    inside `out`), then the texts staged beside their places and everything renamed into
    place. Other files in `out` are left alone."""
    texts = documents(report, formats, stem(report.period.name))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc}") from exc
    with tempfile.TemporaryDirectory(dir=out, prefix=".printing-") as scratch:
        printed = []
        if "pdf" in formats:
            for name, text in texts.items():
                if name.endswith(".html"):
                    page = Path(scratch) / name
                    page.write_text(text, encoding="utf-8")
                    print_pdf(page, page.with_suffix(".pdf"))
                    printed.append(page.with_suffix(".pdf"))
        if "html" not in formats:
            texts = {k: v for k, v in texts.items() if not k.endswith(".html")}
        # The whole report's JSON goes in place last: while it is missing, the set is not.
        marker = f"{stem(report.period.name)}.json"
        staged = [Staged.moved(out, {pdf.name: pdf for pdf in printed})]
        try:
            staged.append(stage(out, {k: v for k, v in texts.items() if k != marker}))
            staged.append(stage(out, {k: v for k, v in texts.items() if k == marker}))
            return commit_together([Commit(part, prune=False) for part in staged])
        except (OSError, OutputError) as exc:
            for part in staged:
                part.discard()
            if isinstance(exc, OutputError):
                raise
            raise OutputError(f"cannot write the report into {out}: {exc}") from exc


Which = Literal["current", "previous"]
Key3 = tuple[str, int, int]  # a report's period, definitions version and 5-minute slot
Format = Literal["html", "json", "markdown"]
SCHEDULED_FORMATS: tuple[Format, ...] = ("json", "html", "markdown")
READ_SECONDS = 120.0  # a report not read by then is abandoned (503), never served in part
SETTLE_SECONDS = 600.0  # a period is written this long after it ends: its last rules evaluated
RETRY_SECONDS = 300.0  # a report that could not be read whole is tried again this often...
GRACE_SECONDS = float(DAY)  # ...for a day after the first try, then written naming what is missing
IDLE_SECONDS = 3600.0  # the longest the schedule sleeps before looking at the clock again


@dataclass(frozen=True)
class ReportSettings:
    """The running agent's reports: the period they cover, and where each finished one is
    written (None: served when asked, never written)."""

    every: Calendar = Calendar.MONTH
    out: Path | None = None


class PeriodReports:
    """The report of the current and of the previous month (or week), built when asked, one at
    a time, and kept only for the 5-minute slot it was read up to (never served stale: the next
    slot reads again); and with `settings.out`, each period's report written there once the
    period is over (`run`)."""

    def __init__(
        self,
        source: HistorySource,
        definitions: Callable[[], Definitions],
        settings: ReportSettings,
        written: Counter,
        gate_log: Path | None = None,
        audit_log: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._source = source
        self._definitions = definitions
        self._written = written
        self._logs = (gate_log, audit_log)
        self._clock = clock
        self._lock = asyncio.Lock()  # one read of Prometheus at a time
        self._kept: dict[Which, tuple[Key3, Report]] = {}
        self._reading: dict[Which, tuple[Key3, asyncio.Future[Report]]] = {}
        self._tries: dict[str, float] = {}  # when the schedule first tried each period

    def period(self, which: Which, now: float | None = None) -> Period:
        """The period `which` names at `now` (default: the clock's now)."""
        current = containing(self._clock() if now is None else now, self.settings.every)
        return current if which == "current" else before(current)

    def services(self) -> list[str]:
        return [s.service for s in self._definitions().services]

    async def report(self, which: Which) -> Report:
        """The report of `which` period up to now; SourceUnavailable when it cannot be read in
        READ_SECONDS. Callers asking while it is read share that read (one leaving does not
        cancel it); one whose parts could not all be read is read again by the next caller."""
        now = self._clock()
        definitions = self._definitions()
        period = self.period(which, now)
        key = (period.name, definitions.version, int(now // SLOT))
        kept = self._kept.get(which)
        if kept is not None and kept[0] == key:
            return kept[1]
        reading = self._reading.get(which)
        if reading is None or reading[0] != key:
            task = asyncio.ensure_future(self._read(definitions.services, period, now))
            task.add_done_callback(lambda done: self._settle(which, key, done))
            reading = self._reading[which] = (key, task)
        return await asyncio.shield(reading[1])

    def _settle(self, which: Which, key: Key3, done: asyncio.Future[Report]) -> None:
        if self._reading.get(which, (None, None))[1] is done:
            del self._reading[which]
        if not done.cancelled() and done.exception() is None and not done.result().problems:
            self._kept[which] = (key, done.result())

    async def document(self, which: Which, form: Format, service: str = "") -> str:
        """The report of `which` as `form`, whole or one service's (UnknownTarget, before
        anything is read, if the service has no SLOs); rendered in a thread."""
        if service and service not in self.services():
            raise UnknownTarget(f"no service {service!r} has SLOs")
        report = await self.report(which)
        return await asyncio.to_thread(_render, report, form, service)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: writes each period's report to `settings.out` SETTLE_SECONDS after
        the period ends (at start, the last finished period's when it is not there yet)."""
        if self.settings.out is None:
            return
        while not stop.is_set():
            try:
                wait = await self._write_due()
            except Exception:  # whatever went wrong, the schedule goes on
                self._written.labels("failed").inc()
                log.exception("report not written: unexpected error; trying again")
                wait = RETRY_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def _write_due(self) -> float:
        """Writes the last finished period's report if it is not written yet; the seconds to
        wait before looking again."""
        out = self.settings.out
        assert out is not None
        now = self._clock()
        period = before(containing(now - SETTLE_SECONDS, self.settings.every))
        following = containing(now - SETTLE_SECONDS, self.settings.every)
        next_due = min(IDLE_SECONDS, max(1.0, following.end + SETTLE_SECONDS - now))
        if (out / f"{stem(period.name)}.json").exists():  # written last: the set is whole
            return next_due
        first_try = self._tries.setdefault(period.name, now)
        try:
            out.mkdir(parents=True, exist_ok=True)  # before reading: a file there fails fast
            report = await self._read(self._definitions().services, period, now)
            if report.problems and now < first_try + GRACE_SECONDS:
                self._written.labels("incomplete").inc()
                log.warning(
                    "report not written yet: part could not be read; trying again",
                    extra={"period": period.name, "problems": report.problems[:5]},
                )
                return RETRY_SECONDS
            written = await asyncio.to_thread(write, report, out, SCHEDULED_FORMATS)
        except (SloguardError, OSError) as exc:
            self._written.labels("failed").inc()
            log.error("report not written", extra={"period": period.name, "error": str(exc)})
            return RETRY_SECONDS
        self._written.labels("written").inc()
        log.info(
            "report written",
            extra={"period": period.name, "files": len(written), "problems": report.problems},
        )
        return next_due

    async def _read(self, specs: Sequence[ServiceSLOs], period: Period, now: float) -> Report:
        gate_log, audit_log = self._logs
        try:
            async with self._lock, asyncio.timeout(READ_SECONDS):
                inputs = await read(self._source, specs, period, now, gate_log, audit_log)
        except TimeoutError as exc:
            raise SourceUnavailable(
                f"the report for {period.name} took over {READ_SECONDS:g}s to read", "timeout"
            ) from exc
        return await asyncio.to_thread(build, inputs)


def _render(report: Report, form: Format, service: str) -> str:
    part = for_service(report, service) if service else report
    if form == "json":
        return part.model_dump_json(indent=2)
    return markdown(part) if form == "markdown" else html(part)
