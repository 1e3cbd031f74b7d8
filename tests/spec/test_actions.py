"""The `actions:` block: safe defaults, and every mistake named by file, line and field."""

from __future__ import annotations

import textwrap

import pytest

from sloguard.spec.actions import Actions, Mode
from tests.support.validation import GOOD, only_problem

ACTIONS = """\
actions:
  target: {kind: Deployment, name: api, namespace: shop}
  slos: [availability]
  rollback: {}
  scale:
    saturation: avg(rate(cpu[5m]))
    above: 0.8
    hpa: api
    max_replicas: 10
"""


def with_actions(block: str = ACTIONS) -> str:
    return GOOD + textwrap.dedent(block)


def test_actions_default_to_the_safe_side() -> None:
    actions = Actions.model_validate(
        {
            "target": {"kind": "Deployment", "name": "api"},
            "rollback": {},
            "scale": {"saturation": "x", "above": 1, "max_replicas": 3},
        }
    )
    assert actions.rollback is not None and actions.scale is not None
    assert actions.rollback.mode is Mode.DRY_RUN and actions.scale.mode is Mode.DRY_RUN
    assert (actions.rollback.cooldown, actions.scale.cooldown) == ("15m", "5m")
    assert actions.max_per_hour == 3 and actions.target.namespace == "default"
    assert actions.scale.give_back_below == 0.8


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "slos: [availability]",
            "slos: [availabilty]",
            11,
            "actions.slos[0]",
            "no SLO named 'availabilty'",
        ),
        (
            "avg(rate(cpu[5m]))",
            "avg(rate(cpu[5m])",
            14,
            "actions.scale.saturation",
            "invalid PromQL",
        ),
        (
            "kind: Deployment",
            "kind: StatefulSet",
            10,
            "actions.target.kind",
            "'Rollout' or 'Deployment'",
        ),
        (
            "name: api, namespace",
            "name: API_1, namespace",
            10,
            "actions.target.name",
            "should match pattern",
        ),
        (
            "rollback: {}",
            "rollback: {cooldown: soon}",
            12,
            "actions.rollback.cooldown",
            "not a duration",
        ),
        (
            "rollback: {}",
            "rollback: {mode: on}",
            12,
            "actions.rollback.mode",
            "'dry-run' or 'enforce'",
        ),
        (
            "above: 0.8",
            "above: 0.8\n    below: 0.9",
            13,
            "actions.scale",
            "`below` must be lower than `above`",
        ),
        (
            "max_replicas: 10",
            "max_replicas: 0",
            17,
            "actions.scale.max_replicas",
            "greater than or equal to 1",
        ),
        ("hpa: api", "hpa_name: api", 16, "actions.scale.hpa_name", "unknown field"),
    ],
)
def test_a_mistake_in_actions_is_located(
    old: str, new: str, line: int, field: str, message: str
) -> None:
    problem = only_problem(with_actions(ACTIONS.replace(old, new)))
    assert (problem.file, problem.line, problem.field) == ("api.yaml", line, field)
    assert message in problem.message


def test_scaling_a_rollout_needs_its_hpa() -> None:
    text = ACTIONS.replace("kind: Deployment", "kind: Rollout").replace("    hpa: api\n", "")
    problem = only_problem(with_actions(text))
    assert problem.field == "actions" and "Deployment only" in problem.message


def test_blue_green_needs_exactly_two_colors() -> None:
    text = ACTIONS.replace(
        "rollback: {}", "rollback: {blue_green: {service: api, colors: {blue: api-blue}}}"
    )
    problem = only_problem(with_actions(text))
    assert problem.field == "actions.rollback.blue_green.colors"
    assert "at least 2 items" in problem.message
