"""The README's first command, unattended: the live demo runs, shows the table and the canary
verdicts, stops everything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sloguard.demo.live import SCHEDULE, conditions_for, phase_at
from tests.support.demo import assert_stopped, demo_command
from tests.support.repo import REPO

pytestmark = pytest.mark.integration  # starts real processes or servers


def test_the_schedule_stages_an_incident_and_a_recovery() -> None:
    assert phase_at(0)[0].story == "all healthy"
    incident, after = phase_at(90)
    assert conditions_for(incident).checkout_errors == 0.05
    assert after.story == "checkout recovered"
    assert phase_at(360 + 90)[0] is incident  # the schedule repeats
    assert conditions_for(SCHEDULE[0]).checkout_errors < 0.001


@pytest.mark.timeout(180)
def test_the_demo_runs_unattended_and_cleans_up(tmp_path: Path) -> None:
    result = subprocess.run(
        demo_command(60, 4),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "1. validated 3 file(s), 3 service(s), 6 SLO(s)" in out
    assert "rules checked by promtool" in out
    assert "all healthy (next in" in out
    last = out.rsplit("sloguard demo, ", 1)[1]
    rows = [line for line in last.splitlines() if "/" in line.split(" ", 1)[0]]
    assert len(rows) == 6, last
    # Seconds of data are enough for these; the calendar SLO waits for a completed hour and
    # the freshness ratio for its first 1m subquery step.
    for row in rows:
        if row.startswith(("checkout/", "catalog/")):
            assert " no_data " not in row, last
    # The gate judged both checkout canaries on its latency SLO, with the reasons.
    assert "  canary-good: pass: all 1 SLO(s) pass" in last, last
    assert "  canary-slow: fail: latency: canary error ratio" in last, last
    assert_stopped(out)
