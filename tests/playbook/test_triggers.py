"""Signals for actions: paging and burning on data; missing data is its own signal."""

from __future__ import annotations

from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.playbook.triggers import signals
from sloguard.spec.actions import Actions


def evaluation(
    slo: str, status: Status, page: bool | None, ticket: bool | None, service: str = "checkout"
) -> Evaluation:
    return Evaluation(
        service, slo, 99.9, "30d", 0.0, status, "", Origin.RULES, page=page, ticket=ticket
    )


ACTIONS = Actions.model_validate({"target": {"kind": "Deployment", "name": "checkout"}})


def test_paging_burning_and_missing_are_told_apart() -> None:
    found = signals(
        [
            evaluation("availability", Status.CRITICAL, True, True),
            evaluation("latency", Status.WARNING, False, True),
            evaluation("freshness", Status.NO_DATA, None, None),
            evaluation("availability", Status.CRITICAL, True, True, service="other"),
        ],
        "checkout",
        ACTIONS,
    )
    assert found.paging == ("availability",)
    assert found.burning == ("availability", "latency")
    assert found.missing == ("freshness",)
    assert not found.calm
    assert found.why() == "page condition holds for availability"


def test_no_data_never_pages_and_is_never_calm() -> None:
    found = signals([evaluation("availability", Status.NO_DATA, None, None)], "checkout", ACTIONS)
    assert found.paging == () and not found.calm
    assert found.why() == "no data for availability"


def test_only_the_named_slos_drive_actions() -> None:
    only = Actions.model_validate(
        {"target": {"kind": "Deployment", "name": "checkout"}, "slos": ["latency"]}
    )
    found = signals(
        [
            evaluation("availability", Status.CRITICAL, True, True),
            evaluation("latency", Status.OK, False, False),
        ],
        "checkout",
        only,
    )
    assert found.paging == () and found.calm
    assert found.why() == "every SLO within budget"
