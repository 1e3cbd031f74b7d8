"""The generated Alertmanager configuration, checked by Alertmanager's own amtool: the whole
configuration and the fragment merged into a user's configuration load, and each SLO's page
and ticket reach the receiver its definition names."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.repo import REPO
from tests.support.running import run_cli

pytestmark = pytest.mark.integration  # starts real processes or servers

DEFINITION = """\
service: shop
oncall:
  page: shop-pager
  ticket: {receiver: shop-jira, repeat_interval: 12h}
  maintenance:
    - {weekdays: [saturday], times: ["02:00-04:00"], location: Europe/Berlin}
    - {weekdays: ["monday:friday"], times: ["22:00-24:00", "00:00-01:00"], pages: true}
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
  - name: batch
    objective: 99
    oncall: {page: null}
    sli:
      events:
        errors: sum(rate(batch_failed_total[{{window}}]))
        total: sum(rate(batch_total[{{window}}]))
  - name: latency
    objective: 99
    oncall: {ticket: perf-team}
    sli:
      events:
        errors: sum(rate(slow_requests_total[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"""
EXPECTED = {
    ("availability", "page"): "shop-pager",
    ("availability", "ticket"): "shop-jira",
    ("latency", "page"): "shop-pager",
    ("latency", "ticket"): "perf-team",
    ("batch", "ticket"): "shop-jira",
}
# A configuration as a team already has it: its own receivers (with their secrets) and routes.
USERS = {
    "route": {
        "receiver": "team-default",
        "group_by": ["alertname"],
        "routes": [{"receiver": "team-db", "matchers": ['team="db"']}],
    },
    "receivers": [
        {"name": name, "webhook_configs": [{"url": f"http://127.0.0.1:9/{name}"}]}
        for name in ("team-default", "team-db", "shop-pager", "shop-jira", "perf-team")
    ],
    "inhibit_rules": [
        {"source_matchers": ['alertname="NodeDown"'], "target_matchers": ['severity="warning"']}
    ],
}


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("amtool")
    assert binary, "amtool not found: apt-get install prometheus-alertmanager"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def generated(tmp_path: Path, fmt: str) -> dict[str, Any]:
    (tmp_path / "shop.yaml").write_text(DEFINITION)
    out = tmp_path / f"{fmt}.yml"
    code, _, err = run_cli(
        "generate", str(tmp_path / "shop.yaml"), "--alertmanager-out", str(out),
        "--alertmanager-format", fmt,
    )  # fmt: skip
    assert code == 0, err
    loaded: dict[str, Any] = yaml.safe_load(out.read_text())
    return loaded


def assert_routes(config: Path) -> None:
    checked = amtool("check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for (slo, severity), receiver in EXPECTED.items():
        labels = ["service=shop", f"slo={slo}", f"sloguard_severity={severity}"]
        routed = amtool("config", "routes", "test", f"--config.file={config}", *labels)
        assert routed.stdout.strip() == receiver, (slo, severity, routed.stdout, routed.stderr)


def test_the_full_configuration_loads_and_routes_each_slo(tmp_path: Path) -> None:
    config = generated(tmp_path, "full")
    assert_routes(tmp_path / "full.yml")
    other = amtool("config", "routes", "test", f"--config.file={tmp_path / 'full.yml'}", "x=y")
    assert other.stdout.strip() == "sloguard-unrouted"
    # An SLO out of the service's paging (`page: null`) does not fall through to its pager.
    batch = ["service=shop", "slo=batch", "sloguard_severity=page"]
    opted_out = amtool("config", "routes", "test", f"--config.file={tmp_path / 'full.yml'}", *batch)
    assert opted_out.stdout.strip() == "sloguard-unrouted"
    assert len(config["receivers"]) == 4


def test_the_fragment_merged_into_a_users_configuration_loads_and_routes(tmp_path: Path) -> None:
    piece = generated(tmp_path, "fragment")
    merged = dict(USERS)
    merged["route"] = {**USERS["route"], "routes": piece["routes"] + USERS["route"]["routes"]}
    merged["inhibit_rules"] = USERS["inhibit_rules"] + piece["inhibit_rules"]
    merged["time_intervals"] = piece["time_intervals"]
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(merged))
    assert_routes(config)
    # The team's own routes still get what sloguard does not route: a service without `oncall`.
    labels = ["team=db", "service=payments", "slo=availability", "sloguard_severity=page"]
    theirs = amtool("config", "routes", "test", f"--config.file={config}", *labels)
    assert theirs.stdout.strip() == "team-db"


def test_the_alertmanager_file_is_kept_apart_and_checked(checkout: Path) -> None:
    rules = sorted(p.name for p in (checkout / "alert-rules").iterdir())
    inside = checkout / "alert-rules" / "alertmanager.yml"
    code, _, err = run_cli("generate", "--alertmanager-out", str(inside))
    assert code == 2 and "Prometheus loads as rules" in err and not inside.exists()
    target = checkout / "alertmanager.yml"
    code, stdout, _ = run_cli("generate", "--alertmanager-out", str(target))
    assert code == 0 and f"Alertmanager configuration in {target}" in stdout
    assert sorted(p.name for p in (checkout / "alert-rules").iterdir()) == rules
    assert run_cli("generate")[0] == 0 and target.exists()  # rules again: the file stays
    assert run_cli("check", "--alertmanager-out", str(target))[0] == 0
    target.write_text(target.read_text() + "routes: []\n")
    code, _, err = run_cli("check", "--alertmanager-out", str(target))
    assert code == 1 and "alertmanager.yml (committed)" in err


def test_a_file_sloguard_did_not_write_is_neither_replaced_nor_shown(checkout: Path) -> None:
    theirs = checkout / "alertmanager.yml"
    theirs.write_text(
        "receivers: [{name: x, webhook_configs: [{url: 'http://h/?token=SECRET'}]}]\n"
    )
    code, _, err = run_cli("generate", "--alertmanager-out", str(theirs))
    assert code == 2 and "will not replace it" in err
    assert "SECRET" in theirs.read_text()
    code, _, err = run_cli("check", "--alertmanager-out", str(theirs))
    assert code == 1 and "not written by sloguard" in err and "SECRET" not in err
    started = checkout / "full.yml"
    assert (
        run_cli("generate", "--alertmanager-out", str(started), "--alertmanager-format", "full")[0]
        == 0
    )
    code, _, err = run_cli(
        "generate", "--alertmanager-out", str(started), "--alertmanager-format", "full"
    )
    assert code == 2 and "written once" in err  # its receivers may be filled in by now


def test_the_committed_routing_of_the_bundled_definitions_is_current(checkout: Path) -> None:
    """alertmanager/routing.yml (written by `make generate`, shown in the docs) is what the
    bundled definitions give, and amtool takes it."""
    committed = checkout / "alertmanager" / "routing.yml"
    committed.parent.mkdir()
    shutil.copyfile(REPO / "alertmanager" / "routing.yml", committed)
    code, said, err = run_cli("check", "--alertmanager-out", str(committed))
    assert code == 0, err
    assert "Alertmanager configuration" in said
