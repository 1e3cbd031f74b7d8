"""The actor against the fake API through the real `kubernetes` client: each action's exact calls,
dry runs that change nothing, cooldowns and the hourly cap, 409s read again, the kill switches,
and nothing at all on missing data."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sloguard.evaluation.model import Status
from sloguard.playbook.model import LAST_ACTION, PAUSED, REPLICAS_BEFORE
from sloguard.playbook.safety import Switch
from tests.support import scenes
from tests.support.actions import DEPLOYMENT, NOW, Rig, evaluation, mid_rollout, rollback, spec
from tests.support.fakeapi import JSON_PATCH, MERGE

pytestmark = pytest.mark.integration  # starts real processes or servers

BASE = "/apis/apps/v1/namespaces/shop"
PAGING = [evaluation("availability", Status.CRITICAL)]


def act(rig: Rig, actions: dict[str, Any], evaluations: list[Any] = PAGING, **kw: Any) -> Any:
    return asyncio.run(rig.actor(**kw).act([spec(actions)], evaluations))


def calls(rig: Rig) -> list[tuple[str, str]]:
    return [
        (c.method, c.path + ("?dryRun=All" if c.query.get("dryRun") else "")) for c in rig.api.calls
    ]


def test_an_outage_during_a_rollout_undoes_the_deployment(rig: Rig) -> None:
    mid_rollout(rig)
    [outcome] = act(rig, rollback())
    assert calls(rig) == [
        ("GET", f"{BASE}/deployments/checkout"),
        ("GET", f"{BASE}/replicasets"),
        ("PATCH", f"{BASE}/deployments/checkout"),
        ("POST", "/api/v1/namespaces/shop/events"),
    ]
    assert rig.api.calls[1].query["labelSelector"] == ["app=checkout"]
    assert rig.api.calls[2].content_type == JSON_PATCH
    assert rig.judge.asked == [NOW - 120 - 60]  # the SLOs a minute before shop:2 appeared
    after = rig.api.get("Deployment", "shop", "checkout")
    assert after["spec"]["template"] == scenes.template("checkout", "shop:1")
    record = json.loads(after["metadata"]["annotations"][LAST_ACTION])
    assert record["action"] == "undo" and record["id"] == outcome.id
    assert (outcome.action.value, outcome.mode, outcome.result.value) == ("undo", "enforce", "done")
    [event] = rig.api.of_kind("Event")
    assert event["reason"] == "SloguardUndo" and event["type"] == "Warning"
    assert event["involvedObject"]["uid"] == after["metadata"]["uid"]
    assert outcome.id in event["message"] and "page condition holds" in event["message"]
    [line] = rig.audit()
    assert line["id"] == outcome.id and line["result"] == "done" and line["details"]["to"] == "1"
    assert rig.count("undo", "enforce", "done") == 1
    [span] = rig.spans.get_finished_spans()
    assert span.name == "sloguard undo" and span.attributes["sloguard.action.id"] == outcome.id


def test_a_dry_run_is_checked_by_the_api_and_changes_nothing(rig: Rig) -> None:
    before = mid_rollout(rig)
    [outcome] = act(rig, rollback("dry-run"))
    assert ("PATCH", f"{BASE}/deployments/checkout?dryRun=All") in calls(rig)
    after = rig.api.get("Deployment", "shop", "checkout")
    assert after == before
    assert (outcome.mode, outcome.result.value) == ("dry-run", "done")
    [event] = rig.api.of_kind("Event")
    assert event["reason"] == "SloguardUndoDryRun" and event["type"] == "Normal"
    assert rig.audit()[0]["mode"] == "dry-run"
    assert rig.count("undo", "dry-run", "done") == 1


def test_the_global_switch_forces_dry_runs_or_stops_everything(rig: Rig) -> None:
    before = mid_rollout(rig)
    [outcome] = act(rig, rollback(), switch=Switch.DRY_RUN)
    assert outcome.mode == "dry-run" and rig.api.get("Deployment", "shop", "checkout") == before
    rig.api.calls.clear()
    assert act(rig, rollback(), switch=Switch.OFF) == []
    assert rig.api.calls == []


def test_an_in_flight_canary_is_aborted(rig: Rig) -> None:
    scenes.rollout(rig.api, "checkout", current="7f9c", stable="5d4b")
    [outcome] = act(
        rig, {"target": {**DEPLOYMENT, "kind": "Rollout"}, "rollback": {"mode": "enforce"}}
    )
    rollouts = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/checkout"
    assert calls(rig)[:2] == [("GET", rollouts), ("PATCH", f"{rollouts}/status")]
    assert rig.api.calls[1].content_type == MERGE
    assert rig.api.calls[1].body["status"] == {"abort": True}
    assert rig.api.get("Rollout", "shop", "checkout")["status"]["abort"] is True
    assert outcome.summary == "abort Rollout shop/checkout: canary 7f9c back to stable 5d4b"


def test_blue_green_switches_the_service_back(rig: Rig) -> None:
    scenes.service(rig.api, "checkout", "green")
    scenes.deployment(rig.api, "checkout-blue", "shop:1")
    green = scenes.deployment(rig.api, "checkout-green", "shop:2")
    scenes.replica_set(rig.api, green, "shop:2", 1, NOW - 300, 3)
    actions = rollback(
        blue_green={
            "service": "checkout",
            "colors": {"blue": "checkout-blue", "green": "checkout-green"},
        }
    )
    [outcome] = act(rig, actions)
    assert outcome.action.value == "switch"
    patch = next(c for c in rig.api.calls if c.method == "PATCH")
    assert patch.path == "/api/v1/namespaces/shop/services/checkout" and patch.content_type == MERGE
    assert rig.api.get("Service", "shop", "checkout")["spec"]["selector"] == {
        "app": "checkout",
        "color": "blue",
    }


def test_no_second_rollback_within_the_cooldown_even_from_another_replica(rig: Rig) -> None:
    mid_rollout(rig)
    actor = rig.actor()
    [first] = asyncio.run(actor.act([spec(rollback())], PAGING))
    # the controller rolls the old template out as revision 3; then someone deploys shop:3
    deployment = rig.api.get("Deployment", "shop", "checkout")
    scenes.replica_set(rig.api, deployment, "shop:1", 3, NOW + 5, 2)
    deployment["spec"]["template"] = scenes.template("checkout", "shop:3")
    deployment = rig.api.put(deployment)
    scenes.replica_set(rig.api, deployment, "shop:3", 4, NOW + 30, 1)
    rig.clock.now = NOW + 60
    [again] = asyncio.run(actor.act([spec(rollback())], PAGING))
    [other] = act(rig, rollback())  # a new leader: no memory, reads the annotation
    for held in (again, other):
        assert held.result.value == "held" and "cooling down" in held.error
    assert sum(c.method == "PATCH" for c in rig.api.calls) == 1
    assert rig.count("undo", "enforce", "held") == 2
    assert len(rig.api.of_kind("Event")) == 1  # a hold is logged and counted, not an Event
    rig.clock.now = NOW + 601  # cooled down: shop:3 goes back to shop:1
    [later] = act(rig, rollback())
    assert (first.result.value, later.result.value) == ("done", "done")
    assert later.details["to"] == "3"


def test_a_conflict_is_read_again_and_planned_again(rig: Rig) -> None:
    mid_rollout(rig)

    def someone_else_writes() -> None:
        current = rig.api.get("Deployment", "shop", "checkout")
        current["metadata"]["labels"]["touched"] = "yes"
        rig.api.put(current)

    rig.api.before_write.append(someone_else_writes)
    [outcome] = act(rig, rollback())
    assert outcome.result.value == "done"
    patches = [c for c in rig.api.calls if c.method == "PATCH"]
    assert len(patches) == 2
    assert patches[0].body[0]["value"] != patches[1].body[0]["value"]  # the newer version
    after = rig.api.get("Deployment", "shop", "checkout")
    assert after["metadata"]["labels"]["touched"] == "yes"  # their change kept
    assert after["spec"]["template"] == scenes.template("checkout", "shop:1")  # ours applied


def test_conflicts_that_never_end_are_given_up_and_reported(rig: Rig) -> None:
    mid_rollout(rig)

    def someone_else_writes() -> None:
        rig.api.put(rig.api.get("Deployment", "shop", "checkout"))

    rig.api.before_write.extend([someone_else_writes] * 3)
    [outcome] = act(rig, rollback())
    assert outcome.result.value == "conflict" and "409" in outcome.error
    assert rig.count("undo", "enforce", "conflict") == 1
    assert rig.api.get("Deployment", "shop", "checkout")["spec"]["template"] == scenes.template(
        "checkout", "shop:2"
    )


def test_rbac_refusing_the_write_is_a_failure_on_record(rig: Rig) -> None:
    mid_rollout(rig)
    rig.api.forbidden.add(("patch", "deployments"))
    [outcome] = act(rig, rollback())
    assert outcome.result.value == "failed" and "403" in outcome.error
    [event] = rig.api.of_kind("Event")
    assert event["reason"] == "SloguardUndoFailed" and event["type"] == "Warning"
    assert rig.audit()[0]["error"].startswith("patch Deployment shop/checkout: 403")


def test_missing_data_never_rolls_back_or_scales_in(rig: Rig) -> None:
    mid_rollout(rig)
    scenes.autoscaler(rig.api, "checkout", "checkout", low=5)
    actions = {**rollback(), "scale": scale()}
    assert act(rig, actions, [evaluation("availability", Status.NO_DATA)]) == []
    rig.clock.now = NOW + 86400
    assert act(rig, actions, [evaluation("availability", Status.NO_DATA)]) == []
    assert rig.api.calls == []


def test_a_previous_revision_that_was_not_healthy_is_not_returned_to(rig: Rig) -> None:
    mid_rollout(rig)
    rig.judge.before = Status.CRITICAL
    assert act(rig, rollback()) == []
    rig.judge.before = Status.NO_DATA
    assert act(rig, rollback()) == []
    assert not any(c.method == "PATCH" for c in rig.api.calls)


def test_the_paused_annotation_holds_every_action_on_the_target(rig: Rig) -> None:
    deployment = mid_rollout(rig)
    deployment["metadata"]["annotations"][PAUSED] = "true"
    rig.api.put(deployment)
    [outcome] = act(rig, rollback())
    assert outcome.result.value == "held" and PAUSED in outcome.error
    assert not any(c.method == "PATCH" for c in rig.api.calls)


def test_a_replica_that_does_not_lead_only_watches(rig: Rig) -> None:
    mid_rollout(rig)
    assert act(rig, rollback(), leading=False) == []
    assert rig.api.calls == []


def scale(**extra: Any) -> dict[str, Any]:
    return {
        "mode": "enforce",
        "saturation": "avg(rate(container_cpu_usage_seconds_total[5m]))",
        "above": 0.8,
        "hpa": "checkout",
        "step": 2,
        "max_replicas": 6,
        "cooldown": "5m",
        "give_back_after": "15m",
        **extra,
    }


def burning() -> list[Any]:
    return [evaluation("availability", Status.WARNING)]


def test_a_burning_saturated_service_gets_a_higher_hpa_floor_in_steps_to_the_ceiling(
    rig: Rig,
) -> None:
    scenes.deployment(rig.api, "checkout", "shop:1", replicas=2)
    scenes.autoscaler(rig.api, "checkout", "checkout", low=2, high=10)
    rig.saturation.value = 0.95
    actions = {"target": DEPLOYMENT, "scale": scale(), "max_per_hour": 10}
    floors = []
    for minute in range(0, 30, 6):  # past the 5m cooldown each time
        rig.clock.now = NOW + minute * 60
        act(rig, actions, burning())
        floors.append(
            rig.api.get("HorizontalPodAutoscaler", "shop", "checkout")["spec"]["minReplicas"]
        )
    assert floors == [4, 6, 6, 6, 6]
    hpa = rig.api.get("HorizontalPodAutoscaler", "shop", "checkout")
    assert hpa["metadata"]["annotations"][REPLICAS_BEFORE] == "2"
    assert rig.saturation.asked[0] == "avg(rate(container_cpu_usage_seconds_total[5m]))"
    patch = next(c for c in rig.api.calls if c.method == "PATCH")
    assert patch.path == "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/checkout"
    assert not any("/scale" in c.path for c in rig.api.calls)  # never under an HPA


def test_no_scaling_without_saturation_or_without_a_reading(rig: Rig) -> None:
    scenes.autoscaler(rig.api, "checkout", "checkout", low=2)
    actions = {"target": DEPLOYMENT, "scale": scale()}
    rig.saturation.value = 0.5
    assert act(rig, actions, burning()) == []
    rig.saturation.value = None
    assert act(rig, actions, burning()) == []
    assert rig.api.calls == []


def test_added_replicas_are_given_back_after_a_calm_spell_below_the_band(rig: Rig) -> None:
    scenes.deployment(rig.api, "checkout", "shop:1", replicas=2)
    scenes.autoscaler(rig.api, "checkout", "checkout", low=2)
    actions = {"target": DEPLOYMENT, "scale": scale()}
    rig.saturation.value = 0.95
    actor = rig.actor()
    asyncio.run(actor.act([spec(actions)], burning()))
    calm = [evaluation("availability", Status.OK)]
    rig.saturation.value = 0.7  # under `above` but not under the 0.64 band: keep
    for minutes in (1, 10, 20):
        rig.clock.now = NOW + minutes * 60
        assert asyncio.run(actor.act([spec(actions)], calm)) == []
    rig.saturation.value = 0.3
    rig.clock.now = NOW + 14 * 60 + 60 * 20  # calm for 20 minutes
    [outcome] = asyncio.run(actor.act([spec(actions)], calm))
    assert outcome.action.value == "give_back"
    hpa = rig.api.get("HorizontalPodAutoscaler", "shop", "checkout")
    assert hpa["spec"]["minReplicas"] == 2 and REPLICAS_BEFORE not in hpa["metadata"]["annotations"]


def test_a_deployment_owned_by_an_hpa_is_never_scaled_directly(rig: Rig) -> None:
    scenes.deployment(rig.api, "checkout", "shop:1", replicas=2)
    scenes.autoscaler(rig.api, "checkout-hpa", "checkout")
    rig.saturation.value = 0.95
    assert act(rig, {"target": DEPLOYMENT, "scale": scale(hpa=None)}, burning()) == []
    assert not any(c.method == "PATCH" for c in rig.api.calls)


def test_a_lone_deployment_is_scaled_by_its_replicas(rig: Rig) -> None:
    scenes.deployment(rig.api, "checkout", "shop:1", replicas=2)
    rig.saturation.value = 0.95
    [outcome] = act(rig, {"target": DEPLOYMENT, "scale": scale(hpa=None)}, burning())
    assert rig.api.get("Deployment", "shop", "checkout")["spec"]["replicas"] == 4
    assert outcome.details == {"from": "2", "to": "4", "field": "replicas"}


def test_the_hourly_cap_holds_once_reached_whichever_replica_leads(rig: Rig) -> None:
    scenes.deployment(rig.api, "checkout", "shop:1", replicas=2)
    scenes.autoscaler(rig.api, "checkout", "checkout", low=1, high=20)
    rig.saturation.value = 0.95
    actions = {
        "target": DEPLOYMENT,
        "scale": scale(step=1, max_replicas=20, cooldown="1m"),
        "max_per_hour": 3,
    }
    results = []
    for minute in range(0, 10, 2):
        rig.clock.now = NOW + minute * 60
        actor = rig.actor()  # a new leader every time: the record on the HPA still counts
        [outcome] = asyncio.run(actor.act([spec(actions)], burning()))
        results.append(outcome.result.value)
    assert results == ["done", "done", "done", "held", "held"]
    assert rig.api.get("HorizontalPodAutoscaler", "shop", "checkout")["spec"]["minReplicas"] == 4


def test_a_paused_color_holds_the_blue_green_switch(rig: Rig) -> None:
    scenes.service(rig.api, "checkout", "green")
    scenes.deployment(rig.api, "checkout-blue", "shop:1", annotations={PAUSED: "true"})
    green = scenes.deployment(rig.api, "checkout-green", "shop:2")
    scenes.replica_set(rig.api, green, "shop:2", 1, NOW - 300, 3)
    colors = {"blue": "checkout-blue", "green": "checkout-green"}
    [outcome] = act(rig, rollback(blue_green={"service": "checkout", "colors": colors}))
    assert outcome.result.value == "held" and "checkout-blue" in outcome.error
    assert not any(c.method == "PATCH" for c in rig.api.calls)
