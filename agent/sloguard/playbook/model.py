"""The records plans are made of: which object, which patch, which action and why."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# Annotations sloguard reads and writes on the objects it acts on.
PAUSED = "sloguard.io/paused"  # "true" on a target: sloguard leaves it alone
LAST_ACTION = "sloguard.io/last-action"  # JSON record of sloguard's last write (cooldowns)
REPLICAS_BEFORE = "sloguard.io/replicas-before"  # the floor or replicas before sloguard raised it


class Action(StrEnum):
    ABORT = "abort"  # Argo Rollout: status.abort
    UNDO = "undo"  # Deployment: back to the previous ReplicaSet's template
    SWITCH = "switch"  # blue-green Service: selector back to the other color
    SCALE_UP = "scale_up"  # raise the HPA floor or the Deployment's replicas
    GIVE_BACK = "give_back"  # return what scale_up added


ROLLBACKS = frozenset({Action.ABORT, Action.UNDO, Action.SWITCH})


class PatchType(StrEnum):
    MERGE = "merge"  # application/merge-patch+json
    JSON = "json"  # application/json-patch+json


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Patch:
    """One write. Every patch carries the `resourceVersion` it was planned from, so a change
    made in between is a 409, never overwritten."""

    ref: ObjectRef
    body: Any
    type: PatchType = PatchType.MERGE
    subresource: str | None = None


@dataclass(frozen=True)
class Plan:
    """An action worth taking: the write, and what to tell people about it."""

    action: Action
    target: ObjectRef
    patch: Patch
    summary: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """An action considered and not taken, with the reason."""

    action: Action
    target: ObjectRef
    reason: str


def ref_of(obj: Mapping[str, Any]) -> ObjectRef:
    meta = obj["metadata"]
    return ObjectRef(obj["kind"], meta.get("namespace", "default"), meta["name"])


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("annotations") or {})


def paused(obj: Mapping[str, Any]) -> bool:
    """Whether `obj` carries the kill switch `sloguard.io/paused: "true"`."""
    return annotations_of(obj).get(PAUSED, "").strip().lower() == "true"


def timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as the API writes it; None when absent."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


HOUR = 3600.0  # the span of the hourly cap


@dataclass(frozen=True)
class LastAction:
    """What the `sloguard.io/last-action` annotation records: the last write, and the times of
    every write in the hour before it (so the hourly cap survives restarts and leader changes)."""

    action: Action
    at: float
    id: str
    rolled_back_from: str = ""  # pod-template-hash or color sloguard moved away from
    recent: tuple[float, ...] = ()  # times of sloguard's writes within the hour, this one last

    def annotation(self) -> str:
        record: dict[str, Any] = {
            "action": self.action.value,
            "at": rfc3339(self.at),
            "id": self.id,
        }
        if self.rolled_back_from:
            record["rolledBackFrom"] = self.rolled_back_from
        if self.recent:
            record["recent"] = [rfc3339(t) for t in self.recent]
        return json.dumps(record, sort_keys=True)


@dataclass(frozen=True)
class Stamp:
    """When an action is taken and the correlation id its Event, log line, span and alert share."""

    at: float
    id: str

    def mark(self, obj: Mapping[str, Any], action: Action, rolled_back_from: str = "") -> str:
        """The `sloguard.io/last-action` annotation for `action` taken on `obj` now."""
        before = last_action(obj)
        earlier = before.recent if before is not None else ()
        recent = (*(t for t in earlier if self.at - t < HOUR), self.at)
        return LastAction(action, self.at, self.id, rolled_back_from, recent).annotation()


def last_action(obj: Mapping[str, Any]) -> LastAction | None:
    """The record on `obj`; a missing or unreadable one is no record (never an error)."""
    text = annotations_of(obj).get(LAST_ACTION)
    if not text:
        return None
    try:
        record = json.loads(text)
        at = timestamp(record["at"])
        assert at is not None
        recent = tuple(timestamp(t) or 0.0 for t in record.get("recent", []))
        return LastAction(
            Action(record["action"]),
            at,
            str(record["id"]),
            str(record.get("rolledBackFrom", "")),
            recent,
        )
    except (ValueError, KeyError, TypeError, AssertionError):
        return None
