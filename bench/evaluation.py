"""One evaluation cycle of many SLOs against a real Prometheus, and the agent's idle memory.

Run: .venv/bin/python -m bench.evaluation [--slos 1000] [--repeat 5] [--rolling] [--rules-only] [--backfilled]

The same 1,000 SLOs as bench/generation.py (100 services; events, latency and grouped gRPC
SLIs, a third of them calendar-month). A prometheus-client exporter serves their raw series
(honor_labels keeps each service's `job`), Debian's Prometheus evaluates the generated rules
(every group each 30s until every budget exists, then at their generated 30s/2m/10m, as they
would run), and then:
- rules path: `evaluate()` in-process, counting queries and timing the cycle;
- raw path: the same with the rules queries answered empty, so every SLO is computed from
  its own SLI queries against the same Prometheus;
- idle memory: `sloguard run` on the same SLOs, RSS after a few cycles.

A Prometheus started for the benchmark has no hourly average inside the month yet, so the
calendar SLOs take the raw path (one SLI query each). `--rolling` makes them rolling 30d SLOs,
so that every SLO takes the rules path; `--rules-only` leaves the raw path out.

`--backfilled` measures the rules path where two cores cannot warm up the rules of 10,000
SLOs: every series the rules path reads is written straight into the TSDB with promtool, with
the names, labels (a per-label SLO's groups included) and intervals of the generated rules and
as much history as the queries read, then served by a Prometheus that runs no rules. The
agent, built as `sloguard run` builds it, evaluates at the newest sample: its cycles are
timed, its queries counted and its RSS read; then each query is timed alone.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from tests.support.fakes import raw_windows
from tests.support.realprom import free_port, running_prometheus
from tests.support.recorded import write_recorded

from bench.backfill import backfill
from bench.generation import SLOS_PER_SERVICE, write_definitions
from bench.process import rss_mb
from sloguard.assembly import Settings, assemble
from sloguard.demo.prometheus import write_rules
from sloguard.evaluating import evaluate
from sloguard.evaluation.readings import Sample, rules_queries
from sloguard.loading import load
from sloguard.promql import BUDGET_REMAINING
from sloguard.sources.prometheus import Prometheus, PrometheusSettings, Raw, client
from sloguard.spec.model import ServiceSLOs

HERE = Path(__file__).resolve().parent


def serve_traffic(slos: int, port: int) -> None:
    """An exporter with every bench SLO's raw series, counting up once a second (run in its own
    process, so its ticking does not compete with the evaluation being measured)."""
    stop = threading.Event()
    registry = CollectorRegistry()
    http = Counter("http_requests", "", ["job", "route", "code"], registry=registry)
    latency = Histogram(
        "http_request_duration_seconds",
        "",
        ["job", "route"],
        buckets=(0.1, 0.3, 1),
        registry=registry,
    )
    grpc = Counter("grpc_server_handled", "", ["job", "grpc_code", "method"], registry=registry)
    rnd = random.Random(1)

    def tick() -> None:
        while not stop.wait(1):
            for i in range(slos):
                job = f"service-{i // SLOS_PER_SERVICE:04d}"
                kind = i % 3
                if kind == 0:
                    http.labels(job, f"/r{i}", "200").inc(99)
                    http.labels(job, f"/r{i}", "500").inc(rnd.choice([0, 1]))
                elif kind == 1:
                    latency.labels(job, f"/r{i}").observe(rnd.uniform(0.05, 0.4))
                else:
                    for method in ("Get", "List"):
                        grpc.labels(job, "OK", method).inc(50)
                        grpc.labels(job, "Unavailable", method).inc(rnd.choice([0, 0, 1]))

    start_http_server(port, addr="127.0.0.1", registry=registry)
    tick()


class Counting:
    """A source counting every query it passes on; without `rules`, the rules path's queries
    are answered empty (so every SLO takes the raw path)."""

    def __init__(self, source: Prometheus, rules: bool) -> None:
        self.source, self.rules, self.queries = source, rules, 0

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        self.queries += 1
        raw_only = not self.rules and not raw_windows(expr)
        return [] if raw_only else await self.source.query(expr, at)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> Raw:
        self.queries += 1
        return await self.source.query_range(expr, start, end, step)

    async def samples(self, expr: str, at: float) -> Raw:
        self.queries += 1
        return await self.source.samples(expr, at)


async def cycle(
    url: str, services: list[ServiceSLOs], rules: bool, at: float | None = None
) -> tuple[float, int, dict[str, int]]:
    settings = PrometheusSettings(url=url, timeout_seconds=60)
    async with client(settings) as http:
        counting = Counting(Prometheus(http, settings), rules)
        started = time.perf_counter()
        evaluations = await evaluate(services, counting, time.time() if at is None else at)
        elapsed = time.perf_counter() - started
    paths: dict[str, int] = {}
    for e in evaluations:
        paths[f"{e.origin.value}/{e.status.value}"] = (
            paths.get(f"{e.origin.value}/{e.status.value}", 0) + 1
        )
    return elapsed, counting.queries, paths


async def breakdown(url: str, services: list[ServiceSLOs], at: float | None = None) -> str:
    """Each rules-path query alone (Prometheus and transfer), then the judging of every SLO
    from answers already in memory (sloguard's own share of a cycle)."""
    settings = PrometheusSettings(url=url, timeout_seconds=60)
    shards = rules_queries(services)
    answers: dict[str, Sequence[Sample]] = {}
    parts = [f"{len(shards)} shard(s)"]
    async with client(settings) as http:
        source = Prometheus(http, settings)
        at = time.time() if at is None else at
        for name in ("burn_rates", "budgets", "events", "window_events"):
            started, series = time.perf_counter(), 0
            for shard in shards:
                expr = getattr(shard, name)
                answers[expr] = await source.query(expr, at)
                series += len(answers[expr])
            parts.append(f"{name} {time.perf_counter() - started:.3f}s ({series} series)")

    class Cached:
        async def query(self, expr: str, _: float) -> Sequence[Sample]:
            return answers.get(expr, [])

    started = time.perf_counter()
    await evaluate(services, Cached(), at)
    parts.append(f"judging every SLO {time.perf_counter() - started:.3f}s")
    return ", ".join(parts)


def write_and_backfill(definitions: Path, directory: Path, end: int) -> None:
    """`write_recorded` and promtool (run in a process of its own: rendering 10,000 SLOs'
    rules must not weigh on the agent measured next)."""
    started = time.perf_counter()
    groups = {"method": ("Get", "List")}  # as `serve_traffic` counts the per-label SLOs
    samples = write_recorded(load([definitions]), directory / "recorded.om", end, groups)
    written = time.perf_counter() - started
    backfill(directory / "recorded.om", directory / "tsdb", block_hours=24)
    (directory / "recorded.om").unlink()
    print(
        f"{samples:,} recorded samples written in {written:.0f}s, "
        f"backfilled in {time.perf_counter() - started - written:.0f}s",
        flush=True,
    )


async def agent_cycles(
    url: str, definitions: Path, at: float, repeat: int
) -> tuple[list[float], int, dict[str, int], float]:
    """The agent as `sloguard run` builds it, its queries counted: each cycle's time after the
    first (which loads the definitions), queries per cycle, paths and statuses, and its RSS."""
    settings = PrometheusSettings(url=url, timeout_seconds=60)
    async with client(settings) as http:
        counting = Counting(Prometheus(http, settings), rules=True)
        assembly = assemble(
            Settings(paths=(definitions,), prometheus=settings), source=counting, clock=lambda: at
        )
        try:
            await assembly.agent.cycle()
            times = []
            for _ in range(repeat):
                asked, started = counting.queries, time.perf_counter()
                await assembly.agent.cycle()
                times.append(time.perf_counter() - started)
            paths: dict[str, int] = {}
            for e in assembly.agent.evaluations:
                key = f"{e.origin.value}/{e.status.value}"
                paths[key] = paths.get(key, 0) + 1
            return times, counting.queries - asked, paths, rss_mb(os.getpid())
        finally:
            await assembly.aclose()


def backfilled(args: argparse.Namespace) -> None:
    """The rules path over recorded series written into the TSDB (see the module's docs)."""
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        definitions = directory / "defs"
        definitions.mkdir()
        write_definitions(definitions, args.slos, calendar=not args.rolling)
        end = int(time.time()) - 60
        print(f"{args.slos} SLOs:", end=" ", flush=True)
        writer = multiprocessing.Process(
            target=write_and_backfill, args=(definitions, directory, end)
        )
        writer.start()
        writer.join()
        if writer.exitcode != 0:
            sys.exit(f"writing the recorded series failed (exit {writer.exitcode})")
        with running_prometheus(directory, {}, [], ready_seconds=300) as prom:
            times, queries, paths, rss = asyncio.run(
                agent_cycles(prom.url, definitions, end, args.repeat)
            )
            print(
                f"the agent's cycle on the rules path: {queries} queries, "
                f"median {statistics.median(times):.3f}s, best {min(times):.3f}s over "
                f"{args.repeat} cycles; paths/statuses {paths}; agent RSS {rss:.0f} MB",
                flush=True,
            )
            services = load([definitions]).services
            print(
                f"the same one query at a time: {asyncio.run(breakdown(prom.url, services, end))}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--rolling", action="store_true", help="calendar-month SLOs over a rolling 30d instead"
    )
    parser.add_argument("--rules-only", action="store_true", help="leave out the raw path")
    parser.add_argument(
        "--backfilled",
        action="store_true",
        help="the recorded series written into the TSDB instead of evaluated by rules",
    )
    args = parser.parse_args()
    if args.backfilled:
        backfilled(args)
        return
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        definitions = directory / "defs"
        definitions.mkdir()
        write_definitions(definitions, args.slos, calendar=not args.rolling)
        loaded = load([definitions])
        rule_files = write_rules(directory, loaded, "30s")
        exporter = free_port()
        traffic = multiprocessing.Process(
            target=serve_traffic, args=(args.slos, exporter), daemon=True
        )
        traffic.start()
        with running_prometheus(
            directory,
            {"bench": f"127.0.0.1:{exporter}"},
            rule_files,
            ("--web.enable-lifecycle",),
            honor_labels=True,
            ready_seconds=300,  # loading 10,000 SLOs' rules takes 45 s
        ) as prom:
            print(f"{args.slos} SLOs; waiting for every budget to be recorded...", flush=True)
            deadline = time.monotonic() + 300
            while (budgets := len(prom.query(BUDGET_REMAINING))) < args.slos:
                if time.monotonic() > deadline:
                    print(f"  only {budgets} budgets recorded by the deadline", flush=True)
                    break
                time.sleep(5)
            time.sleep(35)  # a full round of every group over the data
            # Back to the generated intervals (30s, 2m, 10m): what Prometheus really spends.
            write_rules(directory, loaded)
            # A reload waits for the groups' running evaluations: minutes at 10,000 SLOs.
            httpx.post(f"{prom.url}/-/reload", timeout=600).raise_for_status()
            time.sleep(5)
            print(
                f"rules path, one query at a time: {asyncio.run(breakdown(prom.url, loaded.services))}",
                flush=True,
            )
            for rules in (True,) if args.rules_only else (True, False):
                repeat = args.repeat if rules else 1  # the raw path is the slow fallback
                runs = [asyncio.run(cycle(prom.url, loaded.services, rules)) for _ in range(repeat)]
                times = [r[0] for r in runs]
                print(
                    f"{'rules' if rules else 'raw'} path: {runs[-1][1]} queries per cycle, "
                    f"median {statistics.median(times):.3f}s, best {min(times):.3f}s over {repeat} cycle(s); "
                    f"paths/statuses {runs[-1][2]}",
                    flush=True,
                )
            agent_port = free_port()
            sloguard = Path(sys.executable).with_name("sloguard")
            agent = subprocess.Popen(
                [
                    str(sloguard),
                    "run",
                    str(definitions),
                    "--prometheus",
                    prom.url,
                    "--interval",
                    "5",
                    "--listen",
                    f"127.0.0.1:{agent_port}",
                    "--query-timeout",
                    "60",
                    "--log-level",
                    "warning",
                ]
            )
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        if httpx.get(f"http://127.0.0.1:{agent_port}/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(1)
                samples = []
                for _ in range(6):  # half a minute: several cycles, then idle between them
                    time.sleep(5)
                    samples.append(rss_mb(agent.pid))
                print(
                    f"agent RSS with {args.slos} SLOs after {len(samples) * 5}s: max {max(samples):.0f} MB, last {samples[-1]:.0f} MB"
                )
            finally:
                agent.terminate()
                agent.wait(20)
        traffic.terminate()
        traffic.join()


if __name__ == "__main__":
    main()
