"""The gate-quality benchmark's smoke test: its judges see the same simulated canaries and
tell a healthy one from a grossly regressed one as they should (the figures themselves are
printed by `python -m bench.gate_quality`)."""

from __future__ import annotations

import pytest
from bench.gate_quality import JUDGES, NOISES, Cell, run

pytestmark = pytest.mark.unit


def test_every_judge_passes_a_healthy_busy_canary_and_fails_a_broken_one() -> None:
    healthy = run(Cell(0.0001, 1.0, 100.0), list(JUDGES), minutes=8, seeds=3)
    broken = run(Cell(0.0001, 500.0, 100.0), list(JUDGES), minutes=8, seeds=3)
    for name in JUDGES:
        assert healthy[name].failed == 0, name
        assert broken[name].failed == 3, name
        assert broken[name].bad_served > 0
    # A burn this clear fails at the first minute: evidence holds back a pass, never a fail.
    assert broken["sloguard"].minutes_to_fail / 3 == 1
    assert broken["flagger"].minutes_to_fail / 3 == 1


def test_no_traffic_is_never_a_decision() -> None:
    silent = run(Cell(0.001, 5.0, 0.0), list(JUDGES), minutes=6, seeds=2)
    for name, tally in silent.items():
        assert tally.failed == 0 and tally.never == 2, name


@pytest.mark.parametrize("noise", NOISES)
def test_sloguard_holds_up_under_each_noise(noise: str) -> None:
    healthy = run(Cell(0.0005, 1.0, 100.0, noise), ["sloguard"], minutes=8, seeds=3)
    broken = run(Cell(0.0005, 100.0, 100.0, noise), ["sloguard"], minutes=8, seeds=3)
    assert healthy["sloguard"].failed == 0 and broken["sloguard"].failed == 3
