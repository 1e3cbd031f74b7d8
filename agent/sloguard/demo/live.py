"""`sloguard demo`: the whole loop on one machine, with nothing to configure.

A throwaway Prometheus loads the generated rules (every group evaluated each 5s instead of
30s/2m/10m, so minutes of data tell a story) and scrapes a synthetic service whose errors and
latency change on a schedule; the agent evaluates every few seconds, serves its API, and the
SLO table is redrawn until Ctrl-C or `duration`. Everything started is stopped on the way out.
Budgets are spent over the minutes the demo has run, so an incident spends them fast.

Two checkout canaries run beside stable; the promotion gate is asked about each on checkout's
latency SLO (5s intervals instead of 1m, so half a minute of traffic is enough) until it
answers pass or fail, and both verdicts stay on screen with their reasons.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from sloguard.assembly import Settings, assemble
from sloguard.demo.prometheus import free_port, local_prometheus, write_rules
from sloguard.demo.service import STABLE, Conditions, SyntheticService, demo_canaries
from sloguard.errors import ToolError
from sloguard.evaluation.model import Status
from sloguard.evaluation.report import table
from sloguard.gate.model import Verdict
from sloguard.gate.request import AnalysisRequest
from sloguard.gating import Gatekeeper
from sloguard.loading import Loaded
from sloguard.sources.prometheus import PrometheusSettings
from sloguard.spec.model import ServiceSLOs
from sloguard.spec.writing import native_yaml
from sloguard.tools import check_rules

RULE_INTERVAL = "5s"
JOBS = ("checkout", "catalog", "invoice-worker")


@dataclass(frozen=True)
class Phase:
    starts_at: float  # seconds into each cycle of the schedule
    story: str
    changes: Mapping[str, Any] = field(default_factory=dict)  # Conditions fields to change


SCHEDULE = (
    Phase(0, "all healthy"),
    Phase(60, "checkout fails 5% of requests", {"checkout_errors": 0.05}),
    Phase(150, "checkout recovered"),
    Phase(210, "catalog searches slow down (20% over 100ms)", {"search_slow": 0.2}),
    Phase(300, "all healthy again"),
)
CYCLE_SECONDS = 360.0
# The gate at demo speed: 5s intervals (Prometheus scrapes every 2s) over the last 5 minutes.
DEMO_GATE = {"interval": "5s", "window": "5m", "scrape_interval": "2s"}
CANARY_SERVICE, CANARY_SLO = "checkout", "latency"


def phase_at(elapsed: float) -> tuple[Phase, Phase]:
    """The phase running `elapsed` seconds into the demo, and the next one."""
    into = elapsed % CYCLE_SECONDS
    index = max(i for i, p in enumerate(SCHEDULE) if p.starts_at <= into)
    return SCHEDULE[index], SCHEDULE[(index + 1) % len(SCHEDULE)]


def conditions_for(phase: Phase) -> Conditions:
    """Healthy conditions with the phase's changes."""
    return replace(Conditions(), **phase.changes)


async def live(
    loaded: Loaded,
    env: Mapping[str, str],
    echo: Callable[[str], None],
    style: Callable[[str, Status], str],
    clear: Callable[[], None] | None,
    duration: float | None = None,
    refresh: float = 5.0,
) -> None:
    """Run the demo until `duration` seconds have passed (or forever, until cancelled)."""
    with tempfile.TemporaryDirectory(prefix="sloguard-demo-") as temp:
        directory = Path(temp)
        rule_files = write_rules(directory, loaded, RULE_INTERVAL)
        definitions = _write_demo_definitions(directory / "definitions", loaded.services)
        checked = check_rules(rule_files)
        if not checked.ok:
            raise ToolError(f"promtool check rules failed:\n{checked.output}")
        echo(
            f"   rules checked by promtool; every group evaluated each {RULE_INTERVAL} for the demo"
        )
        service = SyntheticService(CollectorRegistry())
        exporter = service.serve()
        try:
            jobs = {job: f"127.0.0.1:{exporter}" for job in JOBS}
            with local_prometheus(
                directory, jobs, rule_files, env=env, scrape_interval="2s"
            ) as url:
                await _loop(definitions, url, service, echo, style, clear, duration, refresh)
        finally:
            service.stop()


