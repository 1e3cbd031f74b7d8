"""From a burning SLO to a pager, with real components: Prometheus evaluates the generated rules
over live traffic and sends to Alertmanager, loaded with the generated fragment merged into a
team's configuration whose receivers are webhooks to this test. Then the notification templates
are rendered by Alertmanager's amtool from what the webhooks received.

One run stages every case side by side, each service its own:
- outage (all requests fail): one page; its ticket held back while the page fires; recovery
  resolves the page;
- slow (a 4x burn, which only the ticket tier sees): one ticket, no page; recovery resolves it;
- quiet and quiet-down, in a maintenance window that covers all week: quiet's ticket is muted,
  quiet-down's page still pages;
- hushed (all requests fail) under a silence made with `sloguard silence`: nothing, until the
  silence is expired, then its page.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, start_http_server

from sloguard.demo.prometheus import write_rules
from sloguard.loading import load
from sloguard.promql import BUDGET_REMAINING
from tests.support.alertmanager import Alertmanager, amtool_render, running_alertmanager
from tests.support.browser import screenshot
from tests.support.realprom import running_prometheus
from tests.support.repo import REPO
from tests.support.running import run_cli, wait_for

pytestmark = pytest.mark.integration  # starts real processes or servers

RATE = 50.0  # requests per second of each service
# Error share of each service while the incident lasts (objective 90%: budget 10%). The
# ticket's 2h window has recorded only minutes, and counts as half covered in its first hour:
# 4x reads 2x there, over the ticket's 1.5x, and under the page's 8x.
INCIDENT = {"outage": 1.0, "slow": 0.4, "quiet": 0.4, "quiet-down": 1.0, "hushed": 1.0}
FAST = {"group_wait": "1s", "group_interval": "1s"}


def definition(service: str) -> dict[str, Any]:
    oncall: dict[str, Any] = {
        "page": {"receiver": f"{service}-pager", **FAST},
        "ticket": {"receiver": f"{service}-tickets", **FAST},
    }
    if service == "outage":
        # A ticket waits (as by default) long enough for the page that holds it back to fire,
        # and is not told again before the test ends.
        oncall["ticket"] = {
            "receiver": "outage-tickets",
            "group_wait": "20s",
            "group_interval": "10m",
        }
    if service.startswith("quiet"):
        oncall["maintenance"] = [{"weekdays": ["sunday:saturday"]}]
    return {
        "service": service,
        "oncall": oncall,
        "slos": [
            {
                "name": "availability",
                "objective": 90,
                "sli": {
                    "events": {
                        "errors": f'sum(rate(requests_total{{service="{service}",code="500"}}'
                        "[{{window}}]))",
                        "total": f'sum(rate(requests_total{{service="{service}"}}'
                        "[{{window}}]))",
                    }
                },
                "alerting": {
                    "runbook": f"https://runbooks.example.com/{service}",
                    # Short windows, so minutes of traffic tell what hours would (the
                    # 2h window a half of it, while it has recorded less than an hour).
                    "windows": [
                        {"severity": "page", "long": "1h", "short": "5m", "factor": 8},
                        {"severity": "ticket", "long": "2h", "short": "10m", "factor": 1.5},
                    ],
                },
            }
        ],
    }


class Traffic:
    """`requests_total{service, code}` at RATE per service, each failing at its share."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "requests", "Requests.", ["service", "code"], registry=self.registry
        )
        self.failing = dict.fromkeys(INCIDENT, 0.0)
        self._stop = threading.Event()

    @contextlib.contextmanager
    def serving(self) -> Iterator[int]:
        server, thread = start_http_server(0, "127.0.0.1", registry=self.registry)
        ticker = threading.Thread(target=self._tick, daemon=True)
        ticker.start()
        try:
            yield int(server.server_port)
        finally:
            self._stop.set()
            ticker.join()
            server.shutdown()
            server.server_close()
            thread.join()

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            for service, share in self.failing.items():
                self.requests.labels(service, "500").inc(RATE * 0.1 * share)
                self.requests.labels(service, "200").inc(RATE * 0.1 * (1 - share))


