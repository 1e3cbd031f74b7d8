"""How good is the gate? Judges asked every minute about simulated canaries: detection of
regressions, false failures on healthy canaries, inconclusive answers, time to decide, and
the bad requests served before the decision.

Run: .venv/bin/python -m bench.gate_quality [--quick] [--seeds 40] [--minutes 20]

First increment: every judge sees the same simulated per-minute counts in-process (Poisson
errors over steady traffic, the canary a share of it), not yet a backfilled Prometheus, so
the judges' arithmetic is compared, not the queries. Each row also shows the ceiling: the
detection of the best possible test (see `ceiling`). Judges:
- sloguard: the gate's own decision (`gate.decision.decide_slo`) on the SLO (99.9%), over
  the canary's intervals since it started (at most the gate's 1h window), with the baseline;
- flagger: Flagger's built-in request-success-rate >= 99% over the last minute;
- argo: Argo Rollouts' documented analysis example, success rate >= 95% over the last 5m;
- slo-threshold: an error ratio over the last 5m at most the SLO's budget (1 - 0.999);
- kayenta: the Mann-Whitney comparison alone with its defaults (sloguard's implementation).
A threshold judge with no traffic in its window answers inconclusive.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sloguard.gate.comparison import compare
from sloguard.gate.decision import decide_slo
from sloguard.gate.model import Interval, Observation, Verdict
from sloguard.spec.model import SLO

STEP = 60.0
OBJECTIVE = 99.9
BUDGET = 1 - OBJECTIVE / 100
SLO_SPEC = SLO.model_validate(
    {
        "name": "availability",
        "objective": OBJECTIVE,
        "sli": {
            "events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}
        },
    }
)
Judge = Callable[[list[Interval], list[Interval]], Verdict]


NOISES = ("poisson", "bursty", "degraded-stable", "missing-scrapes")


@dataclass(frozen=True)
class Cell:
    stable_ratio: float  # the stable version's error ratio
    factor: float  # the canary's error ratio over the stable one's (1: healthy)
    canary_rps: float
    noise: str = "poisson"


def traffic(cell: Cell, minutes: int, rng: np.random.Generator) -> tuple[list[Interval], ...]:
    """Per-minute intervals (rates per second) of the canary and the baseline: binomial
    errors over Poisson requests; the baseline serves nine times the canary. Noise:
    `bursty` traffic (both versions' rate times one log-normal factor a minute, errors
    following the load), a `degraded-stable` (the baseline failing 3x its usual share while the
    canary is judged against the usual), `missing-scrapes` (a fifth of the minutes unread)."""
    load = rng.lognormal(0.0, 0.6, minutes) if cell.noise == "bursty" else np.ones(minutes)
    stable = cell.stable_ratio * (3 if cell.noise == "degraded-stable" else 1)
    found = []
    for rps, ratio in ((cell.canary_rps, cell.stable_ratio * cell.factor),
                       (cell.canary_rps * 9, stable)):  # fmt: skip
        total = rng.poisson(rps * STEP * load).astype(float)
        share = np.minimum(1.0, ratio * (load if cell.noise == "bursty" else 1.0))
        errors = rng.binomial(total.astype(int), share).astype(float)
        if cell.noise == "missing-scrapes":
            unread = rng.random(minutes) < 0.2
            total[unread], errors[unread] = 0.0, 0.0
        found.append(
            [
                Interval((m + 1) * STEP, e / STEP, t / STEP)
                for m, (e, t) in enumerate(zip(errors, total, strict=True))
            ]
        )
    return tuple(found)


def ceiling(cell: Cell, minutes: int, false_failures: float = 0.01) -> float:
    """The best detection any judge can have: one look after `minutes`, the stable error ratio
    known exactly, failing on at most `false_failures` of healthy canaries (the exact one-sided
    binomial test on the canary's expected requests)."""
    requests = round(cell.canary_rps * STEP * minutes)
    if requests == 0:
        return 0.0
    stable = min(1.0, cell.stable_ratio)
    threshold = stats.binom.isf(false_failures, requests, stable) + 1  # fail at this many
    return float(stats.binom.sf(threshold - 1, requests, min(1.0, stable * cell.factor)))


def sloguard(canary: list[Interval], baseline: list[Interval]) -> Verdict:
    window = int(3600 / STEP)
    seen = Observation(canary[-window:], baseline[-window:], STEP, budget_remaining=0.5)
    return decide_slo(SLO_SPEC, seen).verdict


def success_rate(minimum: float, minutes: int) -> Judge:
    """A threshold template: the canary's success rate over its last `minutes` at least
    `minimum`."""

    def judge(canary: list[Interval], _: list[Interval]) -> Verdict:
        recent = canary[-minutes:]
        total = sum(i.total for i in recent)
        if total <= 0:
            return Verdict.INCONCLUSIVE
        success = 1 - sum(i.errors for i in recent) / total
        return Verdict.PASS if success >= minimum else Verdict.FAIL

    return judge


def kayenta(canary: list[Interval], baseline: list[Interval]) -> Verdict:
    x = [i.ratio for i in canary if i.total > 0]
    y = [i.ratio for i in baseline if i.total > 0]
    if len(x) < 3 or len(y) < 3:
        return Verdict.INCONCLUSIVE
    return Verdict.FAIL if compare(x, y).higher else Verdict.PASS


JUDGES: dict[str, Judge] = {
    "sloguard": sloguard,
    "flagger": success_rate(0.99, 1),
    "argo": success_rate(0.95, 5),
    "slo-threshold": success_rate(1 - BUDGET, 5),
    "kayenta": kayenta,
}


@dataclass
class Tally:
    runs: int = 0
    failed: int = 0  # a fail within the run (the first non-pass, non-inconclusive answer)
    never: int = 0  # inconclusive to the end
    minutes_to_fail: float = 0.0
    bad_served: float = 0.0  # the canary's bad requests until the decision


def run(cell: Cell, judges: Sequence[str], minutes: int, seeds: int) -> dict[str, Tally]:
    """Each judge asked every minute on the same traffic: the first fail ends the run (a
    rollback); passes go on (the analysis keeps running)."""
    tallies = {name: Tally() for name in judges}
    for seed in range(seeds):
        canary, baseline = traffic(cell, minutes, np.random.default_rng(seed))
        for name in judges:
            tally, judge = tallies[name], JUDGES[name]
            tally.runs += 1
            decided = False
            for minute in range(1, minutes + 1):
                verdict = judge(canary[:minute], baseline[:minute])
                if verdict is Verdict.FAIL:
                    tally.failed += 1
                    tally.minutes_to_fail += minute
                    tally.bad_served += sum(i.errors for i in canary[:minute]) * STEP
                    decided = True
                    break
                decided = decided or verdict is Verdict.PASS
            if not decided:
                tally.never += 1
    return tallies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small grid (CI-sized)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--noise", choices=NOISES, action="append", help="default: all")
    args = parser.parse_args()
    noises = args.noise or (["poisson"] if args.quick else list(NOISES))
    seeds = args.seeds or (10 if args.quick else 40)
    ratios = [0.0005] if args.quick else [0.0001, 0.0005, 0.001]
    rates = [10.0] if args.quick else [1.0, 10.0, 100.0]
    factors = [1.0, 2.0, 5.0] if args.quick else [1.0, 1.5, 2.0, 5.0, 20.0]
    started = time.perf_counter()
    print(
        f"{seeds} seeds per cell, {args.minutes} minutes, SLO {OBJECTIVE}%; "
        "fail% = runs failed within the minutes (on 1x: false failures); "
        "undecided% = inconclusive throughout"
    )
    header = f"{'noise':>15} {'stable':>7} {'rps':>5} {'factor':>6} {'best':>5}  "
    print(header + "  ".join(f"{n:>22}" for n in JUDGES))
    false_failures: dict[str, list[float]] = {name: [] for name in JUDGES}
    for noise, ratio, rps, factor in itertools.product(noises, ratios, rates, factors):
        tallies = run(Cell(ratio, factor, rps, noise), list(JUDGES), args.minutes, seeds)
        cells = []
        for name, tally in tallies.items():
            fail = tally.failed / tally.runs
            if factor == 1:
                false_failures[name].append(fail)
            when = tally.minutes_to_fail / tally.failed if tally.failed else float("nan")
            cells.append(f"{fail:5.0%} {tally.never / tally.runs:4.0%} {when:4.1f}m")
        best = ceiling(Cell(ratio, factor, rps), args.minutes)
        row = f"{noise:>15} {ratio:7.2%} {rps:5g} {factor:6g} {best:5.0%}  "
        print(row + "  ".join(f"{c:>22}" for c in cells))
    seconds = time.perf_counter() - started
    print(
        "(best: the most any judge can detect at 1% false failures, one look at the end with "
        "the stable ratio known; columns per judge: fail%, undecided%, mean minutes to fail) "
        f"in {seconds:.0f} s"
    )
    for name, shares in false_failures.items():
        print(
            f"{name}: healthy canaries failed {np.mean(shares):.1%} on average over the grid, "
            f"{max(shares):.0%} in the worst cell (goal for sloguard: at most 1%)"
        )


if __name__ == "__main__":
    main()
