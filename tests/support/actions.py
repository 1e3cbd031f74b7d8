"""An actor wired to the fake API through the real kubernetes client, with a saturation source and a judge the tests control, an audit log in a temp dir and spans kept in memory; and the scenes the actions' tests share."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry

from sloguard.actions.actor import Actor
from sloguard.actions.audit import Auditor
from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.evaluation.readings import Sample
from sloguard.kube import Cluster
from sloguard.playbook.safety import Switch
from sloguard.spec.model import ServiceSLOs
from sloguard.telemetry.metrics import ActionMetrics
from tests.support import scenes
from tests.support.fakeapi import FakeAPI
from tests.support.fakes import Clock

NOW = 1_800_000_000.0


def evaluation(slo: str, status: Status, service: str = "checkout") -> Evaluation:
    """An SLO evaluated as paging (critical), burning (warning), calm (ok) or unread (no_data)."""
    page = {Status.CRITICAL: True, Status.NO_DATA: None}.get(status, False)
    ticket = {Status.CRITICAL: True, Status.WARNING: True, Status.NO_DATA: None}.get(status, False)
    return Evaluation(
        service, slo, 99.9, "30d", 0.0, status, "", Origin.RULES, page=page, ticket=ticket
    )


def spec(actions: dict[str, Any]) -> ServiceSLOs:
    return ServiceSLOs.model_validate(
        {
            "service": "checkout",
            "slos": [
                {"name": "availability", "objective": 99.9, "sli": {"raw": {"error_ratio": "x"}}}
            ],
            "actions": actions,
        }
    )


@dataclass
class Saturation:
    """The saturation signal's answer (None: no series)."""

    value: float | None = 0.5
    asked: list[str] = field(default_factory=list)

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        self.asked.append(expr)
        return [] if self.value is None else [({}, self.value)]


@dataclass
class Judge:
    """What the SLOs were at a past moment: healthy unless told otherwise."""

    before: Status = Status.OK
    asked: list[float] = field(default_factory=list)

    async def __call__(self, spec: ServiceSLOs, at: float) -> list[Evaluation]:
        self.asked.append(at)
        return [evaluation(slo.name, self.before) for slo in spec.slos]


@dataclass
class Rig:
    api: FakeAPI
    cluster: Cluster
    registry: CollectorRegistry
    metrics: ActionMetrics
    spans: InMemorySpanExporter
    tracer: Tracer
    audit_log: Path
    saturation: Saturation = field(default_factory=Saturation)
    judge: Judge = field(default_factory=Judge)
    clock: Clock = field(default_factory=lambda: Clock(NOW))

    def actor(self, switch: Switch = Switch.AS_DEFINED, leading: bool = True) -> Actor:
        """An actor as a replica of the agent runs it (a second call: another replica)."""
        auditor = Auditor(self.metrics, self.tracer, self.cluster, self.audit_log)
        return Actor(
            self.cluster,
            auditor,
            self.saturation,
            self.judge,
            switch=switch,
            leading=lambda: leading,
            identity="sloguard-0",
            clock=self.clock,
        )

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines()]

    def count(self, action: str, mode: str, result: str) -> float:
        """Actions counted with these labels, whatever the service."""
        wanted = {"action": action, "mode": mode, "result": result}
        return sum(
            sample.value
            for family in self.registry.collect()
            for sample in family.samples
            if sample.name == "sloguard_actions_total"
            and all(sample.labels.get(k) == v for k, v in wanted.items())
        )


DEPLOYMENT = {"kind": "Deployment", "name": "checkout", "namespace": "shop"}


def rollback(mode: str = "enforce", **extra: Any) -> dict[str, Any]:
    return {"target": DEPLOYMENT, "rollback": {"mode": mode, "cooldown": "10m", **extra}}


def mid_rollout(rig: Rig) -> dict[str, Any]:
    """checkout rolling from shop:1 to shop:2, started two minutes ago."""
    deployment = scenes.deployment(rig.api, "checkout", "shop:2", updated=1, revision=2)
    scenes.replica_set(rig.api, deployment, "shop:1", 1, NOW - 86400, 2)
    scenes.replica_set(rig.api, deployment, "shop:2", 2, NOW - 120, 1)
    return deployment
