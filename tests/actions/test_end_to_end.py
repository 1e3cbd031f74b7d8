"""End to end: a real Prometheus scraping a service whose error rate the test controls, `sloguard
run` as a process, a real Alertmanager, and the fake API holding a Deployment mid-rollout.
Errors rise -> the agent undoes the rollout, leaves an Event, an audit line and an alert, and
does not act again."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sloguard.demo.prometheus import free_port
from sloguard.demo.service import SyntheticService
from sloguard.loading import load
from tests.support import scenes
from tests.support.alertmanager import Alertmanager, running_alertmanager
from tests.support.browser import browsing
from tests.support.fakeapi import Call, FakeAPI, running_api
from tests.support.realprom import Prometheus, backfill
from tests.support.repo import REPO
from tests.support.running import wait_for
from tests.support.synthetic import prometheus_with_traffic

pytestmark = pytest.mark.integration  # starts real processes or servers

PICTURES = REPO / "docs" / "images"

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

AGENT_CHANGES = {"leadership", "kill_switch"}
# A rollout, an election, an agent's start: slower than the suite's usual 30 s under CI load.
patient = functools.partial(wait_for, seconds=90)


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


def metric(url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample of the agent's metrics at `url` (0 when it has none yet)."""
    text = httpx.get(f"{url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == (labels or {}):
                return sample.value
    return 0.0


def actions_done(url: str) -> float:
    return metric(
        url,
        "sloguard_actions_total",
        {"service": "checkout", "action": "undo", "mode": "enforce", "result": "done"},
    )


def more_cycles(url: str, count: int = 3) -> None:
    """Wait until the agent at `url` has evaluated `count` more times."""
    name = "sloguard_evaluation_duration_seconds_count"
    seen = metric(url, name)
    wait_for(lambda: metric(url, name) >= seen + count, f"{count} more evaluations")


@dataclass
class Scene:
    """Prometheus scraping checkout (healthy until told otherwise), the fake API holding the
    Deployment two minutes into its rollout of shop:2, and Alertmanager."""

    directory: Path
    definitions: Path
    prometheus: Prometheus
    service: SyntheticService
    api: FakeAPI
    alertmanager: Alertmanager

    @contextlib.contextmanager
    def agent(self, identity: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
        """`sloguard run` as the replica `identity`: its URL once ready, and the process."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with (self.directory / f"{identity}.log").open("w") as log:
            process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("sloguard")),
                    "run",
                    str(self.definitions),
                    f"--prometheus={self.prometheus.url}",
                    "--interval=1",
                    f"--listen=127.0.0.1:{port}",
                    f"--kubeconfig={self.api.kubeconfig(self.directory)}",
                    "--lease=shop/sloguard",
                    f"--identity={identity}",
                    f"--audit-log={self.directory / identity}.jsonl",
                    f"--alertmanager={self.alertmanager.url}",
                ],
                env={**os.environ, "SLOGUARD_GATE_TOKEN": "t"},
                stderr=log,
            )
            try:
                patient(lambda: httpx.get(f"{url}/readyz").status_code == 200, "ready")
                yield url, process
            finally:
                if process.poll() is None:
                    process.terminate()
                process.wait(timeout=15)

    def audit(self, identity: str, agent_changes: bool = False) -> list[dict[str, Any]]:
        """The agent's audit lines: its actions (and its leadership and kill switch changes)."""
        path = self.directory / f"{identity}.jsonl"
        lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        return [x for x in lines if agent_changes or x["action"] not in AGENT_CHANGES]

    def patches(self) -> list[Call]:
        return [c for c in self.api.calls if c.method == "PATCH"]

    def holder(self) -> str | None:
        leases = self.api.of_kind("Lease")
        return leases[0]["spec"].get("holderIdentity") if leases else None


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    definitions = tmp_path / "slo-definitions"
    definitions.mkdir()
    (definitions / "checkout.yaml").write_text(DEFINITION)
    now = time.time()
    healthy_history(tmp_path, int(now) - 60)
    with (
        prometheus_with_traffic(load([definitions]), tmp_path) as (prometheus, service),
        running_api() as api,
        running_alertmanager(tmp_path) as alertmanager,
    ):
        service.conditions.canaries = {}
        deployment = scenes.deployment(api, "checkout", "shop:2", updated=1, revision=2)
        scenes.replica_set(api, deployment, "shop:1", 1, now - 86400, 2)
        scenes.replica_set(api, deployment, "shop:2", 2, now - 120, 1)
        yield Scene(tmp_path, definitions, prometheus, service, api, alertmanager)


def test_an_outage_mid_rollout_is_rolled_back_once_with_event_and_alert(scene: Scene) -> None:
    api = scene.api
    with scene.agent("sloguard-e2e") as (url, _):
        patient(lambda: api.of_kind("Lease"), "the lease")
        assert not scene.patches()  # healthy: nothing done
        scene.service.conditions.checkout_errors = 1.0  # the new revision fails every request
        started = time.monotonic()
        patient(scene.patches, "the rollback")
        rolled_back_after = time.monotonic() - started
        after = api.get("Deployment", "shop", "checkout")
        assert after["spec"]["template"] == scenes.template("checkout", "shop:1")
        [event] = patient(lambda: api.of_kind("Event"), "the Event")
        assert event["reason"] == "SloguardUndo"
        assert event["involvedObject"]["name"] == "checkout"
        [alert] = scene.alertmanager.delivered()
        assert alert["labels"]["action"] == "undo" and alert["labels"]["result"] == "done"
        [line] = scene.audit("sloguard-e2e")
        assert line["id"] == alert["labels"]["action_id"]
        assert line["by"] == "sloguard-e2e" and line["details"] == {
            "from": "2",
            "to": "1",
            "from_hash": scenes.template_hash("shop:2"),
            "to_hash": scenes.template_hash("shop:1"),
        }
        # errors go on (the old pods are still coming up): several cycles, no second action
        more_cycles(url)
        assert len(scene.patches()) == 1
        assert len(api.of_kind("Event")) == 1
        assert actions_done(url) == 1
        print(f"rolled back {rolled_back_after:.1f}s after errors rose")
        trail = httpx.get(f"{url}/v1/actions", timeout=5).json()
        assert [(e["action"], e["result"]) for e in trail] == [
            ("undo", "done"),
            ("leadership", "acquired"),
        ]
        assert trail[0]["id"] == line["id"] and trail[0]["details"] == line["details"]
        the_actions_page_shows_it(url, line, scene.directory)
    assert scene.holder() is None  # released on the way out
    told = [(x["action"], x["result"]) for x in scene.audit("sloguard-e2e", agent_changes=True)]
    assert told == [("leadership", "acquired"), ("undo", "done"), ("leadership", "released")]


def the_actions_page_shows_it(url: str, line: dict[str, Any], directory: Path) -> None:
    """`/actions` in Debian's Chromium: the rollback with its figures, the agent's leadership,
    no error, no serious accessibility violation; the docs' picture."""
    with browsing(1200, 420) as visit:
        visit.page.goto(f"{url}/actions")
        rows = visit.page.evaluate(
            "() => [...document.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.innerText))"
        )
        assert [r[2] for r in rows] == ["undo", "leadership"]
        assert rows[0][1] == "checkout" and rows[0][3] == "Deployment/shop/checkout"
        assert rows[0][5] == "done" and line["id"] in rows[0][6] and "from: 2" in rows[0][7]
        assert visit.accessibility_problems() == []
        taken = directory / "console-actions.png"
        visit.page.screenshot(path=str(taken))
        if os.environ.get("SLOGUARD_UPDATE_PICTURES"):
            shutil.copyfile(taken, PICTURES / "console-actions.png")
        assert visit.errors == []


def test_two_agents_elect_one_that_acts_and_the_other_takes_over_when_it_dies(
    scene: Scene,
) -> None:
    with scene.agent("sloguard-a") as (a_url, a), scene.agent("sloguard-b") as (b_url, b):
        leader = patient(scene.holder, "a leader")
        processes = {"sloguard-a": a, "sloguard-b": b}
        urls = {"sloguard-a": a_url, "sloguard-b": b_url}
        [other] = [name for name in processes if name != leader]
        scene.service.conditions.checkout_errors = 1.0
        patient(scene.patches, "the rollback")
        assert [line["by"] for line in scene.audit(str(leader))] == [leader]
        assert scene.audit(other) == []
        processes[str(leader)].kill()  # no release: the lease runs out
        died = time.monotonic()
        wait_for(lambda: scene.holder() == other, "the takeover", seconds=40)
        took_over = time.monotonic() - died
        more_cycles(urls[str(other)])  # the new leader sees the page go on: it must not act again
        assert len(scene.patches()) == 1
        assert scene.audit(other) == []  # no action, only the lease taken over:
        taken = [(x["action"], x["result"]) for x in scene.audit(other, agent_changes=True)]
        assert taken[0] == ("leadership", "acquired")  # (a renewal lost under load may follow)
        print(f"takeover {took_over:.1f}s after the leader was killed")
        assert took_over <= 15 + 1  # within the lease of its last renewal (+ the API's time)