def team_config(fragment: dict[str, Any], hook: str) -> dict[str, Any]:
    """A team's configuration: its own default receiver and route, sloguard's fragment merged
    as the docs say, and a webhook to this test behind every receiver."""
    names = ["team-default", *(f"{s}-{kind}" for s in INCIDENT for kind in ("pager", "tickets"))]
    return {
        "route": {
            "receiver": "team-default",
            "group_by": ["alertname"],
            "routes": [*fragment["routes"], {"receiver": "team-default", "matchers": ["x=y"]}],
        },
        "receivers": [
            {"name": name, "webhook_configs": [{"url": hook, "send_resolved": True}]}
            for name in names
        ],
        "inhibit_rules": fragment["inhibit_rules"],
        "time_intervals": fragment["time_intervals"],
    }


def notifications(manager: Alertmanager, receiver: str) -> list[tuple[str, dict[str, Any]]]:
    """(status, payload) of every notification `receiver` got."""
    return [(d["status"], d) for d in list(manager.deliveries) if d["receiver"] == receiver]


def statuses(manager: Alertmanager, receiver: str) -> list[str]:
    return [status for status, _ in notifications(manager, receiver)]


def test_a_burning_slo_reaches_the_right_receiver_once_with_what_to_act_on(
    tmp_path: Path,
) -> None:
    definitions = tmp_path / "slo-definitions"
    definitions.mkdir()
    for service in INCIDENT:
        (definitions / f"{service}.yaml").write_text(yaml.safe_dump(definition(service)))
    fragment_file = tmp_path / "routing.yml"
    code, _, err = run_cli("generate", str(definitions), "--alertmanager-out", str(fragment_file))
    assert code == 0, err
    fragment = yaml.safe_load(fragment_file.read_text())
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    rule_files = write_rules(rules_dir, load([definitions]), interval="1s")
    traffic = Traffic()
    with (
        traffic.serving() as port,
        running_alertmanager(tmp_path, lambda hook: team_config(fragment, hook)) as manager,
    ):
        url = manager.url

        def told(receiver: str, *expected: str, seconds: float = 60) -> None:
            wait_for(lambda: statuses(manager, receiver) == list(expected), receiver, seconds)

        code, said, err = run_cli(
            "silence", "hushed", "--for", "10m", "--reason", "planned failover",
            "--author", "on-call", "--alertmanager", url,
        )  # fmt: skip
        assert code == 0, err
        silence_id = said.strip().rsplit(" ", 1)[-1]
        with running_prometheus(
            tmp_path,
            {"traffic": f"127.0.0.1:{port}"},
            rule_files,
            alertmanager=url.removeprefix("http://"),
        ) as prometheus:
            # Healthy first, as a service is before its incident: every SLO has a budget.
            budgets = f"count({BUDGET_REMAINING})"
            wait_for(
                lambda: (
                    [float(r["value"][1]) for r in prometheus.query(budgets)] == [len(INCIDENT)]
                ),
                "budgets recorded",
            )
            began = time.monotonic()
            traffic.failing.update(INCIDENT)
            told("outage-pager", "firing", seconds=90)
            paged_after = time.monotonic() - began
            told("slow-tickets", "firing")
            told("quiet-down-pager", "firing")
            # Past the outage ticket's group_wait: it fires, and is held back.
            time.sleep(max(0.0, 35 - (time.monotonic() - began)))
            firing = {
                (a["metric"]["service"], a["metric"]["sloguard_severity"])
                for a in prometheus.query('ALERTS{alertstate="firing"}')
            }
            assert {("outage", "ticket"), ("quiet", "ticket"), ("hushed", "page")} <= firing
            [ticket] = [
                a
                for a in httpx.get(f"{url}/api/v2/alerts").json()
                if a["labels"]["service"] == "outage"
                and a["labels"]["sloguard_severity"] == "ticket"
            ]
            assert ticket["status"]["inhibitedBy"], ticket
            for held in ("outage-tickets", "slow-pager", "quiet-tickets", "hushed-pager"):
                assert statuses(manager, held) == [], held

            code, listed, _ = run_cli("silence", "--list", "--alertmanager", url)
            assert code == 0 and silence_id in listed and "planned failover" in listed
            code, _, err = run_cli("silence", "--expire", silence_id, "--alertmanager", url)
            assert code == 0, err
            told("hushed-pager", "firing")

            # Let the burn last past a minute, so the resolved page can say what it cost.
            time.sleep(max(0.0, 75 - (time.monotonic() - began)))
            traffic.failing.update(dict.fromkeys(INCIDENT, 0.0))
            told("outage-pager", "firing", "resolved", seconds=120)
            told("slow-tickets", "firing", "resolved", seconds=120)

    # Once each, where the definitions say, and nowhere else.
    assert paged_after < 60
    assert statuses(manager, "outage-tickets") == []
    assert statuses(manager, "slow-pager") == []
    assert statuses(manager, "quiet-tickets") == []
    assert statuses(manager, "team-default") == []
    [(_, page)] = [n for n in notifications(manager, "outage-pager") if n[0] == "firing"]
    [(_, resolved)] = [n for n in notifications(manager, "outage-pager") if n[0] == "resolved"]
    assert len(page["alerts"]) == 1 and page["groupLabels"] == {
        "service": "outage",
        "slo": "availability",
    }
    assert_rendered(tmp_path, page, resolved)
    picture(tmp_path, page, resolved)


