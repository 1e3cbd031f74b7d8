"""Rollback plans: abort an Argo Rollout, undo a Deployment to its previous revision (as
`kubectl rollout undo` does), switch a blue-green Service back to the other color."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sloguard.playbook.model import (
    LAST_ACTION,
    Action,
    Patch,
    PatchType,
    Plan,
    Skip,
    Stamp,
    annotations_of,
    last_action,
    ref_of,
    timestamp,
)

REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
# Annotations a ReplicaSet carries that must not travel to the Deployment on undo (kubectl's list).
_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


def abort_rollout(rollout: Mapping[str, Any]) -> Plan | Skip:
    """Abort an update in flight: traffic returns to the stable ReplicaSet, the spec stays."""
    target = ref_of(rollout)
    state = rollout.get("status") or {}
    if state.get("abort"):
        return Skip(Action.ABORT, target, "already aborted")
    current, stable = state.get("currentPodHash"), state.get("stableRS")
    if not current or not stable or current == stable:
        return Skip(Action.ABORT, target, "no update in flight (the stable revision serves)")
    body = {
        "metadata": {"resourceVersion": rollout["metadata"]["resourceVersion"]},
        "status": {"abort": True},
    }
    return Plan(
        Action.ABORT,
        target,
        Patch(target, body, PatchType.MERGE, subresource="status"),
        f"abort {target}: canary {current} back to stable {stable}",
        {"from": current, "to": stable},
    )


@dataclass(frozen=True)
class Revisions:
    """A Deployment's current ReplicaSet and the one before it (None: no history)."""

    current: Mapping[str, Any] | None
    previous: Mapping[str, Any] | None


def revisions(
    deployment: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]]
) -> Revisions:
    """The Deployment's own ReplicaSets by revision: the highest is current."""
    uid = deployment["metadata"].get("uid")
    owned = [
        rs
        for rs in replica_sets
        if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])
        and _revision(rs) is not None
    ]
    owned.sort(key=lambda rs: _revision(rs) or 0, reverse=True)
    current = owned[0] if owned else None
    previous = owned[1] if len(owned) > 1 else None
    return Revisions(current, previous)


def undo_deployment(
    deployment: Mapping[str, Any],
    history: Revisions,
    *,
    now: float,
    recent_seconds: float,
    previous_healthy: bool | None,
    stamp: Stamp,
) -> Plan | Skip:
    """Put the previous revision's pod template back, only when a change is recent or in
    flight and the service met its SLO before the change (`previous_healthy`)."""
    target = ref_of(deployment)
    if deployment["spec"].get("paused"):
        return Skip(Action.UNDO, target, "the Deployment is paused (kubectl cannot undo it either)")
    current, previous = history.current, history.previous
    if current is None or previous is None:
        return Skip(Action.UNDO, target, "no previous revision to return to")
    previous_hash = _template_hash(previous)
    done = last_action(deployment)
    if done is not None and done.rolled_back_from and done.rolled_back_from == previous_hash:
        return Skip(
            Action.UNDO,
            target,
            f"revision {_revision(previous)} is the one sloguard rolled back from",
        )
    template = _bare_template(previous)
    if template == _bare_template(deployment):
        return Skip(
            Action.UNDO, target, f"already at the template of revision {_revision(previous)}"
        )
    created = timestamp(current["metadata"].get("creationTimestamp"))
    in_flight = _in_flight(deployment)
    if not in_flight and (created is None or now - created > recent_seconds):
        return Skip(Action.UNDO, target, "no recent change and no rollout in flight")
    if previous_healthy is not True:
        why = "unknown" if previous_healthy is None else "not healthy either"
        return Skip(
            Action.UNDO, target, f"the service before revision {_revision(current)} was {why}"
        )
    annotations = annotations_of(deployment)
    annotations.update({k: v for k, v in annotations_of(previous).items() if k not in _NOT_COPIED})
    annotations[LAST_ACTION] = stamp.mark(deployment, Action.UNDO, _template_hash(current))
    body = [
        # the version read: a Deployment changed since is a 409, not overwritten
        {
            "op": "replace",
            "path": "/metadata/resourceVersion",
            "value": deployment["metadata"]["resourceVersion"],
        },
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]
    return Plan(
        Action.UNDO,
        target,
        Patch(target, body, PatchType.JSON),
        f"undo {target}: revision {_revision(current)} back to {_revision(previous)}",
        {
            "from": str(_revision(current)),
            "to": str(_revision(previous)),
            "from_hash": _template_hash(current),
            "to_hash": previous_hash,
        },
    )


