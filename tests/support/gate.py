"""The agent's API as `sloguard run` builds it (the composition root), over a fake source
that stands where Prometheus does."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from sloguard.assembly import Assembly, GateAuthSettings
from sloguard.evaluation.readings import Sample
from sloguard.gating import GateSettings
from sloguard.loading import load
from sloguard.spec.model import SLO, Definitions
from tests.support.agent import api, assembled
from tests.support.fakes import Clock

REQUEST = {"service": "shop", "canary": {"rollouts_pod_template_hash": "new"}}


class Counting:
    """A source at the gate's port: steady healthy traffic for every SLO and version a range
    query asks for, counted; no recorded budgets; optionally slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.range_queries = 0
        self.delay = delay

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        return []

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        self.range_queries += 1
        await asyncio.sleep(self.delay)
        points = [float(t) for t in range(int(start), int(end) + 1, int(step))]
        # Each (SLO, version) the query is tagged for: 100 events/s, none bad.
        parts = re.findall(r'"sloguard_part", "([^"]+)"', expr)
        return [
            (
                {"sloguard_part": part},
                [(t, 0.0 if part.endswith("/errors") else 100.0) for t in points],
            )
            for part in parts
        ]


def app_for(
    shop: Path,
    source: Any,
    auth: GateAuthSettings | None = None,
    settings: GateSettings | None = None,
    clock: Clock | None = None,
    kubeconfig: Path | None = None,
) -> tuple[httpx.AsyncClient, Assembly]:
    """The agent's API as `sloguard run` builds it, over `source` instead of Prometheus."""
    assembly = assembled(
        shop,
        source,
        clock or Clock(),
        gate=settings or GateSettings(),
        gate_auth=auth or GateAuthSettings(),
        kubeconfig=kubeconfig,
    )
    assembly.agent.reload()
    return api(assembly), assembly


def definitions(shop: Path) -> Definitions:
    return Definitions(1, tuple(load([shop]).services))


def event_slo(**gate: object) -> SLO:
    """A 99.9% availability SLO counting events, with `gate` as its gate block."""
    return SLO.model_validate(
        {
            "name": "availability",
            "objective": 99.9,
            "sli": {
                "events": {
                    "errors": "sum(rate(e[{{window}}]))",
                    "total": "sum(rate(t[{{window}}]))",
                }
            },
            "gate": gate,
        }
    )
