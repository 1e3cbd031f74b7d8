"""The CI workflow shipped for users' repositories runs what the README says it runs."""

from __future__ import annotations

import re

import yaml

from tests.support.repo import REPO


def test_the_workflow_generates_checks_and_keeps_the_dashboards() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "slos.yml").read_text())
    assert workflow[True] == {"push": None, "pull_request": None}  # `on:` parses as True
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["slos"]["steps"]
    commands = [step.get("run", "") for step in steps]
    for command in ("sloguard validate", "sloguard generate", "sloguard check", "sloguard prove"):
        assert command in commands
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "dashboards/*.json"
    for step in steps:
        if "uses" in step:  # pinned to a commit, not a movable tag
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
