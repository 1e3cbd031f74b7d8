"""The served gate-quality benchmark's smoke test: simulated canaries backfilled into a real
Prometheus, judged by the agent's `/v1/analysis` and the templates' own queries (the figures
are printed by `python -m bench.gate_served`)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from bench.gate_quality import Cell
from bench.gate_served import canaries, counters, served

pytestmark = pytest.mark.integration  # starts promtool and Prometheus


def test_a_broken_canary_fails_and_a_healthy_one_does_not_when_served(tmp_path: Path) -> None:
    healthy, broken = Cell(0.001, 1.0, 100.0), Cell(0.001, 20.0, 100.0)
    found = [c for c in canaries(seeds=1, minutes=6) if c.cell in (healthy, broken)]
    start = int(time.time()) // 60 * 60 - 7 * 60
    tallies = served(found, start, 6, tmp_path)
    for name in ("sloguard", "flagger", "kayenta"):
        assert tallies[(healthy, name)].failed == 0, name
        assert tallies[(broken, name)].failed == 1, name
    assert tallies[(broken, "sloguard")].minutes <= 2  # a 2% error ratio shows at once
    assert tallies[(broken, "flagger")].minutes == 5  # its 5th failed check
    assert tallies[(broken, "argo")].failed == 0  # every 5 minutes, 4 failures: not by minute 6


def test_counters_carry_every_request_once() -> None:
    [first] = [c for c in canaries(seeds=1, minutes=3) if c.cell == Cell(0.001, 5.0, 10.0)]
    lines = [line for line in counters([first], 1_000_000) if 'version="canary"' in line]
    last = {}
    for line in lines:
        labels, value, _ = line.rsplit(" ", 2)
        last[labels] = float(value)
    errors = sum(v for k, v in last.items() if 'code="500"' in k)
    total = sum(last.values())
    assert errors == round(sum(i.errors for i in first.canary) * 60)
    assert total == round(sum(i.total for i in first.canary) * 60)
