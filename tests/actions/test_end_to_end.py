"""End to end: a real Prometheus scraping a service whose error rate the test controls, `sloguard
run` as a process, a real Alertmanager, and the fake API holding a Deployment mid-rollout.
Errors rise -> the agent undoes the rollout, leaves an Event, an audit line and an alert, and
does not act again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sloguard.demo.prometheus import free_port
from sloguard.loading import load
from tests import scenes
from tests.alertmanager import running_alertmanager
from tests.fakeapi import running_api
from tests.realprom import backfill
from tests.synthetic import prometheus_with_traffic

DEFINITION = """\
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total{job="checkout"}[{{window}}]))
actions:
  target: {kind: Deployment, name: checkout, namespace: shop}
  rollback: {mode: enforce, recent: 1h, cooldown: 15m}
"""


def wait_for(check: Callable[[], object], what: str, seconds: float = 90) -> object:
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = check()
            if found:
                return found
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)


def healthy_history(directory: Path, end: int) -> None:
    """Two healthy hours of checkout before the test: 10 requests/s, 0.03% failing."""
    points = range(end - 7200, end + 1, 15)
    backfill(
        directory,
        {
            "http_requests_total": [
                (
                    "http_requests_total",
                    {"job": "checkout", "code": code, "version": "stable"},
                    [(t, 10 * share * (t - end + 7200)) for t in points],
                )
                for code, share in (("500", 0.0003), ("200", 0.9997))
            ]
        },
    )


def actions_done(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sloguard_actions_total" and sample.labels == {
                "action": "undo",
                "mode": "enforce",
                "result": "done",
            }:
                return sample.value
    return 0.0


def test_an_outage_mid_rollout_is_rolled_back_once_with_event_and_alert(tmp_path: Path) -> None:
    definitions = tmp_path / "slo-definitions"
    definitions.mkdir()
    (definitions / "checkout.yaml").write_text(DEFINITION)
    now = time.time()
    healthy_history(tmp_path, int(now) - 60)
    loaded = load([definitions])
    with (
        prometheus_with_traffic(loaded, tmp_path) as (prometheus, service),
        running_api() as api,
        running_alertmanager(tmp_path) as alertmanager,
        (tmp_path / "agent.log").open("w") as agent_log,
    ):
        service.conditions.canaries = {}
        deployment = scenes.deployment(api, "checkout", "shop:2", updated=1, revision=2)
        scenes.replica_set(api, deployment, "shop:1", 1, now - 86400, 2)
        scenes.replica_set(api, deployment, "shop:2", 2, now - 120, 1)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        audit = tmp_path / "audit.jsonl"
        agent = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("sloguard")),
                "run",
                str(definitions),
                f"--prometheus={prometheus.url}",
                "--interval=1",
                f"--listen=127.0.0.1:{port}",
                f"--kubeconfig={api.kubeconfig(tmp_path)}",
                "--lease=shop/sloguard",
                "--identity=sloguard-e2e",
                f"--audit-log={audit}",
                f"--alertmanager={alertmanager.url}",
            ],
            env={**os.environ, "SLOGUARD_GATE_TOKEN": "t"},
            stderr=agent_log,
        )
        try:
            wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, "the agent ready")
            wait_for(lambda: api.of_kind("Lease"), "the lease")
            assert not [c for c in api.calls if c.method == "PATCH"]  # healthy: nothing done
            service.conditions.checkout_errors = 1.0  # the new revision fails every request
            started = time.monotonic()
            wait_for(lambda: [c for c in api.calls if c.method == "PATCH"], "the rollback")
            rolled_back_after = time.monotonic() - started
            after = api.get("Deployment", "shop", "checkout")
            assert after["spec"]["template"] == scenes.template("checkout", "shop:1")
            [event] = wait_for(lambda: api.of_kind("Event"), "the Event")  # type: ignore[misc]
            assert event["reason"] == "SloguardUndo"
            assert event["involvedObject"]["name"] == "checkout"
            [alert] = alertmanager.delivered()
            assert alert["labels"]["action"] == "undo" and alert["labels"]["result"] == "done"
            [line] = [json.loads(x) for x in audit.read_text().splitlines()]
            assert line["id"] == alert["labels"]["action_id"]
            assert line["by"] == "sloguard-e2e" and line["details"] == {
                "from": "2",
                "to": "1",
                "from_hash": scenes.template_hash("shop:2"),
                "to_hash": scenes.template_hash("shop:1"),
            }
            # errors go on (the old pods are still coming up): several cycles, no second action
            time.sleep(5)
            assert len([c for c in api.calls if c.method == "PATCH"]) == 1
            assert len(api.of_kind("Event")) == 1
            assert actions_done(url) == 1
            print(f"rolled back {rolled_back_after:.1f}s after errors rose")
        finally:
            agent.terminate()
            agent.wait(timeout=15)
        lease = api.get("Lease", "shop", "sloguard")
        assert lease["spec"].get("holderIdentity") is None  # released on the way out