def assert_rendered(directory: Path, page: dict[str, Any], resolved: dict[str, Any]) -> None:
    """Each template, rendered by amtool from what Alertmanager sent, shows every figure."""
    annotations = page["alerts"][0]["annotations"]
    # Every request fails: up to 10x the 10% budget, paged as the hour's burn passes 8x; the
    # young window has spent it all already.
    assert annotations["objective"] == "90%" and annotations["window"] == "30d"
    assert annotations["burn_windows"] == "1h and 5m (over 8x)"
    assert 8 <= float(annotations["burn_rate"]) <= 10
    assert annotations["budget_exhausted_in"] == "already spent"
    assert re.fullmatch(r"-[0-9.]+%", annotations["budget_left"]), annotations
    assert annotations["burn_cost"] == "none yet: it has just begun"
    cost = resolved["alerts"][0]["annotations"]["burn_cost"]
    assert re.fullmatch(r"[0-9.]+% of the error budget in (\d+m )?\d+s", cost), cost
    firing_data, resolved_data = directory / "firing.json", directory / "resolved.json"
    firing_data.write_text(json.dumps(page))
    resolved_data.write_text(json.dumps(resolved))
    link = "https://runbooks.example.com/outage"
    for template in ("sloguard.text", "sloguard.slack.text", "sloguard.email.html"):
        kind = "html" if template.endswith("html") else "text"
        text = amtool_render(firing_data, template, kind)
        for shown in (
            "outage/availability",
            "90% over 30d",
            f"{annotations['burn_rate']}x",
            "1h and 5m (over 8x)",
            annotations["budget_left"],
            "already spent",
            link,
            "/d/slo-outage",
        ):
            assert shown in text, (template, shown, text)
        text = amtool_render(resolved_data, template, kind)
        assert "ecovered" in text and cost in text and link in text, (template, text)
    title = amtool_render(firing_data, "sloguard.pagerduty.description")
    assert title.startswith("[FIRING:1] outage/availability page:"), title
    title = amtool_render(resolved_data, "sloguard.pagerduty.description")
    assert title.startswith("[RESOLVED] outage/availability page: recovered after"), title


PICTURE = REPO / "docs" / "images" / "notification-email.png"


def picture(directory: Path, page: dict[str, Any], resolved: dict[str, Any]) -> None:
    """The page and its resolution as the email template lays them out, in Chromium; with
    SLOGUARD_UPDATE_PICTURES=1 it becomes the docs' picture."""
    bodies = []
    for name, data in (("firing", page), ("resolved", resolved)):
        (directory / f"{name}.json").write_text(json.dumps(data))
        html = amtool_render(directory / f"{name}.json", "sloguard.email.html", "html")
        bodies.append(re.search(r"<body[^>]*>(.*)</body>", html, re.S).group(1))  # type: ignore[union-attr]
    shown = directory / "emails.html"
    shown.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"></head>'
        '<body style="font-family: system-ui, sans-serif; color: #1b1b1b; margin: 16px">'
        + "<hr>".join(bodies)
        + "</body></html>"
    )
    taken = directory / "emails.png"
    assert screenshot(shown, taken, 760, 660) == (760, 660)
    if os.environ.get("SLOGUARD_UPDATE_PICTURES"):
        shutil.copyfile(taken, PICTURE)
    assert PICTURE.is_file(), "run with SLOGUARD_UPDATE_PICTURES=1 and commit the picture"
