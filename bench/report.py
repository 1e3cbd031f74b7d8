"""A month's SLO report for 100 SLOs against a real Prometheus.

Run: .venv/bin/python -m bench.report [--slos 100] [--services 20] [--step 60] [--runs 3]

Prometheus (Debian's) holds what the generated rules would have recorded for the last whole
calendar month and the SLO window before it: each SLO's 5m error and total rates every
`--step` seconds (daily traffic shape, two incidents a month), its page and ticket `ALERTS`
while they fired, and the agent's gate and action counters; with a gate log and an audit log
of a month of rollouts and actions. All of it is backfilled with promtool. Then `sloguard
report --format json --format html --format markdown` runs end to end, `--runs` times (the
first on a cold Prometheus), and once in-process to split the time into reading, building
and writing. Printed: the queries made (one range query per kind of figure, not one per SLO
or day), the seconds, and the command's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from bench.backfill import backfill
from sloguard.demo.prometheus import local_prometheus
from sloguard.loading import load
from sloguard.reporting import documents, read
from sloguard.reports.build import build
from sloguard.reports.period import DAY, Period, before, containing
from sloguard.sources.prometheus import Prometheus, PrometheusSettings, client
from sloguard.spec.model import Calendar

WINDOW_DAYS = 7
INCIDENT_MINUTES = 45
ROLLOUTS_PER_SERVICE = 12


def definitions(directory: Path, services: int, slos: int) -> None:
    """`slos` SLOs spread over `services` services, a file per service."""
    for s in range(services):
        names = [f"slo-{i:03d}" for i in range(slos) if i % services == s]
        body = "".join(
            textwrap.dedent(f"""\
              - name: {name}
                objective: 99.9
                window: {WINDOW_DAYS}d
                sli:
                  events:
                    errors: sum(rate(requests_total{{slo="{name}",code="500"}}[{{{{window}}}}]))
                    total: sum(rate(requests_total{{slo="{name}"}}[{{{{window}}}}]))
            """)
            for name in names
        )
        text = f"service: svc-{s:02d}\nlabels: {{team: t{s % 4}}}\nslos:\n"
        (directory / f"svc-{s:02d}.yaml").write_text(text + textwrap.indent(body, "  "))


def history(
    path: Path, ids: list[tuple[str, str]], period: Period, step: int, seed: int
) -> tuple[int, list[tuple[str, str, float]]]:
    """The recorded series as OpenMetrics; the samples written and the incidents' starts."""
    rng = random.Random(seed)
    first = int(period.start) - WINDOW_DAYS * DAY - 3600
    last = int(period.end) + 3600
    times = range(first // step * step, last + 1, step)
    incidents = [
        (service, slo, period.start + rng.uniform(0.05, 0.95) * period.seconds)
        for service, slo in ids
        for _ in range(2)
    ]
    written = 0
    with path.open("w") as out:
        for family in ("slo:sli_total:rate5m", "slo:sli_errors:rate5m"):
            out.write(f"# TYPE {family} gauge\n")
            for service, slo in ids:
                base = rng.uniform(5, 100)
                mine = [t for s, o, t in incidents if (s, o) == (service, slo)]
                labels = f'{{service="{service}",slo="{slo}"}}'
                lines = []
                for t in times:
                    rate = base * (1.3 + 0.7 * math.sin(2 * math.pi * (t % DAY) / DAY))
                    if family == "slo:sli_errors:rate5m":
                        burning = any(0 <= t - a < INCIDENT_MINUTES * 60 for a in mine)
                        rate *= 0.02 if burning else 0.0004
                    lines.append(f"{family}{labels} {rate:.6g} {t}\n")
                out.writelines(lines)
                written += len(lines)
        out.write("# TYPE ALERTS gauge\n")
        firing: dict[tuple[str, str, str], set[int]] = defaultdict(set)
        for service, slo, at in incidents:
            for severity, late in (("page", 300), ("ticket", 1800)):
                start, end = int(at) + late, int(at) + INCIDENT_MINUTES * 60 + 600
                # Every rule evaluation; two incidents of an SLO may overlap: one series.
                firing[(service, slo, severity)].update(range(start // 30 * 30, end, 30))
        for (service, slo, severity), moments in sorted(firing.items()):
            labels = (
                f'{{alertname="SLOBurn",alertstate="firing",service="{service}",'
                f'slo="{slo}",sloguard_severity="{severity}"}}'
            )
            out.writelines(f"ALERTS{labels} 1 {t}\n" for t in sorted(moments))
            written += len(moments)
        for family, kind in (
            ("sloguard_gate_decisions", "verdict"),
            ("sloguard_actions", "action"),
        ):
            out.write(f"# TYPE {family} counter\n")
            for service in sorted({s for s, _ in ids}):
                for value in ("pass", "fail") if kind == "verdict" else ("undo",):
                    labels = f'{{service="{service}",{kind}="{value}"}}'
                    if kind == "action":
                        labels = labels[:-1] + ',mode="enforce",result="done"}'
                    for t in range(int(period.start) - 3600, last + 1, 60):
                        count = ROLLOUTS_PER_SERVICE * max(0.0, t - period.start) // period.seconds
                        out.write(f"{family}_total{labels} {count} {t}\n")
                        written += 1
        out.write("# EOF\n")
    return written, incidents


def logs(directory: Path, ids: list[tuple[str, str]], period: Period) -> tuple[Path, Path]:
    """A month of the gate's decisions and the actions' audit lines."""
    gate, audit = directory / "gate.log", directory / "audit.log"
    services = sorted({s for s, _ in ids})
    with gate.open("w") as g, audit.open("w") as a:
        for s, service in enumerate(services):
            for n in range(ROLLOUTS_PER_SERVICE):
                at = period.start + (n + 0.5) * period.seconds / ROLLOUTS_PER_SERVICE + s * 60
                verdict = "fail" if n % 6 == 5 else "pass"
                decision = {
                    "service": service,
                    "verdict": verdict,
                    "reason": f"{verdict} by the bench",
                    "evaluatedAt": _iso(at),
                }
                record = {"decision": decision, "canary": f"{service}-v{n}", "baseline": None}
                g.write(json.dumps(record) + "\n")
                if verdict == "fail":
                    line = {
                        "id": f"{service}-{n}",
                        "time": _iso(at + 120),
                        "service": service,
                        "action": "undo",
                        "mode": "enforce",
                        "result": "done",
                        "summary": "rolled back",
                        "trigger": "burn",
                    }
                    a.write(json.dumps(line) + "\n")
    return gate, audit


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def command(defs: Path, url: str, period: Period, out: Path, gate: Path, audit: Path) -> list[str]:
    return [
        str(Path(sys.executable).parent / "sloguard"), "report", str(defs), "--prometheus", url,
        "--period", period.name, "--out", str(out), "--format", "json", "--format", "html",
        "--format", "markdown", "--gate-log", str(gate), "--audit-log", str(audit),
    ]  # fmt: skip


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command run to completion."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise RuntimeError(process.stderr.read().decode()[-2000:])
    return seconds, usage.ru_maxrss / 1024


def in_process(defs: Path, url: str, period: Period, gate: Path, audit: Path) -> Iterator[str]:
    """The same report read, built and rendered in this process, each part timed."""
    loaded = load([defs])
    settings = PrometheusSettings(url)

    async def reading() -> object:
        async with client(settings) as http:
            source = Prometheus(http, settings)
            return await read(source, loaded.services, period, time.time(), gate, audit)

    started = time.perf_counter()
    inputs = asyncio.run(reading())
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    report = build(inputs)  # type: ignore[arg-type]
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    texts = documents(report, ("json", "html", "markdown"), "bench")
    render_s = time.perf_counter() - started
    incidents = sum(len(f.incidents) for s in report.services for f in s.slos)
    kinds = sorted({q.purpose for q in report.queries})
    yield f"requests to Prometheus: {len(report.queries)} for {len(kinds)} kinds: {', '.join(kinds)}"
    yield f"problems: {len(report.problems)}"
    yield (
        f"in-process: read {read_s:.2f} s, build {build_s:.2f} s, render "
        f"{len(texts)} documents {render_s:.2f} s ({incidents} incidents found)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--step", type=int, default=60, help="seconds between recorded samples")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    period = before(containing(time.time(), Calendar.MONTH))
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-report-") as scratch:
        work = Path(scratch)
        defs = work / "defs"
        defs.mkdir()
        definitions(defs, args.services, args.slos)
        loaded = load([defs])
        ids = [(s.service, slo.name) for s in loaded.services for slo in s.slos]
        started = time.perf_counter()
        samples, _ = history(work / "history.om", ids, period, args.step, seed=1)
        written_s = time.perf_counter() - started
        started = time.perf_counter()
        backfill(work / "history.om", work / "tsdb")
        backfill_s = time.perf_counter() - started
        (work / "history.om").unlink()
        gate, audit = logs(work, ids, period)
        print(
            f"report of {period.name}: {len(ids)} SLOs in {len(loaded.services)} services, "
            f"{WINDOW_DAYS}d windows; history {samples:,} samples every {args.step}s "
            f"(written {written_s:.0f} s, backfilled {backfill_s:.0f} s)"
        )
        retention = ("--storage.tsdb.retention.time=400d",)
        with local_prometheus(work, {}, [], env=os.environ, extra_args=retention) as url:
            runs = []
            for n in range(args.runs):
                seconds, rss = timed(command(defs, url, period, work / f"out{n}", gate, audit))
                runs.append(seconds)
                print(f"run {n + 1}{' (cold)' if n == 0 else ''}: {seconds:.2f} s, {rss:.0f} MB")
            print(
                f"sloguard report end to end: median {statistics.median(runs):.2f} s "
                f"(goal < 10 s) over {args.runs} runs"
            )
            for line in in_process(defs, url, period, gate, audit):
                print(line)


if __name__ == "__main__":
    main()