def switch_service(
    service: Mapping[str, Any],
    label: str,
    colors: Mapping[str, Mapping[str, Any]],
    *,
    changed_at: float | None,
    now: float,
    recent_seconds: float,
    stamp: Stamp,
) -> Plan | Skip:
    """Point the Service back at the other color, when the active one changed recently and the
    other still has every replica available to take the traffic."""
    target = ref_of(service)
    active = str((service["spec"].get("selector") or {}).get(label))
    if active not in colors:
        return Skip(Action.SWITCH, target, f"selector {label}={active!r} names no known color")
    [other] = [color for color in colors if color != active]
    done = last_action(service)
    if done is not None and done.rolled_back_from == other:
        return Skip(Action.SWITCH, target, f"sloguard switched away from {other}; not back to it")
    if changed_at is None or now - changed_at > recent_seconds:
        return Skip(Action.SWITCH, target, f"{active} has not changed recently")
    standby = colors[other]
    wanted = standby["spec"].get("replicas", 1)
    available = (standby.get("status") or {}).get("availableReplicas") or 0
    if wanted < 1 or available < wanted:
        return Skip(Action.SWITCH, target, f"{other} has {available}/{wanted} replicas available")
    body = {
        "metadata": {
            "resourceVersion": service["metadata"]["resourceVersion"],
            "annotations": {LAST_ACTION: stamp.mark(service, Action.SWITCH, active)},
        },
        "spec": {"selector": {label: other}},
    }
    return Plan(
        Action.SWITCH,
        target,
        Patch(target, body),
        f"switch {target}: {label} {active} back to {other}",
        {"from": active, "to": other},
    )


def newest_change(
    deployment: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]]
) -> float | None:
    """When the Deployment's current revision was created."""
    current = revisions(deployment, replica_sets).current
    return None if current is None else timestamp(current["metadata"].get("creationTimestamp"))


def _revision(rs: Mapping[str, Any]) -> int | None:
    try:
        return int(annotations_of(rs)[REVISION])
    except (KeyError, ValueError):
        return None


def _template_hash(rs: Mapping[str, Any]) -> str:
    labels = rs["metadata"].get("labels") or {}
    return str(labels.get(TEMPLATE_HASH, ""))


def _bare_template(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A pod template without the `pod-template-hash` label the ReplicaSet adds."""
    template = copy.deepcopy(dict(obj["spec"]["template"]))
    labels = template.get("metadata", {}).get("labels")
    if labels:
        labels.pop(TEMPLATE_HASH, None)
    return template


def _in_flight(deployment: Mapping[str, Any]) -> bool:
    """A rollout still progressing: not observed yet, or not every replica updated."""
    meta, spec, state = deployment["metadata"], deployment["spec"], deployment.get("status") or {}
    if state.get("observedGeneration", 0) < meta.get("generation", 0):
        return True
    return bool((state.get("updatedReplicas") or 0) < spec.get("replicas", 1))


def control_rollout(rollout: Mapping[str, Any], verb: str) -> list[Patch]:
    """The patches of `kubectl argo rollouts abort|retry|promote`, for operators: merge
    patches on `status` (and `spec` to unpause), harmless when repeated."""
    target = ref_of(rollout)
    if verb == "abort":
        return [Patch(target, {"status": {"abort": True}}, subresource="status")]
    if verb == "retry":
        return [Patch(target, {"status": {"abort": False}}, subresource="status")]
    if verb != "promote":
        raise ValueError(f"unknown rollout command {verb!r}")
    patches = []
    if (rollout.get("spec") or {}).get("paused"):
        patches.append(Patch(target, {"spec": {"paused": False}}))
    unpause = {"pauseConditions": None, "controllerPause": False}
    patches.append(Patch(target, {"status": unpause}, subresource="status"))
    return patches
