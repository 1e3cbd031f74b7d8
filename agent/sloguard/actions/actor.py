"""The actor: after each evaluation, the leader reads each service's workload, asks the playbook
what to do, lets the safety rules hold it back, writes (or dry-runs) the patch and audits it.

Every write is planned from the object as just read and carries its `resourceVersion`: a 409
means someone changed it meanwhile, so the actor reads again and plans again (3 tries)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sloguard.actions.audit import Auditor, Outcome, Result
from sloguard.errors import ClusterError, Conflict, SourceError
from sloguard.evaluating import Source
from sloguard.evaluation.model import Evaluation
from sloguard.kube import Cluster
from sloguard.playbook.model import HOUR, Action, ObjectRef, Plan, Skip, Stamp, ref_of, timestamp
from sloguard.playbook.rollback import (
    abort_rollout,
    newest_change,
    revisions,
    switch_service,
    undo_deployment,
)
from sloguard.playbook.safety import Done, Switch, effective_mode, hold
from sloguard.playbook.scaling import give_back, owning_autoscaler, scale_up
from sloguard.playbook.triggers import Signals, signals
from sloguard.spec.actions import Actions, Mode, Rollback, Scale, WorkloadKind
from sloguard.spec.durations import parse_seconds
from sloguard.spec.model import ServiceSLOs

log = logging.getLogger("sloguard.actions")

# The SLOs of one service at a past moment: "was the service healthy before this change?"
Judge = Callable[[ServiceSLOs, float], Awaitable[Sequence[Evaluation]]]
CONFLICT_TRIES = 3
BEFORE_CHANGE_SECONDS = 60.0  # judge the previous revision this long before the new one appeared


@dataclass(frozen=True)
class Considered:
    """A plan (or the reason there is none) and the objects it was made from."""

    plan: Plan | Skip
    objects: Sequence[Mapping[str, Any]] = ()  # the patched object first, then the workload


@dataclass
class Actor:
    cluster: Cluster
    auditor: Auditor
    source: Source
    judge: Judge
    switch: Switch = Switch.AS_DEFINED
    leading: Callable[[], bool] = lambda: True
    identity: str = "sloguard"
    clock: Callable[[], float] = time.time
    history: list[Done] = field(default_factory=list)
    calm_since: dict[str, float] = field(default_factory=dict)

    async def act(
        self, services: Sequence[ServiceSLOs], evaluations: Sequence[Evaluation]
    ) -> list[Outcome]:
        """What every service with `actions:` calls for, now; nothing unless leading."""
        outcomes: list[Outcome] = []
        if self.switch is Switch.OFF:
            return outcomes
        for spec in services:
            if spec.actions is None:
                continue
            found = signals(evaluations, spec.service, spec.actions)
            self._track_calm(spec.service, found)
            if not self.leading():
                continue
            if spec.actions.rollback is not None and found.paging:
                outcomes += await self._rollback(spec, spec.actions, spec.actions.rollback, found)
            if spec.actions.scale is not None:
                outcomes += await self._scale(spec, spec.actions, spec.actions.scale, found)
        self._forget(self.clock())
        return outcomes

    # -- rollback ---------------------------------------------------------------------------

    async def _rollback(
        self, spec: ServiceSLOs, actions: Actions, rollback: Rollback, found: Signals
    ) -> list[Outcome]:
        mode = effective_mode(rollback.mode, self.switch)
        if mode is None:
            return []

        async def consider(stamp: Stamp) -> Considered:
            return await self._consider_rollback(spec, actions, rollback, stamp)

        return await self._carry_out(
            spec.service,
            actions,
            mode,
            parse_seconds(rollback.cooldown),
            found,
            consider,
        )

    async def _consider_rollback(
        self, spec: ServiceSLOs, actions: Actions, rollback: Rollback, stamp: Stamp
    ) -> Considered:
        target = ObjectRef(actions.target.kind.value, actions.target.namespace, actions.target.name)
        recent = parse_seconds(rollback.recent)
        if rollback.blue_green is not None:
            bg = rollback.blue_green
            service = await self._read(ObjectRef("Service", target.namespace, bg.service))
            colors = {
                color: await self._read(ObjectRef("Deployment", target.namespace, name))
                for color, name in bg.colors.items()
            }
            active = colors.get(str((service["spec"].get("selector") or {}).get(bg.label)))
            changed_at = None
            if active is not None:
                changed_at = newest_change(active, await self._replica_sets(active))
            plan = switch_service(
                service,
                bg.label,
                colors,
                changed_at=changed_at,
                now=stamp.at,
                recent_seconds=recent,
                stamp=stamp,
            )
            return Considered(plan, [service, *colors.values()])  # paused on any of them holds
        workload = await self._read(target)
        if actions.target.kind is WorkloadKind.ROLLOUT:
            return Considered(abort_rollout(workload), [workload])
        history = revisions(workload, await self._replica_sets(workload))
        created = None
        if history.current is not None:
            created = timestamp(history.current["metadata"].get("creationTimestamp"))
        healthy = await self._healthy_before(spec, created)
        plan = undo_deployment(
            workload,
            history,
            now=stamp.at,
            recent_seconds=recent,
            previous_healthy=healthy,
            stamp=stamp,
        )
        return Considered(plan, [workload])

    async def _healthy_before(self, spec: ServiceSLOs, changed_at: float | None) -> bool | None:
        """Whether the service met its SLOs (no page, on data) just before `changed_at`."""
        if changed_at is None or spec.actions is None:
            return None
        evaluations = await self.judge(spec, changed_at - BEFORE_CHANGE_SECONDS)
        before = signals(evaluations, spec.service, spec.actions)
        if before.missing:
            return None
        return not before.paging

    # -- scaling ----------------------------------------------------------------------------

    async def _scale(
        self, spec: ServiceSLOs, actions: Actions, scale: Scale, found: Signals
    ) -> list[Outcome]:
        mode = effective_mode(scale.mode, self.switch)
        if mode is None or not (found.burning or found.calm):
            return []  # missing data freezes the current replicas
        if found.calm:
            since = self.calm_since.get(spec.service, self.clock())
            if self.clock() - since < parse_seconds(scale.give_back_after):
                return []
        saturation = await self._saturation(scale.saturation)
        if saturation is None:
            return []
        if found.burning and saturation <= scale.above:
            return []
        if found.calm and saturation >= scale.give_back_below:
            return []

        async def consider(stamp: Stamp) -> Considered:
            return await self._consider_scale(actions, scale, found, stamp)

        trigger = found.why() + f"; saturation {saturation:.3g}"
        return await self._carry_out(
            spec.service,
            actions,
            mode,
            parse_seconds(scale.cooldown),
            found,
            consider,
            trigger=trigger,
        )

    async def _consider_scale(
        self, actions: Actions, scale: Scale, found: Signals, stamp: Stamp
    ) -> Considered:
        target = actions.target
        workload = await self._read(ObjectRef(target.kind.value, target.namespace, target.name))
        action = Action.SCALE_UP if found.burning else Action.GIVE_BACK
        if scale.hpa is not None:
            obj = await self._read(
                ObjectRef("HorizontalPodAutoscaler", target.namespace, scale.hpa)
            )
            if owning_autoscaler(workload, [obj]) is None:
                reason = f"HorizontalPodAutoscaler {scale.hpa} scales another workload"
                return Considered(Skip(action, ref_of(obj), reason))
        else:
            owner = owning_autoscaler(
                workload, await self._list("HorizontalPodAutoscaler", target.namespace)
            )
            if owner is not None:
                reason = f"HorizontalPodAutoscaler {owner} owns its replicas; name it in `hpa`"
                return Considered(Skip(action, ref_of(workload), reason))
            obj = workload
        if found.burning:
            plan = scale_up(obj, step=scale.step, ceiling=scale.max_replicas, stamp=stamp)
        else:
            plan = give_back(obj, stamp=stamp)
        return Considered(plan, [obj, workload])

    async def _saturation(self, expr: str) -> float | None:
        """The saturation signal now (the highest if several series); None when unreadable."""
        try:
            samples = await self.source.query(expr, self.clock())
        except SourceError as exc:
            log.warning("saturation not read: %s", exc.reason, extra={"expr": expr})
            return None
        values = [v for _, v in samples if not math.isnan(v)]
        return max(values) if values else None

    # -- carrying a plan out ----------------------------------------------------------------

    async def _carry_out(
        self,
        service: str,
        actions: Actions,
        mode: Mode,
        cooldown: float,
        found: Signals,
        consider: Callable[[Stamp], Awaitable[Considered]],
        trigger: str = "",
    ) -> list[Outcome]:
        trigger = trigger or found.why()
        for attempt in range(1, CONFLICT_TRIES + 1):
            stamp = Stamp(self.clock(), uuid.uuid4().hex[:16])
            try:
                considered = await consider(stamp)
            except ClusterError as exc:
                log.warning("cannot read %s's workload: %s", service, exc)
                return []
            plan = considered.plan
            if isinstance(plan, Skip):
                log.info(
                    "no action",
                    extra={"service": service, "action": plan.action.value, "reason": plan.reason},
                )
                return []
            first = considered.objects[0]
            outcome = self._outcome(service, plan, first, mode, stamp, trigger)
            held = hold(
                considered.objects,
                plan.target,
                plan.action,
                now=stamp.at,
                cooldown_seconds=cooldown,
                max_per_hour=actions.max_per_hour,
                history=self.history,
            )
            if held is not None:
                held_outcome = _with(outcome, Result.HELD, held)
                await self.auditor.record(held_outcome)
                return [held_outcome]
            try:
                await asyncio.to_thread(
                    self.cluster.patch, plan.patch, dry_run=mode is Mode.DRY_RUN
                )
            except Conflict as exc:
                log.info("conflict, reading again", extra={"try": attempt, "error": str(exc)})
                if attempt == CONFLICT_TRIES:
                    failed = _with(outcome, Result.CONFLICT, str(exc))
                    await self.auditor.record(failed)
                    return [failed]
                continue
            except ClusterError as exc:
                failed = _with(outcome, Result.FAILED, str(exc))
                await self.auditor.record(failed)
                return [failed]
            self.history.append(Done(plan.target, plan.action, stamp.at))
            await self.auditor.record(outcome)
            return [outcome]
        return []

    def _outcome(
        self,
        service: str,
        plan: Plan,
        obj: Mapping[str, Any],
        mode: Mode,
        stamp: Stamp,
        trigger: str,
    ) -> Outcome:
        return Outcome(
            id=stamp.id,
            at=stamp.at,
            service=service,
            action=plan.action,
            target=plan.target,
            mode=mode.value,
            result=Result.DONE,
            summary=plan.summary,
            trigger=trigger,
            details=plan.details,
            uid=str(obj["metadata"].get("uid") or ""),
            api_version=str(obj.get("apiVersion") or ""),
            identity=self.identity,
        )

    def _track_calm(self, service: str, found: Signals) -> None:
        if found.calm:
            self.calm_since.setdefault(service, self.clock())
        else:
            self.calm_since.pop(service, None)

    def _forget(self, now: float) -> None:
        """History older than an hour (the longest anything looks back) is dropped."""
        self.history = [d for d in self.history if now - d.at < HOUR]

    async def _read(self, ref: ObjectRef) -> dict[str, Any]:
        return await asyncio.to_thread(self.cluster.read, ref)

    async def _list(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.cluster.list, kind, namespace)

    async def _replica_sets(self, deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
        labels = deployment["spec"]["selector"].get("matchLabels") or {}
        return await asyncio.to_thread(
            self.cluster.list, "ReplicaSet", deployment["metadata"]["namespace"], labels
        )


def _with(outcome: Outcome, result: Result, error: str) -> Outcome:
    return replace(outcome, result=result, error=error)
