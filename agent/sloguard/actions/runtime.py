"""Actions as `sloguard run` runs them: the Lease, the audit sinks and the actor, built once
from settings over the clients the composition root gives (`assembly`), and the loop that
keeps the Lease."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry

from sloguard.actions.actor import Actor
from sloguard.actions.audit import Auditor, Line, Result
from sloguard.actions.leader import LeaderElector, Timing
from sloguard.alertmanager import Alertmanager
from sloguard.errors import ClusterError
from sloguard.evaluating import Source, evaluate
from sloguard.evaluation.model import Evaluation
from sloguard.journal import Journal
from sloguard.kube import Cluster
from sloguard.marking import DeployMarkers
from sloguard.playbook.model import ObjectRef
from sloguard.playbook.safety import Switch, possible
from sloguard.spec.model import ServiceSLOs
from sloguard.telemetry.metrics import ActionMetrics

log = logging.getLogger("sloguard.actions")


@dataclass(frozen=True)
class ActionSettings:
    switch: Switch = Switch.AS_DEFINED
    identity: str = "sloguard"
    leader_election: bool = True
    lease_namespace: str = "default"
    lease_name: str = "sloguard"
    timing: Timing = field(default_factory=Timing)
    audit_log: Path | None = None


class ActionRuntime:
    """The actor and, with leader election, the Lease that lets it act. Built when definitions
    first carry an `actions:` block (at start or on a reload): an agent with nothing to do
    talks to no API server and holds no Lease."""

    def __init__(
        self,
        settings: ActionSettings,
        source: Source,
        registry: CollectorRegistry,
        tracer: Tracer,
        connect: Callable[[], Cluster],
        alertmanager: Alertmanager | None = None,
        markers: DeployMarkers | None = None,
        journal: Journal[Line] | None = None,
    ) -> None:
        self.settings = settings
        self._journal = journal
        self._markers = markers
        self._source = source
        self._connect = connect  # the cluster's client, made when first needed
        self._tracer = tracer
        self._metrics = ActionMetrics(registry)
        self._wanted = asyncio.Event()  # set once the actor exists: the Lease loop may start
        self._unavailable = ""  # why the cluster could not be reached (said once)
        self._alertmanager = alertmanager
        self.actor: Actor | None = None
        self.elector: LeaderElector | None = None
        self._paused = False  # the kill switch as last seen on the Lease

    def known(self, services: Sequence[ServiceSLOs]) -> None:
        """Every action a service may take exported from 0 for each result (once loaded), so
        `increase()` over a period counts a first action too."""
        for spec in services:
            if spec.actions is None:
                continue
            for action, mode in possible(spec.actions, self.settings.switch):
                for result in Result:
                    self._metrics.actions.labels(spec.service, action.value, mode.value, result)

    def leading(self) -> bool:
        return self.elector is None or self.elector.is_leader

    async def act(self, services: Sequence[ServiceSLOs], evaluations: Sequence[Evaluation]) -> None:
        if not any(spec.actions is not None for spec in services):
            return
        if self.actor is None and not await self._start():
            return
        assert self.actor is not None
        paused = self.elector is not None and self.elector.paused
        if paused != self._paused:
            self._paused = paused
            self._note_switch(paused)
        self.actor.switch = Switch.OFF if paused else self.settings.switch
        await self.actor.act(services, evaluations)

    async def run(self, stop: asyncio.Event) -> None:
        """Once there is something to do, keep (or wait for) the Lease until `stop`; then
        release it."""
        wanted = asyncio.create_task(self._wanted.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({wanted, stopped}, return_when=asyncio.FIRST_COMPLETED)
        wanted.cancel()
        stopped.cancel()
        if self.elector is not None and not stop.is_set():
            await self.elector.run(stop)

    async def _start(self) -> bool:
        """Connect to the cluster, build the Lease and the actor; False (said once) when the API
        cannot be configured."""
        settings = self.settings
        try:
            # Off the event loop: the client's first import (about a second) and its
            # configuration's files.
            cluster = await asyncio.to_thread(self._connect)
        except ClusterError as exc:
            if not self._unavailable:
                self._unavailable = str(exc)
                log.error(
                    "actions disabled: %s (run in the cluster or pass --kubeconfig; "
                    "--actions off silences this)",
                    exc,
                )
            return False
        self._auditor = Auditor(
            self._metrics,
            self._tracer,
            cluster,
            settings.audit_log,
            self._alertmanager,
            self._markers,
            self._journal,
        )
        if settings.leader_election:
            self.elector = LeaderElector(
                cluster,
                settings.lease_namespace,
                settings.lease_name,
                settings.identity,
                self._metrics,
                settings.timing,
                changed=self._note_leadership,
            )
        else:
            self._metrics.leader.set(1)
        source, tracer = self._source, self._tracer

        async def judge(spec: ServiceSLOs, at: float) -> Sequence[Evaluation]:
            return await evaluate([spec], source, at, tracer=tracer)

        self.actor = Actor(
            cluster,
            self._auditor,
            source,
            judge,
            switch=settings.switch,
            leading=self.leading,
            identity=settings.identity,
        )
        self._wanted.set()
        return True

    def _lease(self) -> ObjectRef:
        return ObjectRef("Lease", self.settings.lease_namespace, self.settings.lease_name)

    def _note_leadership(self, change: str) -> None:
        summary = f"{self.settings.identity} {change} the lease: "
        summary += "it acts now" if change == "acquired" else "another replica acts"
        self._auditor.note("leadership", change, summary, self._lease(), self.settings.identity)

    def _note_switch(self, paused: bool) -> None:
        summary = (
            "the kill switch is on (sloguard.io/paused on the lease): no actions"
            if paused
            else "the kill switch is off: actions as defined"
        )
        self._auditor.note(
            "kill_switch", "on" if paused else "off", summary, self._lease(), self.settings.identity
        )
