"""The gate-quality benchmark served from a real Prometheus: the same simulated canaries as
`bench.gate_quality`, written as request counters scraped every 15 s and backfilled with
promtool, and every judge asking it with its own query at each minute, as an analysis run
would: sloguard's gate through `POST /v1/analysis` (the agent in-process, its clock set to the
minute), the threshold templates as instant queries (Argo's example with its `irate`), and
Mann-Whitney over per-minute ratios from a range query. Next to each figure, the same judge
in-process on the exact counts: the difference is what the queries do to the evidence (rate
extrapolation over the 4 samples of a minute, `irate`'s last two samples).

Run: .venv/bin/python -m bench.gate_served [--seeds 20] [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.backfill import backfill
from bench.gate_quality import (
    HISTORY,
    JUDGES,
    OBJECTIVE,
    STEP,
    Analysis,
    Cell,
    Tally,
    run,
    traffic,
)
from sloguard.assembly import Settings, assemble
from sloguard.demo.prometheus import local_prometheus
from sloguard.gate.comparison import compare
from sloguard.gate.model import Interval, Verdict
from sloguard.sources.prometheus import PrometheusSettings

SCRAPE = 15  # seconds between samples: four a minute
METRIC = "http_requests_total"
DEFINITION = f"""\
service: bench
slos:
  - name: availability
    objective: {OBJECTIVE}
    sli:
      events:
        errors: sum(rate({METRIC}{{code=~"5.."}}[{{{{window}}}}]))
        total: sum(rate({METRIC}[{{{{window}}}}]))
    # Every canary is one service here: their errors together would spend its budget.
    gate: {{freeze_when_exhausted: false}}
"""
CELLS = [Cell(0.001, factor, rps) for rps in (10.0, 100.0) for factor in (1.0, 2.0, 5.0, 20.0)]
SERVED = ("sloguard", "flagger", "argo", "slo-threshold", "kayenta")


@dataclass(frozen=True)
class Canary:
    """One simulated canary: its namespace label, cell, seed and exact intervals."""

    namespace: str
    cell: Cell
    seed: int
    canary: list[Interval]
    baseline: list[Interval]


def canaries(seeds: int, minutes: int) -> list[Canary]:
    found = []
    for n, (cell, seed) in enumerate(itertools.product(CELLS, range(seeds))):
        canary, baseline = traffic(cell, minutes, np.random.default_rng(seed))
        found.append(Canary(f"run{n}", cell, seed, canary, baseline))
    return found


def counters(found: Sequence[Canary], start: int) -> Iterator[str]:
    """OpenMetrics lines: each version's successes and errors as counters sampled every
    `SCRAPE` seconds, a few seconds off the minute, each minute's counts spread over its four
    scrapes at random."""
    rng = np.random.default_rng(0)
    yield f"# TYPE {METRIC.removesuffix('_total')} counter\n"
    for run_of in found:
        for version, intervals, first in (
            ("canary", run_of.canary, start),
            ("stable", run_of.baseline, start - HISTORY * 60),
        ):
            # A target's scrapes are offset from the minute, as Prometheus spreads them.
            offset = int(rng.integers(1, SCRAPE))
            for code, kind in (("500", "errors"), ("200", "ok")):
                labels = f'{{code="{code}",namespace="{run_of.namespace}",version="{version}"}}'
                value, at = 0, first + offset
                yield f"{METRIC}{labels} 0 {at}\n"
                for interval in intervals:
                    errors = round(interval.errors * STEP)
                    count = errors if kind == "errors" else round(interval.total * STEP) - errors
                    for part in rng.multinomial(count, [0.25] * 4):
                        value, at = value + int(part), at + SCRAPE
                        yield f"{METRIC}{labels} {value} {at}\n"
    yield "# EOF\n"


def ratio(namespace: str, version: str, window: str, function: str = "rate") -> str:
    chosen = f'namespace="{namespace}",version="{version}"'
    good = f'sum({function}({METRIC}{{{chosen},code!~"5.."}}[{window}]))'
    return f"{good} / sum({function}({METRIC}{{{chosen}}}[{window}]))"


class Judges:
    """Every judge's answer at one moment for one canary, from Prometheus and the agent."""

    def __init__(self, prometheus: httpx.AsyncClient, agent: httpx.AsyncClient, now: list[float]):
        self.prometheus, self.agent, self.now = prometheus, agent, now

    async def answer(self, name: str, run_of: Canary, start: int) -> Verdict:
        ns = run_of.namespace
        if name == "sloguard":
            body = {
                "service": "bench",
                "canary": {"namespace": ns, "version": "canary"},
                "baseline": {"namespace": ns, "version": "stable"},
            }
            answered = await self.agent.post("/v1/analysis", json=body)
            return Verdict(answered.json()["verdict"])
        if name == "kayenta":
            return await self._kayenta(ns, start)
        query, least = {
            "flagger": (ratio(ns, "canary", "1m"), 0.99),
            "argo": (ratio(ns, "canary", "5m", "irate"), 0.95),
            "slo-threshold": (ratio(ns, "canary", "5m"), 1 - (1 - OBJECTIVE / 100)),
        }[name]
        found = await self._query(query)
        if not found:
            return Verdict.INCONCLUSIVE  # no data: neither template can say
        return Verdict.PASS if float(found[0]["value"][1]) >= least else Verdict.FAIL

    async def _query(self, query: str) -> list[dict[str, Any]]:
        answer = await self.prometheus.get(
            "/api/v1/query", params={"query": query, "time": self.now[0]}
        )
        answer.raise_for_status()
        return list(answer.json()["data"]["result"])

    async def _kayenta(self, namespace: str, start: int) -> Verdict:
        """Mann-Whitney over the per-minute error ratios since the canary started."""
        series = []
        for version in ("canary", "stable"):
            params: dict[str, str | float] = {
                "query": f"1 - ({ratio(namespace, version, '1m')})",
                "start": start + STEP,
                "end": self.now[0],
                "step": STEP,
            }
            answer = await self.prometheus.get("/api/v1/query_range", params=params)
            answer.raise_for_status()
            result = answer.json()["data"]["result"]
            series.append([float(v) for _, v in result[0]["values"]] if result else [])
        canary, stable = series
        if len(canary) < 3 or len(stable) < 3:
            return Verdict.INCONCLUSIVE
        return Verdict.FAIL if compare(canary, stable).higher else Verdict.PASS


