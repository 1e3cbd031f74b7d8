"""The gate-quality benchmark's smoke test: its judges see the same simulated canaries and
tell a healthy one from a grossly regressed one as they should (the figures themselves are
printed by `python -m bench.gate_quality`)."""

from __future__ import annotations

import pytest
from bench.gate_quality import JUDGES, NOISES, Cell, ceiling, run

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


def test_the_ceiling_is_the_best_exact_test() -> None:
    """No judge can beat one exact look with the stable ratio known: at 10 req/s for 10
    minutes a 2x regression of a 0.1% error ratio (6 expected errors against 12) is caught at
    most 42% of the time for 1% false failures; at 100 req/s nearly always."""
    assert ceiling(Cell(0.001, 1.0, 10.0), 10) <= 0.01
    assert ceiling(Cell(0.001, 2.0, 10.0), 10) == pytest.approx(0.42, abs=0.01)
    assert ceiling(Cell(0.001, 2.0, 100.0), 10) > 0.99
    assert ceiling(Cell(0.001, 2.0, 0.0), 10) == 0.0
