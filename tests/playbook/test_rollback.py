"""Rollback plans from objects as the API serves them: the exact patch, or the reason for none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sloguard.playbook.model import LAST_ACTION, Action, PatchType, Plan, Skip, Stamp, last_action
from sloguard.playbook.rollback import (
    abort_rollout,
    newest_change,
    revisions,
    switch_service,
    undo_deployment,
)
from tests.support import scenes
from tests.support.fakeapi import FakeAPI

NOW = 1_800_000_000.0
STAMP = Stamp(NOW, "abc123")


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI(url="")  # the store alone: complete objects, no server


def mid_rollout(api: FakeAPI, *, age: float = 120, updated: int = 1) -> tuple[dict[str, Any], Any]:
    """checkout moving from shop:1 (revision 1) to shop:2 (revision 2, `age` seconds old)."""
    deployment = scenes.deployment(api, "checkout", "shop:2", updated=updated, revision=2)
    scenes.replica_set(api, deployment, "shop:1", 1, NOW - 86400, 2)
    scenes.replica_set(api, deployment, "shop:2", 2, NOW - age, 1)
    scenes.replica_set(api, scenes.deployment(api, "other", "x:1"), "x:1", 7, NOW, 1)
    return deployment, revisions(deployment, api.of_kind("ReplicaSet"))


def undo(deployment: dict[str, Any], history: Any, **overrides: Any) -> Plan | Skip:
    options: dict[str, Any] = {"now": NOW, "recent_seconds": 3600, "previous_healthy": True}
    return undo_deployment(deployment, history, stamp=STAMP, **{**options, **overrides})


def test_an_in_flight_canary_is_aborted_on_the_status_subresource(api: FakeAPI) -> None:
    rollout = scenes.rollout(api, "web", current="7f9c", stable="5d4b")
    plan = abort_rollout(rollout)
    assert isinstance(plan, Plan)
    assert plan.patch.subresource == "status"
    assert plan.patch.type is PatchType.MERGE
    assert plan.patch.body == {
        "metadata": {"resourceVersion": rollout["metadata"]["resourceVersion"]},
        "status": {"abort": True},
    }
    assert plan.details == {"from": "7f9c", "to": "5d4b"}


@pytest.mark.parametrize(
    ("current", "stable", "aborted", "reason"),
    [
        ("5d4b", "5d4b", False, "no update in flight"),
        ("7f9c", "5d4b", True, "already aborted"),
        ("", "5d4b", False, "no update in flight"),
    ],
)
def test_a_rollout_with_nothing_to_abort_is_left_alone(
    api: FakeAPI, current: str, stable: str, aborted: bool, reason: str
) -> None:
    plan = abort_rollout(
        scenes.rollout(api, "web", current=current, stable=stable, aborted=aborted)
    )
    assert isinstance(plan, Skip)
    assert reason in plan.reason


def test_revisions_are_the_deployments_own_replica_sets_by_revision(api: FakeAPI) -> None:
    deployment, history = mid_rollout(api)
    assert history.current["metadata"]["name"] == f"checkout-{scenes.template_hash('shop:2')}"
    assert history.previous["metadata"]["name"] == f"checkout-{scenes.template_hash('shop:1')}"
    assert newest_change(deployment, api.of_kind("ReplicaSet")) == NOW - 120


def test_undo_puts_the_previous_template_back_as_kubectl_does(api: FakeAPI) -> None:
    deployment, history = mid_rollout(api)
    plan = undo(deployment, history)
    assert isinstance(plan, Plan)
    assert plan.patch.type is PatchType.JSON
    version, template, annotations = plan.patch.body
    assert version == {
        "op": "replace",
        "path": "/metadata/resourceVersion",
        "value": deployment["metadata"]["resourceVersion"],
    }
    assert template == {
        "op": "replace",
        "path": "/spec/template",
        "value": scenes.template("checkout", "shop:1"),  # without pod-template-hash
    }
    assert annotations["path"] == "/metadata/annotations"
    assert annotations["value"]["deployment.kubernetes.io/revision"] == "2"  # not copied
    record = json.loads(annotations["value"][LAST_ACTION])
    assert record == {
        "action": "undo",
        "at": "2027-01-15T08:00:00Z",
        "id": "abc123",
        "rolledBackFrom": scenes.template_hash("shop:2"),
        "recent": ["2027-01-15T08:00:00Z"],
    }
    assert plan.details["from"] == "2" and plan.details["to"] == "1"


def test_an_old_revision_fully_rolled_out_is_not_undone(api: FakeAPI) -> None:
    deployment, history = mid_rollout(api, age=7200, updated=3)
    plan = undo(deployment, history)
    assert isinstance(plan, Skip) and "no recent change" in plan.reason


def test_an_old_revision_still_rolling_out_is_undone(api: FakeAPI) -> None:
    deployment, history = mid_rollout(api, age=7200, updated=1)
    assert isinstance(undo(deployment, history), Plan)


@pytest.mark.parametrize(("healthy", "word"), [(None, "unknown"), (False, "not healthy")])
def test_undo_needs_a_previous_revision_known_to_be_healthy(
    api: FakeAPI, healthy: bool | None, word: str
) -> None:
    deployment, history = mid_rollout(api)
    plan = undo(deployment, history, previous_healthy=healthy)
    assert isinstance(plan, Skip) and word in plan.reason


def test_undo_never_returns_to_the_revision_sloguard_rolled_back_from(api: FakeAPI) -> None:
    deployment, history = mid_rollout(api)
    first = undo(deployment, history)
    assert isinstance(first, Plan)
    # the controller made the old template revision 3; shop:2 is now the previous one
    after = api.put(
        {
            **deployment,
            "metadata": {**deployment["metadata"], "annotations": first.patch.body[2]["value"]},
            "spec": {**deployment["spec"], "template": scenes.template("checkout", "shop:1")},
        }
    )
    scenes.replica_set(api, after, "shop:1", 3, NOW - 30, 3)
    again = undo(after, revisions(after, api.of_kind("ReplicaSet")), now=NOW + 60)
    assert isinstance(again, Skip) and "sloguard rolled back from" in again.reason


def test_a_paused_deployment_or_one_without_history_is_not_undone(api: FakeAPI) -> None:
    deployment, history = mid_rollout(api)
    paused = {**deployment, "spec": {**deployment["spec"], "paused": True}}
    assert "paused" in undo(paused, history).reason  # type: ignore[union-attr]
    lone = scenes.deployment(api, "lone", "x:1")
    plan = undo(lone, revisions(lone, api.of_kind("ReplicaSet")))
    assert isinstance(plan, Skip) and "no previous revision" in plan.reason


def test_undo_is_skipped_when_the_template_already_matches(api: FakeAPI) -> None:
    deployment, history = mid_rollout(api)
    same = {
        **deployment,
        "spec": {**deployment["spec"], "template": scenes.template("checkout", "shop:1")},
    }
    plan = undo(same, history)
    assert isinstance(plan, Skip) and "already at" in plan.reason


def colors(api: FakeAPI, blue_available: int = 3) -> dict[str, dict[str, Any]]:
    return {
        "blue": scenes.deployment(api, "checkout-blue", "shop:1", available=blue_available),
        "green": scenes.deployment(api, "checkout-green", "shop:2"),
    }


def switch(
    api: FakeAPI, service: dict[str, Any], found: dict[str, Any], **overrides: Any
) -> Plan | Skip:
    options: dict[str, Any] = {"changed_at": NOW - 60, "now": NOW, "recent_seconds": 3600}
    return switch_service(service, "color", found, stamp=STAMP, **{**options, **overrides})


def test_blue_green_switches_the_service_back_to_the_other_color(api: FakeAPI) -> None:
    service = scenes.service(api, "checkout", "green")
    plan = switch(api, service, colors(api))
    assert isinstance(plan, Plan)
    assert plan.patch.type is PatchType.MERGE and plan.patch.subresource is None
    body = plan.patch.body
    assert body["spec"] == {"selector": {"color": "blue"}}
    assert body["metadata"]["resourceVersion"] == service["metadata"]["resourceVersion"]
    recorded = last_action({"metadata": {"annotations": body["metadata"]["annotations"]}})
    assert recorded is not None
    assert (recorded.action, recorded.rolled_back_from) == (Action.SWITCH, "green")


def test_blue_green_does_not_switch_to_a_color_that_cannot_take_the_traffic(api: FakeAPI) -> None:
    plan = switch(api, scenes.service(api, "checkout", "green"), colors(api, blue_available=1))
    assert isinstance(plan, Skip) and "1/3 replicas available" in plan.reason


def test_blue_green_without_a_recent_change_or_known_color_stays(api: FakeAPI) -> None:
    service = scenes.service(api, "checkout", "green")
    assert isinstance(switch(api, service, colors(api), changed_at=NOW - 7200), Skip)
    assert isinstance(switch(api, service, colors(api), changed_at=None), Skip)
    odd = scenes.service(api, "odd", "purple")
    plan = switch(api, odd, colors(api))
    assert isinstance(plan, Skip) and "purple" in plan.reason


def test_blue_green_never_switches_back_to_the_color_it_left(api: FakeAPI) -> None:
    service = scenes.service(api, "checkout", "green")
    plan = switch(api, service, colors(api))
    assert isinstance(plan, Plan)
    moved = api.put(
        {
            **service,
            "metadata": {
                **service["metadata"],
                "annotations": plan.patch.body["metadata"]["annotations"],
            },
            "spec": {**service["spec"], "selector": {"app": "checkout", "color": "blue"}},
        }
    )
    again = switch(api, moved, colors(api))
    assert isinstance(again, Skip) and "switched away from green" in again.reason
