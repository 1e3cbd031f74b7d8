"""Deploy markers: every gate decision that ends a rollout (pass or fail) and every action the
agent takes (rollback, scale) becomes a Grafana annotation, so the dashboards show what changed
when. Posting runs in the background from a bounded queue: a slow or failing Grafana is
counted and logged, and never holds up the gate or an action."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sloguard.errors import PublishError
from sloguard.gate.model import Decision, Verdict
from sloguard.grafana import Annotations
from sloguard.links import GRAFANA_TAG
from sloguard.telemetry.metrics import MarkerMetrics

log = logging.getLogger("sloguard.markers")
QUEUE_SIZE = 256  # markers waiting for Grafana; more are dropped (and counted)
REMEMBERED = 1024  # rollouts whose last marked verdict is kept, so a repeat is not marked
Json = dict[str, Any]


def decision_annotation(decision: Decision, canary: str, at: float) -> Json:
    """A gate decision as Grafana's annotation: tags `sloguard`, the service, its SLOs and the
    verdict, so a dashboard can select them (`tags: [sloguard, checkout]`)."""
    failing = [s.slo for s in decision.slos if s.verdict is Verdict.FAIL]
    slos = failing or [s.slo for s in decision.slos]
    return {
        "time": int(at * 1000),
        "tags": [GRAFANA_TAG, decision.service, *slos, decision.verdict.value],
        "text": f"sloguard gate: {decision.verdict.value} for {decision.service} canary "
        f"{canary}: {decision.reason}"[:2000],
    }


def action_annotation(
    service: str, action: str, target: str, summary: str, action_id: str, at: float
) -> Json:
    return {
        "time": int(at * 1000),
        "tags": [GRAFANA_TAG, service, action],
        "text": f"sloguard {action} of {target}: {summary} (id {action_id})"[:2000],
    }


class DeployMarkers:
    """Queues markers and posts them to Grafana one at a time while `run` runs."""

    def __init__(
        self,
        grafana: Annotations,
        metrics: MarkerMetrics,
        clock: Callable[[], float],
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._grafana = grafana
        self._metrics = metrics
        self._clock = clock
        self._queue: asyncio.Queue[Json] = asyncio.Queue(queue_size)
        self._last: OrderedDict[tuple[str, str], Verdict] = OrderedDict()

    def decision(self, decision: Decision, canary: str) -> None:
        """Mark a pass or fail the first time a rollout (service and canary) gets it: Argo and
        Flagger ask every minute, and the dashboard wants the change, not every answer."""
        if decision.verdict not in (Verdict.PASS, Verdict.FAIL):
            return
        key = (decision.service, canary)
        if self._last.get(key) is decision.verdict:
            return
        self._last[key] = decision.verdict
        self._last.move_to_end(key)
        while len(self._last) > REMEMBERED:
            self._last.popitem(last=False)
        self._put(decision_annotation(decision, canary, self._clock()))

    def action(
        self, service: str, action: str, target: str, summary: str, action_id: str, at: float
    ) -> None:
        self._put(action_annotation(service, action, target, summary, action_id, at))

    def _put(self, annotation: Json) -> None:
        try:
            self._queue.put_nowait(annotation)
        except asyncio.QueueFull:
            self._metrics.annotations.labels("dropped").inc()
            log.warning("a deploy marker was dropped: Grafana is not keeping up")

    async def run(self, stop: asyncio.Event) -> None:
        """Post queued markers until `stop`; what is still queued then is posted first."""
        stopping = asyncio.create_task(stop.wait())
        try:
            while not (stop.is_set() and self._queue.empty()):
                if self._queue.empty():
                    getting = asyncio.create_task(self._queue.get())
                    await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if not getting.done():
                        getting.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await getting
                        continue
                    annotation = getting.result()
                else:
                    annotation = self._queue.get_nowait()
                await self._post(annotation)
        finally:
            stopping.cancel()

    async def _post(self, annotation: Json) -> None:
        try:
            await self._grafana.post(annotation)
        except PublishError as exc:
            self._metrics.annotations.labels("failed").inc()
            log.warning("deploy marker not posted: %s", exc)
        else:
            self._metrics.annotations.labels("posted").inc()

    async def aclose(self) -> None:
        await self._grafana.aclose()
