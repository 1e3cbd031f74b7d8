"""The rules that hold an action back even when the signals call for it: the global switch, the
kill-switch annotation, cooldowns (surviving restarts and leader changes through the target's
own annotations) and a cap per hour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sloguard.playbook.model import (
    HOUR,
    PAUSED,
    ROLLBACKS,
    Action,
    ObjectRef,
    last_action,
    paused,
    timestamp,
)
from sloguard.spec.actions import Actions, Mode, WorkloadKind


class Switch(StrEnum):
    """The agent-wide switch (`sloguard run --actions`): it can only make actions safer."""

    OFF = "off"  # nothing, not even dry runs
    DRY_RUN = "dry-run"  # every action as a dry run, whatever the definitions say
    AS_DEFINED = "as-defined"  # each action's own `mode`


def effective_mode(defined: Mode, switch: Switch) -> Mode | None:
    """The mode an action runs in under `switch`; None: it does not run."""
    if switch is Switch.OFF:
        return None
    return Mode.DRY_RUN if switch is Switch.DRY_RUN else defined


def possible(actions: Actions, switch: Switch) -> list[tuple[Action, Mode]]:
    """Every action a service's `actions:` block lets the agent take, each in the mode it
    would run in under `switch`."""
    found: list[tuple[Action, Mode | None]] = []
    if actions.rollback is not None:
        if actions.rollback.blue_green is not None:
            back = Action.SWITCH
        else:
            back = Action.ABORT if actions.target.kind is WorkloadKind.ROLLOUT else Action.UNDO
        found.append((back, effective_mode(actions.rollback.mode, switch)))
    if actions.scale is not None:
        mode = effective_mode(actions.scale.mode, switch)
        found.extend([(Action.SCALE_UP, mode), (Action.GIVE_BACK, mode)])
    return [(action, mode) for action, mode in found if mode is not None]


@dataclass(frozen=True)
class Done:
    """An action this agent took (or dry-ran), for cooldowns and the hourly cap."""

    target: ObjectRef
    action: Action
    at: float


def hold(
    objects: Sequence[Mapping[str, Any]],
    target: ObjectRef,
    action: Action,
    *,
    now: float,
    cooldown_seconds: float,
    max_per_hour: int,
    history: Sequence[Done],
) -> str | None:
    """Why `action` on `target` must wait (None: it may go). `objects` are as read now: the
    object to change first (its annotations and status record what any sloguard replica did
    before), then the workload; the kill-switch annotation on any of them holds the action."""
    for obj in objects:
        if paused(obj):
            return f"paused by the {PAUSED} annotation on {obj['kind']} {obj['metadata']['name']}"
    obj = objects[0]
    family = ROLLBACKS if action in ROLLBACKS else frozenset(set(Action) - ROLLBACKS)
    times = [d.at for d in history if d.target == target and d.action in family]
    recorded = last_action(obj)
    if recorded is not None and recorded.action in family:
        times.append(recorded.at)
    aborted = timestamp((obj.get("status") or {}).get("abortedAt"))
    if aborted is not None and action in ROLLBACKS:
        times.append(aborted)
    if times and now - max(times) < cooldown_seconds:
        what = "rollback" if action in ROLLBACKS else "scaling"
        ago = now - max(times)
        return f"cooling down: last {what} {ago:.0f}s ago, {cooldown_seconds - ago:.0f}s to go"
    mine = sum(1 for d in history if d.target == target and now - d.at < HOUR)
    anyone = sum(1 for t in recorded.recent if now - t < HOUR) if recorded is not None else 0
    taken = max(mine, anyone)  # the record includes this replica's own writes
    if taken >= max_per_hour:
        return f"hourly cap reached: {taken} actions on {target} in the last hour"
    return None
