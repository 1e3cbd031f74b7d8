"""The composition root: one frozen `Settings`, and `assemble`, which builds the running agent
from it (the evaluating agent, the gate, the OTLP receiver, the actions and the HTTP app, over
one instrumented Prometheus source). `sloguard run`, `sloguard demo`, `sloguard gate` and the
tests build the agent here and nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from sloguard import __version__
from sloguard.actions.audit import Line, repeats, tail
from sloguard.actions.runtime import ActionRuntime, ActionSettings
from sloguard.agent import Agent
from sloguard.alertmanager import Alertmanager
from sloguard.evaluating import Histories, HistorySource, InstrumentedSource
from sloguard.gating import Gatekeeper, GateSettings, Recorded, logged_decisions
from sloguard.grafana import Annotations
from sloguard.journal import Journal
from sloguard.kube import Cluster, TokenReviewer, api_client
from sloguard.marking import DeployMarkers
from sloguard.reporting import PeriodReports, ReportSettings
from sloguard.server.app import create_app
from sloguard.server.otlp import TraceReceiver
from sloguard.server.recent import Recent
from sloguard.server.security import BearerToken, GateAuth
from sloguard.sources.prometheus import Failover, PrometheusSettings, prometheus_source
from sloguard.sources.traces import TraceBackend, connect
from sloguard.spec.model import ServiceSLOs
from sloguard.telemetry import tracing
from sloguard.telemetry.metrics import (
    AgentMetrics,
    GateMetrics,
    MarkerMetrics,
    ReportMetrics,
    TraceMetrics,
)

if TYPE_CHECKING:  # the app is built by server/, the one place FastAPI is used
    from fastapi import FastAPI

log = logging.getLogger("sloguard.agent")

# After a stop, the evaluation and the actions get this long to finish.
SHUTDOWN_SECONDS = 10
# What the console shows of the recent past: decisions and audit lines kept in memory.
DECISIONS_KEPT = 200
AUDIT_LINES_KEPT = 1000


@dataclass(frozen=True)
class TraceBackendSettings:
    """A trace backend that trace SLIs are read from instead of Prometheus."""

    kind: str  # `tempo` or `jaeger`
    url: str


@dataclass(frozen=True)
class GateAuthSettings:
    """Who may call the gate; nobody is asked for a token when none of these is set."""

    token: str | None = None
    token_file: Path | None = None
    allow: tuple[str, ...] = ()  # Kubernetes users or groups, checked with TokenReview
    audience: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return bool(self.token or self.token_file or self.allow)


@dataclass(frozen=True)
class Settings:
    """Everything the running agent is built from: flags, environment, nothing else."""

    paths: tuple[Path, ...]
    prometheus: PrometheusSettings
    interval_seconds: float = 30.0
    traces_backend: TraceBackendSettings | None = None
    gate: GateSettings = field(default_factory=GateSettings)
    gate_auth: GateAuthSettings = field(default_factory=GateAuthSettings)
    kubeconfig: Path | None = None  # the Kubernetes API (default: in-cluster, else ~/.kube)
    actions: ActionSettings | None = None  # None: no actions at all
    alertmanager_url: str = ""  # where the actions' alerts go ("" for nowhere)
    grafana_url: str = ""  # where deploy markers go ("" for nowhere)
    grafana_token: str = ""
    console: bool = True  # the read-only pages at / (off: the API alone)
    guard_reads: bool = False  # the console and what it reads need the gate's auth
    reports: ReportSettings = field(default_factory=ReportSettings)
    # The OTEL_* variables that configure the agent's own traces.
    telemetry: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Assembly:
    """The running agent's parts, built by `assemble`."""

    settings: Settings
    registry: CollectorRegistry
    source: InstrumentedSource
    agent: Agent
    gatekeeper: Gatekeeper
    receiver: TraceReceiver
    actions: ActionRuntime | None
    auth: GateAuth | None
    tracing: tracing.Tracing
    closers: list[Callable[[], Awaitable[None]]]
    decisions: Journal[Recorded]
    audit: Journal[Line]
    reports: PeriodReports
    markers: DeployMarkers | None = None

    def app(self, lifespan: Any = None) -> FastAPI:
        """The HTTP API over these parts."""
        return create_app(
            self.agent,
            self.registry,
            lifespan,
            self.gatekeeper,
            self.auth,
            self.receiver,
            Recent(self.decisions, self.audit),
            Histories(self.source, self.settings.prometheus.timeout_seconds),
            self.reports,
            console=self.settings.console,
            guard_reads=self.settings.guard_reads,
            grafana_url=self.settings.grafana_url,
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The evaluation loop (and the actions' Lease loop) while inside; on the way out
        they get SHUTDOWN_SECONDS to finish, then the clients are closed."""
        stop = asyncio.Event()
        loops = [asyncio.create_task(self.agent.run(stop))]
        if self.actions is not None:
            loops.append(asyncio.create_task(self.actions.run(stop)))
        if self.markers is not None:
            loops.append(asyncio.create_task(self.markers.run(stop)))
        if self.settings.reports.out is not None:
            loops.append(asyncio.create_task(self.reports.run(stop)))
        try:
            yield
        finally:
            stop.set()
            _, pending = await asyncio.wait(loops, timeout=SHUTDOWN_SECONDS)
            if pending:
                log.warning(
                    "shutdown cut short: the evaluation or the actions did not finish in time",
                    extra={"seconds": SHUTDOWN_SECONDS, "cancelled": len(pending)},
                )
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
            await self.aclose()

    async def aclose(self) -> None:
        """Close the clients and flush the agent's own traces."""
        for close in self.closers:
            await close()
        self.tracing.shutdown()


def _switched(metrics: AgentMetrics, url: str, urls: Sequence[str]) -> None:
    log.warning("reading from another Prometheus", extra={"url": url})
    metrics.reading_from(url, urls)


def assemble(
    settings: Settings,
    source: HistorySource | None = None,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] = time.time,
) -> Assembly:
    """The running agent `settings` describe. `source` replaces the Prometheus client (tests);
    nothing is contacted until the agent runs or is asked."""
    registry = registry if registry is not None else CollectorRegistry()
    traces = tracing.from_environment(settings.telemetry)
    closers: list[Callable[[], Awaitable[None]]] = []
    holder: list[Agent] = []
    metrics = AgentMetrics(registry, lambda: holder[0].current())
    urls = [settings.prometheus.url, *settings.prometheus.replicas]
    failover: Failover | None = None
    if source is None:
        source, clients = prometheus_source(
            settings.prometheus, switched=lambda url: _switched(metrics, url, urls)
        )
        closers.extend(http.aclose for http in clients)
        failover = source if isinstance(source, Failover) else None
    metrics.reading_from(urls[0], urls)

    def source_name() -> str:
        return failover.active if failover is not None else urls[0]

    backend = _trace_backend(settings)
    if backend is not None:
        closers.append(backend.aclose)
    prometheus = InstrumentedSource(source, metrics.query_errors, traces.tracer)
    markers = _markers(settings, registry, clock)
    if markers is not None:
        closers.append(markers.aclose)
    decisions: Journal[Recorded] = Journal(DECISIONS_KEPT, Recorded.rollout)
    if settings.gate.log_path is not None:
        for decided in logged_decisions(settings.gate.log_path):
            decisions.add(decided)
    audit: Journal[Line] = Journal(AUDIT_LINES_KEPT, repeats)
    actions = None
    if settings.actions is not None:
        if settings.actions.audit_log is not None:
            for line in tail(settings.actions.audit_log):
                audit.add(line)
        alertmanager = (
            Alertmanager(settings.alertmanager_url) if settings.alertmanager_url else None
        )
        if alertmanager is not None:
            closers.append(alertmanager.aclose)
        actions = ActionRuntime(
            settings.actions,
            prometheus,
            registry,
            traces.tracer,
            connect=lambda: Cluster(api_client(settings.kubeconfig)),
            alertmanager=alertmanager,
            markers=markers,
            journal=audit,
        )
    agent = Agent(
        list(settings.paths),
        prometheus,
        metrics,
        settings.interval_seconds,
        clock=clock,
        tracer=traces.tracer,
        after_cycle=actions.act if actions is not None else None,
        traces=backend,
        after_load=lambda services: _counted_from_zero(services, gate_metrics, actions),
        source_name=source_name,
    )
    holder.append(agent)
    gate_metrics = GateMetrics(registry)
    gatekeeper = Gatekeeper(
        lambda: agent.definitions,
        prometheus,
        gate_metrics,
        settings.gate,
        tracer=traces.tracer,
        clock=clock,
        markers=markers,
        journal=decisions,
    )
    receiver = TraceReceiver(
        lambda: agent.definitions, TraceMetrics(registry), wanted=gatekeeper.asked_versions
    )
    reports = PeriodReports(
        prometheus,
        lambda: agent.definitions,
        settings.reports,
        ReportMetrics(registry).written,
        gate_log=settings.gate.log_path,
        audit_log=settings.actions.audit_log if settings.actions is not None else None,
        clock=clock,
    )
    return Assembly(
        settings,
        registry,
        prometheus,
        agent,
        gatekeeper,
        receiver,
        actions,
        _gate_auth(settings),
        traces,
        closers,
        decisions,
        audit,
        reports,
        markers,
    )


def _counted_from_zero(
    services: Sequence[ServiceSLOs], gate: GateMetrics, actions: ActionRuntime | None
) -> None:
    """The counters reports read over a period, exported from 0 for what the definitions
    name (decisions per service and SLO, each action a service may take)."""
    gate.known(services)
    if actions is not None:
        actions.known(services)


def _markers(
    settings: Settings, registry: CollectorRegistry, clock: Callable[[], float]
) -> DeployMarkers | None:
    if not settings.grafana_url:
        return None
    grafana = Annotations(
        settings.grafana_url,
        settings.grafana_token,
        settings.prometheus.timeout_seconds,
        f"sloguard/{__version__}",
    )
    return DeployMarkers(grafana, MarkerMetrics(registry), clock)


def _trace_backend(settings: Settings) -> TraceBackend | None:
    chosen = settings.traces_backend
    if chosen is None:
        return None
    return connect(chosen.kind, chosen.url, settings.prometheus.timeout_seconds)


def _gate_auth(settings: Settings) -> GateAuth | None:
    wanted = settings.gate_auth
    if not wanted.required:
        return None
    token = wanted.token or ""
    return GateAuth(
        BearerToken(token, wanted.token_file) if token or wanted.token_file else None,
        TokenReviewer(api_client(settings.kubeconfig), wanted.allow, wanted.audience)
        if wanted.allow
        else None,
    )
