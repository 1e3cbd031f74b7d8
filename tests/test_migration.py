"""Migrating from Sloth, OpenSLO and Pyrra: every form people write is read, imported to the
native form it means, and generates rules Prometheus accepts, the same from either file.

Inputs are `tests/fixtures/<format>/forms/`, written for sloguard after the shapes of each
project's own examples; the native form each must import to is `forms.native/` beside it
(SLOGUARD_UPDATE_GOLDEN=1 rewrites those: review the diff).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sloguard.loading import load
from tests.support.alertmanager import hook_only, running_alertmanager
from tests.support.repo import FIXTURES, REPO
from tests.support.running import run_cli as run
from tests.support.running import wait_for

pytestmark = pytest.mark.integration  # starts real processes or servers

FORMS = ["sloth", "sloth-crd", "openslo", "openslo-v1alpha", "pyrra"]


def imported(fmt: str, out: Path) -> tuple[str, str]:
    """`sloguard import` of the format's forms (paths relative to the repository, as the
    golden files name them)."""
    code, stdout, stderr = run("import", f"tests/fixtures/{fmt}/forms", "--out", str(out))
    assert code == 0, stderr
    return stdout, stderr


@pytest.mark.parametrize("fmt", FORMS)
def test_every_form_imports_to_its_native_form(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    imported(fmt, tmp_path / "native")
    got = {p.name: p.read_text() for p in sorted((tmp_path / "native").iterdir())}
    golden = FIXTURES / fmt / "forms.native"
    if os.environ.get("SLOGUARD_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(tmp_path / "native", golden)
    assert got == {p.name: p.read_text() for p in sorted(golden.iterdir())}


@pytest.mark.parametrize("fmt", FORMS)
@pytest.mark.usefixtures("promtool")
def test_imported_definitions_generate_the_rules_of_the_originals_and_promtool_accepts_them(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    imported(fmt, tmp_path / "native")
    rules: dict[str, dict[str, object]] = {}
    for name, source in (
        ("imported", tmp_path / "native"),
        ("original", Path(f"tests/fixtures/{fmt}/forms")),
    ):
        out = tmp_path / name
        code, _, err = run(
            "generate",
            str(source),
            "--rules-out",
            str(out),
            "--dashboards-out",
            str(tmp_path / f"{name}-boards"),
        )
        assert code == 0, err
        # The header names the files each came from; everything below it must be the same.
        rules[name] = {p.name: yaml.safe_load(p.read_text()) for p in out.glob("*.yml")}
    assert rules["imported"] == rules["original"] != {}
    checked = subprocess.run(
        [
            "promtool",
            "check",
            "rules",
            *sorted(str(p) for p in (tmp_path / "original").glob("*.yml")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_what_is_read_but_left_out_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO)
    _, stderr = imported("openslo", tmp_path / "native")
    assert (
        "warning: tests/fixtures/openslo/forms/oslo-list.yaml:41: checkout/route-availability: "
        "spec.alertPolicies: alertPolicies left out" in stderr
    )
    assert "OpenSLO AlertPolicy left out" in stderr
    _, stderr = imported("pyrra", tmp_path / "pyrra")
    assert stderr == ""


def generated(tmp_path: Path, fmt: str, name: str, *options: str) -> Any:
    """One rule file `sloguard generate` writes for the format's forms, read."""
    rules, boards = str(tmp_path / "rules"), str(tmp_path / "boards")
    source = str(FIXTURES / fmt / "forms")
    code, _, err = run(
        "generate", source, "--rules-out", rules, "--dashboards-out", boards, *options
    )
    assert code == 0, err
    return yaml.safe_load((tmp_path / "rules" / name).read_text())


def generated_groups(tmp_path: Path, fmt: str, name: str) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = generated(tmp_path, fmt, name)["groups"]
    return groups


def test_operator_rules_keep_the_crd_namespace_and_labels(tmp_path: Path) -> None:
    rule = generated(tmp_path, "sloth-crd", "home-wifi.prometheusrule.yml", "--format", "operator")
    assert rule["metadata"] == {
        "name": "sloguard-home-wifi",
        "namespace": "monitoring",
        "labels": {
            "release": "prometheus",
            "app.kubernetes.io/part-of": "home",
            "app.kubernetes.io/managed-by": "sloguard",
            "sloguard.dev/service": "home-wifi",
        },
    }