async def judge_all(
    found: Sequence[Canary], start: int, minutes: int, prometheus_url: str, defs: Path
) -> dict[tuple[Cell, str], Tally]:
    now = [float(start)]
    settings = Settings(paths=(defs,), prometheus=PrometheusSettings(url=prometheus_url))
    assembly = assemble(settings, clock=lambda: now[0])
    assembly.agent.reload()
    tallies: dict[tuple[Cell, str], Tally] = {}
    try:
        transport = httpx.ASGITransport(app=assembly.app())
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://agent") as agent,
            httpx.AsyncClient(base_url=prometheus_url, timeout=30) as prometheus,
        ):
            judges = Judges(prometheus, agent, now)
            for run_of in found:
                runs = {n: Analysis(JUDGES[n].every, JUDGES[n].failures) for n in SERVED}
                for minute in range(1, minutes + 1):
                    now[0] = float(start + minute * STEP)
                    for name, analysis in runs.items():
                        if analysis.asks(minute):
                            verdict = await judges.answer(name, run_of, start)
                            analysis.answer(minute, verdict)
                for name, analysis in runs.items():
                    tally = tallies.setdefault((run_of.cell, name), Tally())
                    tally.add_run(analysis, run_of.canary)
    finally:
        await assembly.aclose()
    return tallies


def served(
    found: Sequence[Canary], start: int, minutes: int, work: Path
) -> dict[tuple[Cell, str], Tally]:
    """Every canary written, backfilled and judged from a Prometheus in `work`."""
    with (work / "counters.om").open("w") as out:
        out.writelines(counters(found, start))
    backfill(work / "counters.om", work / "tsdb", block_hours=2)
    (work / "definitions.yaml").write_text(DEFINITION)
    retention = ("--storage.tsdb.retention.time=400d",)
    with local_prometheus(work, {}, [], env=os.environ, extra_args=retention) as url:
        return asyncio.run(judge_all(found, start, minutes, url, work / "definitions.yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="canaries per cell")
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    found = canaries(args.seeds, args.minutes)
    # The last minute asked is a minute ago: Prometheus holds it whole.
    start = int(time.time()) // 60 * 60 - (args.minutes + 1) * 60
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-served-") as scratch:
        tallies = served(found, start, args.minutes, Path(scratch))
    print(
        f"{len(found)} canaries ({len(CELLS)} cells x {args.seeds} seeds, poisson noise) "
        f"backfilled and judged in {time.perf_counter() - started:.0f} s. Per judge: fail% "
        "served from Prometheus (in-process on the exact counts), mean minutes to fail"
    )
    header = f"{'stable':>7} {'rps':>5} {'change':>6}  "
    print(header + "  ".join(f"{n:>24}" for n in SERVED))
    for cell in CELLS:
        exact = run(cell, {n: JUDGES[n] for n in SERVED}, args.minutes, args.seeds)
        shown = []
        for name in SERVED:
            tally = tallies[(cell, name)]
            when = f"{tally.minutes:4.1f}m" if tally.failed else "    -"
            shown.append(f"{tally.fail_share:4.0%} ({exact[name].fail_share:4.0%}) {when}")
        row = f"{cell.stable_ratio:7.2%} {cell.canary_rps:5g} {cell.factor:5g}x  "
        print(row + "  ".join(f"{c:>24}" for c in shown))


if __name__ == "__main__":
    main()
