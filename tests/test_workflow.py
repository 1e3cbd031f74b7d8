"""The CI workflow shipped for users' repositories runs what the README says it runs."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.repo import REPO
from tests.support.running import run_cli


def sloguard_steps() -> list[list[str]]:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "slos.yml").read_text())
    commands = [step.get("run", "") for step in workflow["jobs"]["slos"]["steps"]]
    return [shlex.split(c)[1:] for c in commands if c.startswith("sloguard ")]


def test_the_workflow_fails_on_stale_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its steps, run in order in a checkout whose committed rules are stale, stop with an
    error before the end (a step that regenerated them first would hide it)."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "slo-definitions", repo / "slo-definitions")
    monkeypatch.chdir(repo)
    assert run_cli("generate")[0] == 0
    rules = next((repo / "alert-rules").glob("*.yml"))
    rules.write_text(rules.read_text().replace("14.4", "10"))
    steps = [s for s in sloguard_steps() if s[0] != "prove"]  # prove needs promtool
    assert steps[-1] == ["check"]
    assert [run_cli(*step)[0] for step in steps][-1] == 1


def test_the_workflow_checks_and_keeps_the_dashboards() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "slos.yml").read_text())
    assert workflow[True] == {"push": None, "pull_request": None}  # `on:` parses as True
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["slos"]["steps"]
    commands = [step.get("run", "") for step in steps]
    for command in ("sloguard validate", "sloguard check", "sloguard prove"):
        assert command in commands
    assert "sloguard generate" not in commands  # it would rewrite what check must compare
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "dashboards/*.json"
    for step in steps:
        if "uses" in step:  # pinned to a commit, not a movable tag
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
