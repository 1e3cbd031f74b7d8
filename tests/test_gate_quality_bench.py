"""The gate-quality benchmark's smoke test: its judges see the same simulated canaries and
tell a healthy one from a grossly regressed one as they should (the figures themselves are
printed by `python -m bench.gate_quality`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from bench.gate_quality import (
    JUDGES,
    NOISES,
    Analysis,
    Cell,
    Tally,
    ceiling,
    latency_factor,
    main,
    picture,
    run,
    traffic,
)

from sloguard.gate.model import Verdict

pytestmark = pytest.mark.unit


def test_every_judge_passes_a_healthy_busy_canary_and_fails_a_broken_one() -> None:
    healthy = run(Cell(0.0001, 1.0, 100.0), JUDGES, minutes=16, seeds=3)
    broken = run(Cell(0.0001, 1000.0, 100.0), JUDGES, minutes=16, seeds=3)  # 10% fail
    for name in JUDGES:
        assert healthy[name].failed == 0, name
        assert healthy[name].passes == 3, name
        assert broken[name].failed == 3, name
        assert broken[name].bad_served > 0
    # A pass needs evidence: 2,995 events for 99.9%, 30 seconds of 100 req/s, and 5 intervals.
    assert healthy["sloguard"].minutes_to_pass / 3 == 5
    assert healthy["flagger"].minutes_to_pass / 3 == 1
    # A burn this clear fails at the second minute: one minute alone never decides, and
    # evidence holds back a pass, never a fail.
    assert broken["sloguard"].minutes_to_fail / 3 == 2
    # The templates as written: Flagger rolls back at its 5th failed check (one a minute),
    # Argo's example aborts at its 4th failed measurement (one every 5 minutes).
    assert broken["flagger"].minutes_to_fail / 3 == 5
    assert broken["argo"].minutes_to_fail / 3 == 16


def test_no_traffic_is_never_a_decision() -> None:
    silent = run(Cell(0.001, 5.0, 0.0), JUDGES, minutes=6, seeds=2)
    for name, tally in silent.items():
        assert tally.failed == 0 and tally.never == 2, name


@pytest.mark.parametrize("noise", NOISES)
def test_sloguard_holds_up_under_each_noise(noise: str) -> None:
    ours = {"sloguard": JUDGES["sloguard"]}
    healthy = run(Cell(0.0005, 1.0, 100.0, noise), ours, minutes=8, seeds=3)
    broken = run(Cell(0.0005, 100.0, 100.0, noise), ours, minutes=8, seeds=3)
    assert healthy["sloguard"].failed == 0 and broken["sloguard"].failed == 3


def test_the_sequential_comparison_catches_what_mann_whitney_misses() -> None:
    """The before and after: a 2x regression at 100 req/s, a 0.05% stable ratio."""
    judges = {n: JUDGES[n] for n in ("sloguard", "sloguard-mw")}
    caught = run(Cell(0.0005, 2.0, 100.0), judges, minutes=10, seeds=10)
    assert caught["sloguard"].failed >= 8 > caught["sloguard-mw"].failed


def test_the_canary_share_and_the_baselines_history_shape_the_traffic() -> None:
    canary, baseline = traffic(Cell(0.01, 1.0, 50.0, share=0.5), 10, np.random.default_rng(0))
    assert len(canary) == 10 and len(baseline) == 70
    assert [i.at for i in canary] == [i.at for i in baseline[60:]]
    served = sum(i.total for i in canary), sum(i.total for i in baseline[60:])
    assert served[0] == pytest.approx(served[1], rel=0.05)  # half the requests each
    fresh = Cell(0.01, 1.0, 50.0, history=0)  # both versions started together
    canary, baseline = traffic(fresh, 10, np.random.default_rng(0))
    assert [i.at for i in canary] == [i.at for i in baseline]


def test_a_latency_shift_is_the_share_of_requests_it_makes_slow() -> None:
    assert latency_factor(1.0, 0.001) == pytest.approx(1.0)
    # log-normal, log sd 0.5: 10% slower moves the threshold's z-score 3.09 -> 2.90.
    assert latency_factor(1.1, 0.001) == pytest.approx(1.87, abs=0.01)


def test_the_picture_draws_each_family_and_its_variants(tmp_path: Path) -> None:
    cells = [("poisson", 0.001, 100.0, 0.1)]
    picture(tmp_path / "roc.svg", cells, minutes=3, seeds=1)
    drawn = (tmp_path / "roc.svg").read_text()
    assert (
        drawn.count("<polyline") == 3
        and ">0.98 (default)</text>" in drawn
        and ">1x</text>" in drawn
    )


def test_an_analysis_asks_at_its_interval_and_aborts_at_its_failure_limit() -> None:
    analysis = Analysis(every=5, failures=2)
    asked = [m for m in range(1, 12) if analysis.asks(m)]
    assert asked == [1, 6, 11]
    analysis.answer(1, Verdict.FAIL)
    analysis.answer(6, Verdict.PASS)
    assert analysis.aborted is None and analysis.passed == 6
    analysis.answer(11, Verdict.FAIL)
    assert analysis.aborted == 11 and not analysis.asks(16)


def test_tallies_add_up() -> None:
    a, b = Tally(2, 1, 0, 3.0, 10.0, 1, 5.0), Tally(2, 1, 1, 5.0, 2.0, 0, 0.0)
    a.add(b)
    assert (a.runs, a.failed, a.never, a.minutes, a.bad_served) == (4, 2, 1, 4.0, 12.0)
    assert (a.passes, a.minutes_to_pass) == (1, 5.0)


def test_the_ceiling_is_the_best_exact_test() -> None:
    """No judge can beat one exact look with the stable ratio known: at 10 req/s for 10
    minutes a 2x regression of a 0.1% error ratio (6 expected errors against 12) is caught at
    most 42% of the time for 1% false failures; at 100 req/s nearly always."""
    assert ceiling(Cell(0.001, 1.0, 10.0), 10) <= 0.01
    assert ceiling(Cell(0.001, 2.0, 10.0), 10) == pytest.approx(0.42, abs=0.01)
    assert ceiling(Cell(0.001, 2.0, 100.0), 10) > 0.99
    assert ceiling(Cell(0.001, 2.0, 0.0), 10) == 0.0


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--history", "-1"], "-1 is less than 0"),
        (["--seeds", "0"], "0 is less than 1"),
        (["--noise", "bursty", "--picture", "x.svg"], "draws the poisson and clustered cells"),
        (["--quick", "--noise", "diurnal"], "no diurnal cells in the quick grid"),
    ],
)
def test_arguments_it_cannot_run_are_refused_before_it_starts(
    arguments: list[str],
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "argv", ["gate_quality", *arguments])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert said in captured.err and captured.out == ""