async def _loop(
    definitions: Path,
    prometheus_url: str,
    service: SyntheticService,
    echo: Callable[[str], None],
    style: Callable[[str, Status], str],
    clear: Callable[[], None] | None,
    duration: float | None,
    refresh: float,
) -> None:
    settings = Settings(
        paths=(definitions,),
        prometheus=PrometheusSettings(url=prometheus_url, timeout_seconds=5, retries=1),
        interval_seconds=refresh,
    )
    assembly = assemble(settings)
    agent, gate = assembly.agent, assembly.gatekeeper
    async with assembly.running():
        api_port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                assembly.app(),
                host="127.0.0.1",
                port=api_port,
                log_level="warning",
                lifespan="off",
            )
        )
        serving = asyncio.create_task(server.serve())
        started = time.monotonic()
        verdicts: dict[str, str] = {}
        try:
            while True:
                elapsed = time.monotonic() - started
                if duration is not None and elapsed >= duration:
                    break
                now, upcoming = phase_at(elapsed)
                service.conditions = conditions_for(now)
                await asyncio.sleep(min(refresh, (duration - elapsed) if duration else refresh))
                elapsed = time.monotonic() - started
                if clear is not None:
                    clear()
                next_in = (upcoming.starts_at - elapsed % CYCLE_SECONDS) % CYCLE_SECONDS
                echo(
                    f"sloguard demo, {_clock(elapsed)} in: {now.story} "
                    f"(next in {_clock(next_in)}: {upcoming.story})\n"
                    f"Prometheus {prometheus_url} · console http://127.0.0.1:{api_port}/ · "
                    "API /v1/slos and /metrics · Ctrl-C stops everything"
                )
                echo(
                    table(agent.current(), style)
                    if agent.evaluations
                    else "(first evaluation pending)"
                )
                verdicts = await _judge_canaries(gate, verdicts)
                echo(
                    f"\nPromotion gate, {CANARY_SERVICE}'s {CANARY_SLO} SLO, canary against "
                    f'version="{STABLE}" (POST http://127.0.0.1:{api_port}/v1/analysis):'
                )
                echo("\n".join(f"  {version}: {said}" for version, said in verdicts.items()))
                echo("")
        finally:
            server.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)


def _write_demo_definitions(directory: Path, services: list[ServiceSLOs]) -> Path:
    """The definitions with the gate at demo speed, where the agent reads them."""
    directory.mkdir()
    for spec in services:
        fast = spec.model_copy(
            update={
                "slos": [
                    slo.model_copy(update={"gate": slo.gate.model_copy(update=DEMO_GATE)})
                    for slo in spec.slos
                ]
            }
        )
        text = native_yaml(fast, "the demo's definitions, with the gate at demo speed")
        (directory / f"{spec.service}.yaml").write_text(text, encoding="utf-8")
    return directory


async def _judge_canaries(gate: Gatekeeper, said: dict[str, str]) -> dict[str, str]:
    """Ask the gate about each canary not yet failed, as a rollout's analysis keeps asking: an
    early pass on a few samples may turn into a fail as evidence grows; a fail is final (the
    rollout would be aborted). What it said, per canary."""
    answers = dict(said)
    for version in demo_canaries():
        if answers.get(version, "").startswith("fail"):
            continue
        request = AnalysisRequest(
            service=CANARY_SERVICE,
            slos=[CANARY_SLO],
            canary={"version": version},
            baseline={"version": STABLE},
        )
        decision = (await gate.analyse(request)).decision
        if decision.verdict is Verdict.INCONCLUSIVE:
            answers[version] = f"inconclusive for now ({decision.reason}); asking again"
        else:
            answers[version] = f"{decision.verdict.value}: {decision.reason}"
    return answers


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"
