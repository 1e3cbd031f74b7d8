"""Scaling plans: raise the HPA floor (or a lone Deployment's replicas) in steps under a
ceiling, remember the value before, give exactly that back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sloguard.playbook.model import LAST_ACTION, REPLICAS_BEFORE, Plan, Skip, Stamp
from sloguard.playbook.scaling import give_back, owning_autoscaler, scale_up
from tests.support import scenes
from tests.support.fakeapi import FakeAPI, merge

STAMP = Stamp(1_800_000_000.0, "id1")


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI(url="")


def applied(obj: dict[str, Any], plan: Plan | Skip) -> dict[str, Any]:
    assert isinstance(plan, Plan)
    return merge(obj, plan.patch.body)  # type: ignore[no-any-return]


def test_the_hpa_floor_rises_by_a_step_and_remembers_where_it_was(api: FakeAPI) -> None:
    hpa = scenes.autoscaler(api, "checkout", "checkout", low=2, high=10)
    plan = scale_up(hpa, step=2, ceiling=8, stamp=STAMP)
    assert isinstance(plan, Plan)
    assert plan.patch.body["spec"] == {"minReplicas": 4}
    assert plan.patch.body["metadata"]["resourceVersion"] == hpa["metadata"]["resourceVersion"]
    annotations = plan.patch.body["metadata"]["annotations"]
    assert annotations[REPLICAS_BEFORE] == "2"
    assert json.loads(annotations[LAST_ACTION])["action"] == "scale_up"
    higher = applied(hpa, plan)
    again = scale_up(higher, step=2, ceiling=8, stamp=STAMP)
    assert again.patch.body["spec"] == {"minReplicas": 6}  # type: ignore[union-attr]
    assert again.patch.body["metadata"]["annotations"][REPLICAS_BEFORE] == "2"  # type: ignore[union-attr]


@pytest.mark.parametrize(("ceiling", "high", "expected"), [(6, 10, 6), (20, 3, 3), (3, 10, 3)])
def test_the_floor_never_passes_the_ceiling_or_the_hpas_maximum(
    api: FakeAPI, ceiling: int, high: int, expected: int
) -> None:
    hpa = scenes.autoscaler(api, "checkout", "checkout", low=2, high=high)
    plan = scale_up(hpa, step=5, ceiling=ceiling, stamp=STAMP)
    assert plan.patch.body["spec"] == {"minReplicas": expected}  # type: ignore[union-attr]
    at_top = applied(hpa, plan)
    stop = scale_up(at_top, step=1, ceiling=ceiling, stamp=STAMP)
    assert isinstance(stop, Skip) and f"at the ceiling {expected}" in stop.reason


def test_giving_back_returns_to_the_value_before_and_forgets_it(api: FakeAPI) -> None:
    hpa = scenes.autoscaler(api, "checkout", "checkout", low=2)
    raised = applied(hpa, scale_up(hpa, step=3, ceiling=10, stamp=STAMP))
    plan = give_back(raised, stamp=STAMP)
    back = applied(raised, plan)
    assert back["spec"]["minReplicas"] == 2
    assert REPLICAS_BEFORE not in back["metadata"]["annotations"]
    assert json.loads(back["metadata"]["annotations"][LAST_ACTION])["action"] == "give_back"
    assert isinstance(give_back(back, stamp=STAMP), Skip)


def test_giving_back_never_raises_what_someone_lowered_meanwhile(api: FakeAPI) -> None:
    hpa = scenes.autoscaler(api, "checkout", "checkout", low=1)
    hpa["metadata"]["annotations"] = {REPLICAS_BEFORE: "3"}
    plan = give_back(hpa, stamp=STAMP)
    assert plan.patch.body["spec"] == {"minReplicas": 1}  # type: ignore[union-attr]


def test_a_deployment_without_an_autoscaler_gets_replicas(api: FakeAPI) -> None:
    deployment = scenes.deployment(api, "worker", "w:1", replicas=2)
    plan = scale_up(deployment, step=1, ceiling=5, stamp=STAMP)
    assert plan.patch.body["spec"] == {"replicas": 3}  # type: ignore[union-attr]
    assert plan.patch.ref.kind == "Deployment" and plan.patch.subresource is None  # type: ignore[union-attr]


def test_an_autoscaler_owning_the_workload_is_found(api: FakeAPI) -> None:
    deployment = scenes.deployment(api, "worker", "w:1")
    other = scenes.autoscaler(api, "other", "other")
    assert owning_autoscaler(deployment, [other]) is None
    owner = scenes.autoscaler(api, "worker-hpa", "worker")
    assert owning_autoscaler(deployment, [other, owner]) == "worker-hpa"
