"""The audit trail reaches on-call: a real Alertmanager receives each action's alert and delivers
it to a webhook; a sink that fails is counted and never stops the action."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sloguard.actions.audit import Auditor, Outcome, Result, alert
from sloguard.alertmanager import Alertmanager
from sloguard.evaluation.model import Status
from sloguard.playbook.model import Action, ObjectRef
from tests.support.actions import NOW, Rig, evaluation, mid_rollout, rollback, spec
from tests.support.alertmanager import running_alertmanager

pytestmark = pytest.mark.integration  # starts real processes or servers

PAGING = [evaluation("availability", Status.CRITICAL)]


def test_an_action_is_an_alert_delivered_to_on_call(rig: Rig, tmp_path: Path) -> None:
    mid_rollout(rig)
    with running_alertmanager(tmp_path) as manager:

        async def scenario() -> list[Outcome]:
            client = Alertmanager(manager.url)
            actor = rig.actor()
            actor.auditor = Auditor(rig.metrics, rig.tracer, rig.cluster, rig.audit_log, client)
            try:
                return await actor.act([spec(rollback())], PAGING)
            finally:
                await client.aclose()

        [outcome] = asyncio.run(scenario())
        [delivered] = manager.delivered()
    labels = delivered["labels"]
    assert labels == {
        "alertname": "SloguardAction",
        "severity": "info",
        "service": "checkout",
        "action": "undo",
        "mode": "enforce",
        "result": "done",
        "namespace": "shop",
        "target": "Deployment/checkout",
        "action_id": outcome.id,
    }
    assert delivered["status"] == "firing"
    assert (
        delivered["annotations"]["summary"] == "undo Deployment shop/checkout: revision 2 back to 1"
    )
    assert "page condition holds for availability" in delivered["annotations"]["description"]
    assert (
        rig.audit()[0]["id"]
        == outcome.id
        == rig.api.of_kind("Event")[0]["metadata"]["annotations"]["sloguard.io/action-id"]
    )


def test_a_sink_that_fails_is_counted_and_the_others_still_write(rig: Rig, tmp_path: Path) -> None:
    unreachable = Alertmanager("http://127.0.0.1:9", timeout=1)
    auditor = Auditor(
        rig.metrics, rig.tracer, rig.cluster, tmp_path / "missing" / "audit.jsonl", unreachable
    )
    outcome = Outcome(
        "id1",
        NOW,
        "checkout",
        Action.SCALE_UP,
        ObjectRef("HorizontalPodAutoscaler", "shop", "nope"),
        "enforce",
        Result.DONE,
        "scale up",
        "burning",
    )
    rig.api.forbidden.add(("create", "events"))
    asyncio.run(auditor.record(outcome))
    for sink in ("log", "event", "alert"):
        assert rig.registry.get_sample_value("sloguard_audit_errors_total", {"sink": sink}) == 1
    assert rig.count("scale_up", "enforce", "done") == 1


def test_an_alert_resolves_by_itself_after_an_hour() -> None:
    outcome = Outcome(
        "id1",
        NOW,
        "checkout",
        Action.ABORT,
        ObjectRef("Rollout", "shop", "web"),
        "dry-run",
        Result.DONE,
        "abort",
        "page",
    )
    sent = alert(outcome)
    assert (sent["startsAt"], sent["endsAt"]) == ("2027-01-15T08:00:00Z", "2027-01-15T09:00:00Z")
