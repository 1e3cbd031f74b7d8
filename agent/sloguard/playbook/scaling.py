"""Scaling plans: raise an HPA's floor (never `/scale` under an HPA: it would be overwritten),
or a Deployment's replicas when nothing else owns them, within a ceiling; give it back later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sloguard.playbook.model import (
    LAST_ACTION,
    REPLICAS_BEFORE,
    Action,
    Patch,
    Plan,
    Skip,
    Stamp,
    annotations_of,
    ref_of,
)


def scale_up(obj: Mapping[str, Any], *, step: int, ceiling: int, stamp: Stamp) -> Plan | Skip:
    """`step` more replicas on an HPA's `minReplicas` or a Deployment's `replicas`, at most
    `ceiling` (and an HPA's own `maxReplicas`); the first raise remembers the value before."""
    target = ref_of(obj)
    field, current = _replicas(obj)
    if obj["kind"] == "HorizontalPodAutoscaler":
        ceiling = min(ceiling, obj["spec"]["maxReplicas"])
    wanted = min(current + step, ceiling)
    if wanted <= current:
        return Skip(Action.SCALE_UP, target, f"{field} is {current}, at the ceiling {ceiling}")
    before = annotations_of(obj).get(REPLICAS_BEFORE, str(current))
    return Plan(
        Action.SCALE_UP,
        target,
        _patch(
            obj,
            field,
            wanted,
            {REPLICAS_BEFORE: before, LAST_ACTION: stamp.mark(obj, Action.SCALE_UP)},
        ),
        f"scale up {target}: {field} {current} -> {wanted} (ceiling {ceiling})",
        {"from": str(current), "to": str(wanted), "field": field},
    )


def give_back(obj: Mapping[str, Any], *, stamp: Stamp) -> Plan | Skip:
    """Return to the value before sloguard raised it."""
    target = ref_of(obj)
    before = annotations_of(obj).get(REPLICAS_BEFORE)
    if before is None:
        return Skip(Action.GIVE_BACK, target, "sloguard added no replicas")
    field, current = _replicas(obj)
    try:
        wanted = int(before)
    except ValueError:
        return Skip(Action.GIVE_BACK, target, f"unreadable {REPLICAS_BEFORE}: {before!r}")
    annotations: dict[str, str | None] = {
        REPLICAS_BEFORE: None,
        LAST_ACTION: stamp.mark(obj, Action.GIVE_BACK),
    }
    if current <= wanted:  # someone lowered it already: only forget the note
        wanted = current
    return Plan(
        Action.GIVE_BACK,
        target,
        _patch(obj, field, wanted, annotations),
        f"give back {target}: {field} {current} -> {wanted}",
        {"from": str(current), "to": str(wanted), "field": field},
    )


def owning_autoscaler(
    target: Mapping[str, Any], autoscalers: Sequence[Mapping[str, Any]]
) -> str | None:
    """The HPA scaling `target`, if any: its replicas are then the HPA's, not ours."""
    for hpa in autoscalers:
        ref = hpa["spec"].get("scaleTargetRef") or {}
        if ref.get("kind") == target["kind"] and ref.get("name") == target["metadata"]["name"]:
            return str(hpa["metadata"]["name"])
    return None


def _replicas(obj: Mapping[str, Any]) -> tuple[str, int]:
    if obj["kind"] == "HorizontalPodAutoscaler":
        return "minReplicas", int(obj["spec"].get("minReplicas") or 1)
    return "replicas", int(obj["spec"].get("replicas", 1))


def _patch(
    obj: Mapping[str, Any], field: str, value: int, annotations: Mapping[str, str | None]
) -> Patch:
    body = {
        "metadata": {
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "annotations": dict(annotations),
        },
        "spec": {field: value},
    }
    return Patch(ref_of(obj), body)
