"""The promotion gate under load: 50 concurrent callers against `sloguard run` and a real
Prometheus, and a soak at 20 requests/s watching errors and memory.

Run: .venv/bin/python -m bench.gate [--callers 50] [--seconds 20] [--period 1] [--soak 600]
                                    [--no-rules] [--agents 1]

Prometheus (Debian's) holds two hours of `shop` traffic, stable and canaries for the last hour
(backfilled, tests/support/canaries.py), and evaluates the generated rules, so the error-budget
policy reads recorded series (the rules path); with --no-rules it has no rules and every
figure comes from raw queries alone. `sloguard run` serves the gate; the callers POST
/v1/analysis over real HTTP with a 1h analysis window. A decision reads the SLI's raw range
queries over the hour for canary and baseline, plus the service's budget:
- shared: every caller polls the same rollout, as Argo's analysis runs of one rollout do;
  concurrent identical requests share one reading, repeats within 5s get the cached decision;
- own: every caller polls a rollout of its own, back to back (50 analysis runs of 50
  rollouts): a fresh decision per rollout every 5s, cached answers in between;
- distinct: every request is about a rollout nobody asked about before (a matcher no series
  carries makes each request, and its queries, unique), so every answer is a fresh decision;
  back to back, this measures the most fresh decisions the machine can make;
- paced: the same fresh decisions, each caller asking once every --period seconds (50
  callers every second: 50 decisions/s, each read from Prometheus), the latency of fresh
  decisions under a load the machine can carry;
- soak: 20 requests/s for --soak seconds (half shared, half distinct), counting non-200
  answers and sampling the agent's RSS.
With --agents N, N agents (as N replicas of the standalone Deployment) serve the callers, each
caller keeping to one of them in turn.
Figures: latency percentiles per scenario, errors, the agents' CPU per answer, how busy the
machine's cores were and their CPU per answer (every process: agents, Prometheus, callers; an
agent is one process on one core, Prometheus and the callers share the rest), the first
agent's RSS over the soak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.support.canaries import DEFINITION, STABLE, canary_prometheus, running_agent

from bench.keepalive import Connection
from bench.process import busy_seconds, cpu_seconds, rss_mb
from sloguard.demo.prometheus import write_rules
from sloguard.loading import load

HERE = Path(__file__).resolve().parent

CANARY_AGE = 3600
TOKEN = "bench-token"
ANALYSIS = ("/v1/analysis", "application/json")
AUTHORIZATION = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"


def body(rollout: str | None) -> dict[str, object]:
    """The request about the healthy canary; a `rollout` name makes it another rollout's (a
    matcher no series carries), so its decision is not shared with any other."""
    canary: dict[str, str] | str = {"rollouts_pod_template_hash": "healthy"}
    if rollout is not None:
        canary = f'{{rollouts_pod_template_hash="healthy",pod_template_hash!="{rollout}"}}'
    return {
        "service": "shop",
        "canary": canary,
        "baseline": {"rollouts_pod_template_hash": STABLE},
        "window": "1h",
    }


def encoded(rollout: str | None) -> bytes:
    return json.dumps(body(rollout)).encode()


def asking(scenario: str) -> Callable[[int], bytes]:
    """What caller `index` asks next: the one shared rollout, its own rollout every time, or a
    rollout nobody asked about before (a fresh decision each time)."""
    if scenario == "shared":
        return lambda index: encoded(None)
    if scenario == "own":
        return lambda index: encoded(f"own-{index}")
    sequence = itertools.count()
    return lambda index: encoded(f"{scenario}-{next(sequence)}")


async def callers(
    ports: list[int],
    count: int,
    seconds: float,
    ask: Callable[[int], bytes],
    period: float = 0.0,
) -> tuple[list[float], int, Counter[str]]:
    """`count` callers asking for `seconds`, back to back or each once every `period` seconds
    (starts spread over the first period), caller i of agent i mod the agents; latencies (s),
    answers other than pass, and why."""
    reasons: Counter[str] = Counter()
    latencies: list[float] = []
    failed = 0
    deadline = time.monotonic() + seconds

    async def caller(index: int) -> None:
        nonlocal failed
        connection = await Connection.open(ports[index % len(ports)])
        due = time.monotonic() + period * index / count
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                due += period
                payload = ask(index)
                started = time.perf_counter()
                status, answer = await connection.post(*ANALYSIS, payload, AUTHORIZATION)
                latencies.append(time.perf_counter() - started)
                decision = json.loads(answer)
                if status != 200 or decision.get("verdict") != "pass":
                    failed += 1
                    reasons[f"{status} {decision.get('verdict')}: {decision.get('reason')}"] += 1
        finally:
            connection.close()

    await asyncio.gather(*(caller(index) for index in range(count)))
    return latencies, failed, reasons


async def soak(ports: list[int], pid: int, seconds: float, rate: float) -> None:
    """`rate` requests/s for `seconds` (odd ones distinct), memory sampled every 30 s."""
    latencies: list[float] = []
    failed = 0
    memory: list[float] = []
    pool = [await Connection.open(ports[i % len(ports)]) for i in range(20)]
    idle = asyncio.Queue[Connection]()
    for connection in pool:
        idle.put_nowait(connection)

    async def one(index: int) -> None:
        nonlocal failed
        connection = await idle.get()
        begun = time.perf_counter()
        status, _ = await connection.post(
            *ANALYSIS, encoded(f"soak-{index}" if index % 2 else None), AUTHORIZATION
        )
        latencies.append(time.perf_counter() - begun)
        idle.put_nowait(connection)
        failed += status != 200

    started = time.monotonic()
    tasks = []
    for index in itertools.count():
        due = started + index / rate
        if due - started >= seconds:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(one(index)))
        if index % int(rate * 30) == 0:
            memory.append(rss_mb(pid))
    await asyncio.gather(*tasks)
    memory.append(rss_mb(pid))
    for connection in pool:
        connection.close()
    report(f"soak {seconds:.0f}s at {rate:g}/s", latencies, failed)
    print(
        "  agent RSS (MB) every 30s: "
        + " ".join(f"{mb:.0f}" for mb in memory)
        + f"  (first {memory[0]:.0f}, last {memory[-1]:.0f}, max {max(memory):.0f})"
    )


@dataclass(frozen=True)
class Usage:
    """CPU seconds used so far by the agents and by the whole machine (all cores), and when."""

    at: float
    agent: float
    busy: float

    @classmethod
    def now(cls, pids: list[int]) -> Usage:
        return cls(time.monotonic(), sum(map(cpu_seconds, pids)), busy_seconds())

    def since(self, before: Usage, answers: int) -> str:
        seconds = self.at - before.at
        agent, busy = self.agent - before.agent, self.busy - before.busy
        per = 1000 / max(answers, 1)
        return (
            f"agent CPU {agent * per:.2f} ms per answer, "
            f"{agent / seconds:.0%} of a core (agents together); all {os.cpu_count()} cores "
            f"{busy / seconds / (os.cpu_count() or 1):.0%} busy, {busy * per:.2f} ms per answer"
        )


def report(name: str, latencies: list[float], failed: int) -> None:
    ordered = sorted(latencies)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    print(
        f"{name}: {len(ordered)} requests, {failed} failed; latency ms "
        f"p50 {at(0.5):.1f}  p90 {at(0.9):.1f}  p99 {at(0.99):.1f}  max {ordered[-1] * 1000:.1f}"
        f"  (mean {statistics.fmean(ordered) * 1000:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--period", type=float, default=1.0, help="paced callers' period (s)")
    parser.add_argument("--soak", type=float, default=0, help="soak seconds (0: no soak)")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument(
        "--no-rules", action="store_true", help="Prometheus without the rules: raw queries only"
    )
    parser.add_argument("--agents", type=int, default=1, help="agents serving the callers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-") as temp:
        directory = Path(temp)
        definitions = directory / "defs"
        definitions.mkdir()
        (definitions / "shop.yaml").write_text(DEFINITION.replace("30m", "1h"))
        end = int(time.time()) // 60 * 60 - 60
        rules = [] if args.no_rules else write_rules(directory, load([definitions]), "5s")
        with (
            canary_prometheus(directory, end, CANARY_AGE, rules) as prometheus,
            contextlib.ExitStack() as stack,
        ):
            agents = [
                stack.enter_context(
                    running_agent(definitions, prometheus.url, TOKEN, "--log-level=warning")
                )
                for _ in range(args.agents)
            ]
            for url, _ in agents:
                ready(url)
            ports = [int(url.rsplit(":", 1)[1]) for url, _ in agents]
            pids = [agent.pid for _, agent in agents]
            print(
                "Prometheus with two hours of backfilled traffic and "
                f"{'no rules' if args.no_rules else 'the rules'}; {args.agents} agent(s); "
                f"{args.callers} callers for {args.seconds:g}s each, 1h window"
            )
            scenarios = (
                (f"shared ({args.callers} callers)", asking("shared"), 0.0),
                (f"own ({args.callers} callers, a rollout each)", asking("own"), 0.0),
                (f"distinct ({args.callers} callers)", asking("distinct"), 0.0),
                (
                    f"paced ({args.callers} callers, each every {args.period:g}s)",
                    asking("paced"),
                    args.period,
                ),
            )
            for name, ask, period in scenarios:
                before = Usage.now(pids)
                latencies, failed, reasons = asyncio.run(
                    callers(ports, args.callers, args.seconds, ask, period)
                )
                report(name, latencies, failed)
                print("  " + Usage.now(pids).since(before, len(latencies)))
                for reason, times in reasons.most_common(3):
                    print(f"  {times} x {reason[:160]}")
            if args.soak:
                asyncio.run(soak(ports, pids[0], args.soak, args.rate))


def ready(url: str) -> None:
    """Until the agent answers and its budgets are recorded (the first rules evaluations)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = httpx.post(
                f"{url}/v1/analysis",
                json=body(None),
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            if answer.status_code == 200 and answer.json()["verdict"] == "pass":
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise SystemExit("the gate never answered pass for the healthy canary")


if __name__ == "__main__":
    main()
