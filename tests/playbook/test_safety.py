"""The safety rules: the global switch only makes things safer; the kill switch, cooldowns (also
from what another replica recorded on the object) and the hourly cap hold actions back."""

from __future__ import annotations

from typing import Any

import pytest

from sloguard.playbook.model import LAST_ACTION, PAUSED, Action, ObjectRef, Stamp, last_action
from sloguard.playbook.safety import Done, Switch, effective_mode, hold, possible
from sloguard.spec.actions import Actions, Mode

NOW = 1_800_000_000.0
TARGET = ObjectRef("Deployment", "shop", "checkout")


def obj(
    annotations: dict[str, str] | None = None, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "checkout", "annotations": annotations or {}},
        "status": status or {},
    }


def held(
    objects: list[dict[str, Any]],
    action: Action = Action.UNDO,
    history: list[Done] | None = None,
    cap: int = 3,
) -> str | None:
    return hold(
        objects,
        TARGET,
        action,
        now=NOW,
        cooldown_seconds=600,
        max_per_hour=cap,
        history=history or [],
    )


@pytest.mark.parametrize(
    ("defined", "switch", "expected"),
    [
        (Mode.ENFORCE, Switch.AS_DEFINED, Mode.ENFORCE),
        (Mode.DRY_RUN, Switch.AS_DEFINED, Mode.DRY_RUN),
        (Mode.ENFORCE, Switch.DRY_RUN, Mode.DRY_RUN),
        (Mode.DRY_RUN, Switch.DRY_RUN, Mode.DRY_RUN),
        (Mode.ENFORCE, Switch.OFF, None),
    ],
)
def test_the_global_switch_only_makes_actions_safer(
    defined: Mode, switch: Switch, expected: Mode | None
) -> None:
    assert effective_mode(defined, switch) is expected


def test_the_actions_a_block_allows_each_in_its_mode() -> None:
    def block(kind: str = "Deployment", **fields: Any) -> Actions:
        return Actions.model_validate({"target": {"kind": kind, "name": "web"}, **fields})

    scale = {"mode": "enforce", "saturation": "vector(1)", "above": 1, "max_replicas": 4}
    assert possible(block(rollback={}, scale=scale), Switch.AS_DEFINED) == [
        (Action.UNDO, Mode.DRY_RUN),
        (Action.SCALE_UP, Mode.ENFORCE),
        (Action.GIVE_BACK, Mode.ENFORCE),
    ]
    rollout = block("Rollout", rollback={"mode": "enforce"})
    assert possible(rollout, Switch.DRY_RUN) == [(Action.ABORT, Mode.DRY_RUN)]
    colors = {"service": "web", "colors": {"blue": "web-blue", "green": "web-green"}}
    assert possible(block(rollback={"blue_green": colors}), Switch.AS_DEFINED) == [
        (Action.SWITCH, Mode.DRY_RUN)
    ]
    assert possible(block(rollback={}, scale=scale), Switch.OFF) == []
    assert possible(block(), Switch.AS_DEFINED) == []


def test_nothing_holds_a_first_action() -> None:
    assert held([obj()]) is None


@pytest.mark.parametrize("value", ["true", "True", " true "])
def test_the_paused_annotation_on_any_object_holds_the_action(value: str) -> None:
    service = {"kind": "Service", "metadata": {"name": "checkout"}}
    assert "paused" in (held([service, obj({PAUSED: value})]) or "")
    assert held([obj({PAUSED: "false"})]) is None


def test_a_recent_action_of_this_agent_cools_the_target_down() -> None:
    history = [Done(TARGET, Action.UNDO, NOW - 300)]
    assert held([obj()], history=history) == "cooling down: last rollback 300s ago, 300s to go"
    assert held([obj()], history=[Done(TARGET, Action.UNDO, NOW - 601)]) is None
    other = ObjectRef("Deployment", "shop", "other")
    assert held([obj()], history=[Done(other, Action.UNDO, NOW - 10)]) is None


def test_a_rollback_recorded_on_the_object_by_another_replica_cools_it_down() -> None:
    recorded = Stamp(NOW - 120, "x").mark(obj(), Action.UNDO)
    assert "cooling down" in (held([obj({LAST_ACTION: recorded})]) or "")
    assert "cooling down" in (
        held([obj(status={"abortedAt": "2027-01-15T07:59:00Z"})], Action.ABORT) or ""
    )


def test_scaling_and_rollback_cool_down_separately() -> None:
    history = [Done(TARGET, Action.SCALE_UP, NOW - 10)]
    assert held([obj()], Action.UNDO, history) is None
    assert "last scaling" in (held([obj()], Action.GIVE_BACK, history) or "")


def test_the_hourly_cap_counts_every_action_on_the_target() -> None:
    history = [Done(TARGET, Action.SCALE_UP, NOW - 3000), Done(TARGET, Action.UNDO, NOW - 2000)]
    assert "hourly cap reached: 2 actions" in (held([obj()], history=history, cap=2) or "")
    assert held([obj()], history=history, cap=3) is None


def test_an_unreadable_record_is_no_record() -> None:
    assert held([obj({LAST_ACTION: "{not json"})]) is None


def test_the_hourly_cap_counts_what_other_replicas_recorded_on_the_object() -> None:
    target = obj()
    for minutes_ago in (90, 50, 30, 20):  # the first falls out of the hour
        stamp = Stamp(NOW - minutes_ago * 60, f"id{minutes_ago}")
        target = obj({LAST_ACTION: stamp.mark(target, Action.SCALE_UP)})
    recorded = last_action(target)
    assert recorded is not None and len(recorded.recent) == 3
    assert "hourly cap reached: 3 actions" in (held([target], Action.SCALE_UP, cap=3) or "")
    assert held([target], Action.SCALE_UP, cap=4) is None