def test_a_renamed_severity_leaves_page_and_ticket_distinguishable(tmp_path: Path) -> None:
    groups = generated_groups(tmp_path, "sloth", "myservice.rules.yml")
    alerts = {
        (r["labels"]["slo"], r["labels"]["sloguard_severity"]): r["labels"]
        for g in groups
        for r in g["rules"]
        if "alert" in r
    }
    page = alerts[("requests-availability", "page")]
    ticket = alerts[("requests-availability", "ticket")]
    assert (page["severity"], ticket["severity"]) == ("pageteam", "slack")


def test_sample_counted_slis_have_no_event_count() -> None:
    loaded = load([FIXTURES / "sloth" / "forms", FIXTURES / "pyrra" / "forms"])
    kinds = {slo.name: slo.sli.counts_events for spec in loaded.services for slo in spec.slos}
    assert kinds["requests-availability"] and kinds["api-latency"]
    assert not kinds["jobs-on-time"]  # count_over_time over a subquery
    assert not kinds["wifi-up"]  # a raw ratio
    assert not kinds["prometheus-up"]  # Pyrra's bool_gauge
    assert kinds["connect-latency"]  # a native histogram's rate


def inhibited(url: str, alert: dict[str, Any]) -> bool:
    """Whether Alertmanager holds `alert` back by an inhibition."""
    held = httpx.get(f"{url}/api/v2/alerts", params={"inhibited": "true"}, timeout=5).json()
    return any(a["labels"] == alert["labels"] and a["status"]["inhibitedBy"] for a in held)


def documented_inhibit_rules() -> list[dict[str, Any]]:
    """The inhibit rule the migration guide tells people to use."""
    text = (REPO / "docs" / "migrating.md").read_text()
    found = re.search(r"```yaml\n( *inhibit_rules:.*?)```", text, re.S)
    assert found, "docs/migrating.md shows no inhibit_rules"
    rules: list[dict[str, Any]] = yaml.safe_load(textwrap.dedent(found.group(1)))["inhibit_rules"]
    return rules


@pytest.mark.parametrize("matcher", ["sloguard_severity", "severity"])
def test_the_documented_inhibit_rule_holds_when_a_definition_renames_severity(
    matcher: str, tmp_path: Path
) -> None:
    """Sloth's getting-started example renames severity to `pageteam` and `slack`: the guide's
    rule on `sloguard_severity` still holds the ticket back while the page fires; the same rule
    on `severity` would let both through."""
    groups = generated_groups(tmp_path, "sloth", "myservice.rules.yml")
    alerts = [
        {"labels": {"alertname": r["alert"], **r["labels"]}}
        for g in groups
        for r in g["rules"]
        if "alert" in r and r["labels"]["slo"] == "requests-availability"
    ]
    documented = documented_inhibit_rules()
    assert documented[0]["source_matchers"] == ['sloguard_severity="page"']
    rules = [
        {
            key: [m.replace("sloguard_severity", matcher) for m in value]
            if key.endswith("_matchers")
            else value
            for key, value in rule.items()
        }
        for rule in documented
    ]
    with running_alertmanager(tmp_path, hook_only(rules)) as manager:
        page, ticket = sorted(alerts, key=lambda a: a["labels"]["sloguard_severity"])
        # The page fires first (the inhibitor must know it), then the ticket arrives.
        httpx.post(f"{manager.url}/api/v2/alerts", json=[page], timeout=5).raise_for_status()
        manager.delivered(count=1)
        httpx.post(f"{manager.url}/api/v2/alerts", json=[ticket], timeout=5).raise_for_status()
        if matcher == "sloguard_severity":  # held back: Alertmanager marks it inhibited
            wait_for(lambda: inhibited(manager.url, ticket), "the ticket to be inhibited")
        else:  # let through: it arrives
            manager.delivered(count=2)
        delivered = [a for d in manager.deliveries for a in d["alerts"]]
    severities = {a["labels"]["severity"] for a in delivered}
    assert severities == ({"pageteam"} if matcher == "sloguard_severity" else {"pageteam", "slack"})
