"""Actions as `sloguard run` runs them: the cluster client, the Lease, the audit sinks and the
actor, built once from settings, and the loop that keeps the Lease."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry

from sloguard.actions.actor import Actor
from sloguard.actions.audit import Auditor
from sloguard.actions.leader import LeaderElector, Timing
from sloguard.evaluating import Source, evaluate
from sloguard.evaluation.model import Evaluation
from sloguard.kube import Cluster, api_client
from sloguard.playbook.safety import Switch
from sloguard.spec.model import ServiceSLOs
from sloguard.telemetry.metrics import ActionMetrics

log = logging.getLogger("sloguard.actions")


@dataclass(frozen=True)
class ActionSettings:
    switch: Switch = Switch.AS_DEFINED
    kubeconfig: Path | None = None
    identity: str = "sloguard"
    leader_election: bool = True
    lease_namespace: str = "default"
    lease_name: str = "sloguard"
    timing: Timing = field(default_factory=Timing)
    audit_log: Path | None = None
    alertmanager_url: str = ""


class ActionRuntime:
    """The actor and, with leader election, the Lease that lets it act."""

    def __init__(
        self,
        settings: ActionSettings,
        source: Source,
        registry: CollectorRegistry,
        tracer: Tracer,
    ) -> None:
        self.settings = settings
        metrics = ActionMetrics(registry)
        self.cluster = Cluster(api_client(settings.kubeconfig))
        self._alertmanager = (
            httpx.AsyncClient(base_url=settings.alertmanager_url, timeout=5.0)
            if settings.alertmanager_url
            else None
        )
        self.elector = (
            LeaderElector(
                self.cluster,
                settings.lease_namespace,
                settings.lease_name,
                settings.identity,
                metrics,
                settings.timing,
            )
            if settings.leader_election
            else None
        )
        if self.elector is None:
            metrics.leader.set(1)

        async def judge(spec: ServiceSLOs, at: float) -> Sequence[Evaluation]:
            return await evaluate([spec], source, at, tracer=tracer)

        self.actor = Actor(
            self.cluster,
            Auditor(metrics, tracer, self.cluster, settings.audit_log, self._alertmanager),
            source,
            judge,
            switch=settings.switch,
            leading=self.leading,
            identity=settings.identity,
        )

    def leading(self) -> bool:
        return self.elector is None or self.elector.is_leader

    async def act(self, services: Sequence[ServiceSLOs], evaluations: Sequence[Evaluation]) -> None:
        paused = self.elector is not None and self.elector.paused
        self.actor.switch = Switch.OFF if paused else self.settings.switch
        await self.actor.act(services, evaluations)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep (or wait for) the Lease until `stop`, then release it and close clients."""
        try:
            if self.elector is not None:
                await self.elector.run(stop)
            else:
                await stop.wait()
        finally:
            if self._alertmanager is not None:
                await self._alertmanager.aclose()
