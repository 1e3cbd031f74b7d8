"""How good is the gate? Judges asked every minute about simulated canaries: detection of
regressions, false failures on healthy canaries, inconclusive answers, time to decide, and
the bad requests served before the decision.

Run: .venv/bin/python -m bench.gate_quality [--quick] [--seeds 40] [--minutes 10]
     [--picture docs/images/gate-quality.svg]

Every judge sees the same simulated per-minute counts in-process (not yet served from a
backfilled Prometheus, so the judges' arithmetic is compared, not their queries). The grid:
stable error ratios 0.01%-1%, canary traffic 1-100 req/s at a 10% share (5% and 50% too
without noise), regressions of the error ratio (1.5x-20x) and of latency (every request 10% or
25% slower, as the share of requests past the SLO's threshold), six kinds of noise. Each row
also shows the ceiling: the detection of the best possible test (see `ceiling`). Judges:
- sloguard: the gate's own decision (`gate.decision.decide_slo`) on the SLO (99.9%), over
  the canary's intervals since it started (at most the gate's 1h window), with the baseline;
- sloguard-mw: the same with `test: mann-whitney`, the comparison before the sequential test;
- flagger: Flagger's built-in request-success-rate >= 99% over the last minute, checked every
  minute, rolled back at the 5th failed check (`threshold: 5`);
- argo: Argo Rollouts' documented analysis example, success rate >= 95% over the last 5m,
  measured every 5 minutes, aborted at the 4th failed measurement (`failureLimit: 3`);
- slo-threshold: an error ratio over the last 5m at most the SLO's budget (1 - 0.999);
- kayenta: the Mann-Whitney comparison alone with its defaults (sloguard's implementation).
The others are asked every minute and abort at their first fail, as sloguard's own templates
do. A threshold judge with no traffic in its window answers inconclusive. `--picture` also runs
tuned variants of sloguard (its confidence) and of the thresholds (their limit) and draws
detection against false failures.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from sloguard.gate.comparison import compare
from sloguard.gate.decision import decide_slo
from sloguard.gate.model import Interval, Observation, Verdict
from sloguard.spec.model import SLO

STEP = 60.0
OBJECTIVE = 99.9
BUDGET = 1 - OBJECTIVE / 100


def slo(**gate: object) -> SLO:
    return SLO.model_validate(
        {
            "name": "availability",
            "objective": OBJECTIVE,
            "sli": {
                "events": {
                    "errors": "sum(rate(e[{{window}}]))",
                    "total": "sum(rate(t[{{window}}]))",
                }
            },
            "gate": gate,
        }
    )


Judge = Callable[[list[Interval], list[Interval]], Verdict]


NOISES = ("poisson", "bursty", "clustered", "diurnal", "degraded-stable", "missing-scrapes")
HISTORY = 60  # minutes the baseline served before the canary started (the gate's 1h window)


@dataclass(frozen=True)
class Cell:
    stable_ratio: float  # the stable version's error ratio
    factor: float  # the canary's error ratio over the stable one's (1: healthy)
    canary_rps: float
    noise: str = "poisson"
    share: float = 0.1  # the canary's share of the requests
    history: int = HISTORY  # minutes the baseline served before the canary started


def latency_factor(shift: float, stable_ratio: float, spread: float = 0.5) -> float:
    """A latency regression as an error-ratio factor: with log-normal latencies (log sd
    `spread`) and the SLO's threshold where `stable_ratio` of the stable's requests are slow,
    the share of slow requests when every request takes `shift` times as long, over the
    stable's."""
    over = stats.norm.isf(stable_ratio) - math.log(shift) / spread
    return float(stats.norm.sf(over) / stable_ratio)


def traffic(cell: Cell, minutes: int, rng: np.random.Generator) -> tuple[list[Interval], ...]:
    """Per-minute intervals (rates per second) of the canary (from its start) and the
    baseline (the cell's `history` minutes before too): binomial errors over Poisson requests.
    Noise: `bursty` traffic (both versions' rate times one log-normal factor a minute, errors
    following the load), `clustered` errors (in clusters of 4 on average, geometric sizes: a
    client retrying), `diurnal` traffic (tripling from the history's start to the end, a
    morning's rise), a `degraded-stable` (the baseline failing 3x its usual share while the
    canary is judged against the usual), `missing-scrapes` (a fifth of the minutes unread)."""
    span = cell.history + minutes
    load = np.ones(span)
    if cell.noise == "bursty":
        load = rng.lognormal(0.0, 0.6, span)
    elif cell.noise == "diurnal":
        load = np.linspace(0.4, 1.2, span)
    stable = cell.stable_ratio * (3 if cell.noise == "degraded-stable" else 1)
    cluster = 4.0 if cell.noise == "clustered" else 1.0
    baseline_rps = cell.canary_rps * (1 - cell.share) / cell.share
    found = []
    for rps, ratio, first in ((cell.canary_rps, cell.stable_ratio * cell.factor, cell.history),
                              (baseline_rps, stable, 0)):  # fmt: skip
        total = rng.poisson(rps * STEP * load).astype(float)
        share = np.minimum(1.0, ratio * (load if cell.noise == "bursty" else 1.0))
        clusters = rng.binomial(total.astype(int), share / cluster)
        errors = clusters.astype(float)
        if cluster > 1:
            extra = rng.negative_binomial(np.maximum(clusters, 1), 1 / cluster)
            errors = np.minimum(total, np.where(clusters > 0, clusters + extra, 0))
        if cell.noise == "missing-scrapes":
            unread = rng.random(span) < 0.2
            total[unread], errors[unread] = 0.0, 0.0
        found.append(
            [
                Interval((m + 1) * STEP, errors[m] / STEP, total[m] / STEP)
                for m in range(first, span)
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


def gate(spec: SLO) -> Judge:
    """sloguard's gate on `spec`, over the canary's intervals since it started (at most the
    gate's window), with the baseline."""
    window = int(3600 / STEP)

    def judge(canary: list[Interval], baseline: list[Interval]) -> Verdict:
        seen = Observation(canary[-window:], baseline[-window:], STEP, budget_remaining=0.5)
        return decide_slo(spec, seen).verdict

    return judge


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
    """Mann-Whitney over the intervals since the canary started."""
    x = [i.ratio for i in canary if i.total > 0]
    y = [i.ratio for i in baseline[-len(canary) :] if i.total > 0]
    if len(x) < 3 or len(y) < 3:
        return Verdict.INCONCLUSIVE
    return Verdict.FAIL if compare(x, y).higher else Verdict.PASS


@dataclass(frozen=True)
class Judged:
    """A judge as its analysis runs it: asked every `every` minutes from the canary's first,
    the rollout aborted at its `failures`-th failed answer (Argo's `failureLimit` + 1,
    Flagger's `threshold`)."""

    ask: Judge
    every: int = 1
    failures: int = 1


def error_ratio(limit: float, minutes: int) -> Judge:
    """A threshold on the canary's error ratio over its last `minutes` (Flagger's and Argo's
    templates are success rates: at least 1 - `limit`)."""
    return success_rate(1 - limit, minutes)


JUDGES: dict[str, Judged] = {
    "sloguard": Judged(gate(slo())),  # its AnalysisTemplates abort at the first fail
    "sloguard-mw": Judged(gate(slo(test="mann-whitney"))),
    # Flagger's tutorials: `interval: 1m`, `threshold: 5` failed checks before the rollback.
    "flagger": Judged(success_rate(0.99, 1), failures=5),
    # Argo's documented example: `interval: 5m`, `failureLimit: 3`.
    "argo": Judged(success_rate(0.95, 5), every=5, failures=4),
    "slo-threshold": Judged(error_ratio(BUDGET, 5)),
    "kayenta": Judged(kayenta),
}
TEMPLATES = ("flagger", "argo", "slo-threshold")
# Tuned variants for the picture, each family from quiet to eager, asked every minute and
# aborting at the first fail.
FAMILIES: dict[str, dict[str, Judged]] = {
    "sloguard": {
        f"{c:g}": Judged(gate(slo(confidence=c))) for c in (0.9, 0.95, 0.98, 0.99, 0.999, 0.9999)
    },
    "error ratio / 1m": {
        f"{k:g}x": Judged(error_ratio(k * BUDGET, 1)) for k in (1, 2, 5, 10, 20, 50, 100)
    },
    "error ratio / 5m": {
        f"{k:g}x": Judged(error_ratio(k * BUDGET, 5)) for k in (1, 1.5, 2, 3, 5, 10, 20, 50)
    },
}


DEFAULT_CONFIDENCE = "0.98"
LEGENDS = {
    "sloguard": "sloguard, by confidence",
    "error ratio / 1m": "error ratio / 1m, by limit",
    "error ratio / 5m": "error ratio / 5m, by limit",
}


@dataclass
class Tally:
    runs: int = 0
    failed: int = 0  # a fail within the run (the first non-pass, non-inconclusive answer)
    never: int = 0  # inconclusive to the end
    minutes_to_fail: float = 0.0
    bad_served: float = 0.0  # the canary's bad requests until the decision or the run's end
    passes: int = 0  # runs not aborted that passed at some minute
    minutes_to_pass: float = 0.0  # to the first pass, over those

    def add_run(self, analysis: Analysis, canary: Sequence[Interval]) -> None:
        """One run: the bad requests the canary served until the abort or the run's end."""
        served = canary if analysis.aborted is None else canary[: analysis.aborted]
        self.runs += 1
        self.bad_served += sum(i.errors for i in served) * STEP
        if analysis.aborted is not None:
            self.failed += 1
            self.minutes_to_fail += analysis.aborted
        elif analysis.passed is None:
            self.never += 1
        if analysis.passed is not None and analysis.aborted is None:
            self.passes += 1
            self.minutes_to_pass += analysis.passed

    def add(self, other: Tally) -> None:
        self.runs += other.runs
        self.failed += other.failed
        self.never += other.never
        self.minutes_to_fail += other.minutes_to_fail
        self.bad_served += other.bad_served
        self.passes += other.passes
        self.minutes_to_pass += other.minutes_to_pass

    @property
    def fail_share(self) -> float:
        return self.failed / self.runs if self.runs else math.nan

    @property
    def minutes(self) -> float:
        return self.minutes_to_fail / self.failed if self.failed else math.nan


@dataclass
class Analysis:
    """One analysis run of one judge (its `every` and `failures`, see `Judged`): its failed
    answers, whether any passed, and when it aborted the rollout."""

    every: int = 1
    failures: int = 1
    failed: int = 0
    passed: int | None = None  # the minute of the first pass
    aborted: int | None = None  # the minute

    def asks(self, minute: int) -> bool:
        return self.aborted is None and (minute - 1) % self.every == 0

    def answer(self, minute: int, verdict: Verdict) -> None:
        if verdict is Verdict.PASS and self.passed is None:
            self.passed = minute
        if verdict is Verdict.FAIL:
            self.failed += 1
            if self.failed >= self.failures:
                self.aborted = minute


def run(cell: Cell, judges: Mapping[str, Judged], minutes: int, seeds: int) -> dict[str, Tally]:
    """Each judge's analysis on the same traffic: an abort ends the run (a rollback); passes
    go on (the analysis keeps running)."""
    tallies = {name: Tally() for name in judges}
    for seed in range(seeds):
        canary, baseline = traffic(cell, minutes, np.random.default_rng(seed))
        for name, judged in judges.items():
            analysis = Analysis(judged.every, judged.failures)
            for minute in range(1, minutes + 1):
                if analysis.asks(minute):
                    verdict = judged.ask(canary[:minute], baseline[: cell.history + minute])
                    analysis.answer(minute, verdict)
            tallies[name].add_run(analysis, canary)
    return tallies


@dataclass(frozen=True)
class Regression:
    """The canary's error ratio `errors` times the stable's, or every request `latency` times
    as slow."""

    errors: float = 1.0
    latency: float | None = None

    @property
    def label(self) -> str:
        return f"{self.errors:g}x" if self.latency is None else f"lat+{self.latency - 1:.0%}"

    def factor(self, stable_ratio: float) -> float:
        if self.latency is None:
            return self.errors
        return latency_factor(self.latency, stable_ratio)


def regressions(quick: bool) -> list[Regression]:
    errors = [1.0, 2.0, 5.0] if quick else [1.0, 1.5, 2.0, 5.0, 20.0]
    shifts = [] if quick else [1.1, 1.25]
    return [Regression(f) for f in errors] + [Regression(latency=s) for s in shifts]


def grid(quick: bool) -> list[tuple[str, float, float, float]]:
    """(noise, stable ratio, canary req/s, canary share) of every cell but the regression."""
    if quick:
        return [("poisson", 0.001, 10.0, 0.1), ("poisson", 0.001, 100.0, 0.1)]
    cells = [
        (noise, ratio, rps, 0.1) for noise, ratio, rps in itertools.product(NOISES, RATIOS, RATES)
    ]
    others = itertools.product(["poisson"], RATIOS, RATES, [0.05, 0.5])
    return cells + list(others)


RATIOS = (0.0001, 0.001, 0.01)
RATES = (1.0, 10.0, 100.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small grid (CI-sized)")
    parser.add_argument("--seeds", type=_at_least(1), default=None, help="per cell (default 40)")
    parser.add_argument("--minutes", type=_at_least(1), default=10)
    parser.add_argument(
        "--noise", choices=NOISES, help="only the cells of this noise (default: every cell)"
    )
    parser.add_argument(
        "--history",
        type=_at_least(0),
        default=HISTORY,
        help=f"minutes the baseline served before the canary (default {HISTORY})",
    )
    parser.add_argument(
        "--picture", type=Path, help="also run the tuned families and draw them (an SVG)"
    )
    args = parser.parse_args()
    seeds = args.seeds or (10 if args.quick else 40)
    kinds = regressions(args.quick)
    cells = [c for c in grid(args.quick) if args.noise in (None, c[0])]
    if not cells:
        parser.error(f"no {args.noise} cells in the quick grid")
    if args.picture and not any(c[0] in PICTURED for c in cells):
        parser.error(f"--picture draws the {' and '.join(PICTURED)} cells, not {args.noise}")
    started = time.perf_counter()
    print(
        f"{len(cells) * len(kinds)} cells, {seeds} seeds each, {args.minutes} minutes, SLO "
        f"{OBJECTIVE}%, the baseline served {args.history} minutes before the canary. Per judge: "
        "fail% (on 1x: false failures), undecided% (inconclusive throughout), minutes to fail"
    )
    header = f"{'noise':>15} {'stable':>7} {'rps':>5} {'share':>5} {'change':>7} {'best':>5}  "
    print(header + "  ".join(f"{n:>20}" for n in JUDGES))
    totals: dict[tuple[str, str], Tally] = {}
    best_of: dict[str, list[float]] = {}
    goal: list[tuple[float, float]] = []  # 2x at 10 req/s: (sloguard caught, best possible)
    for (noise, ratio, rps, share), kind in itertools.product(cells, kinds):
        cell = Cell(ratio, kind.factor(ratio), rps, noise, share, args.history)
        tallies = run(cell, JUDGES, args.minutes, seeds)
        for name, tally in tallies.items():
            totals.setdefault((name, kind.label), Tally()).add(tally)
        shown = [
            f"{t.fail_share:5.0%} {t.never / t.runs:4.0%} {_took(t)}" for t in tallies.values()
        ]
        best = ceiling(cell, args.minutes)
        best_of.setdefault(kind.label, []).append(best)
        if kind.label == "2x" and rps == 10:
            goal.append((tallies["sloguard"].fail_share, best))
        row = f"{noise:>15} {ratio:7.2%} {rps:5g} {share:5.0%} {kind.label:>7} {best:5.0%}  "
        print(row + "  ".join(f"{c:>20}" for c in shown), flush=True)
    print(
        f"(best: the most any judge can catch at 1% false failures; {time.perf_counter() - started:.0f} s)"
    )
    summary(totals, best_of, [k.label for k in kinds])
    caught, best = np.mean(goal, axis=0)
    print(
        f"2x at 10 req/s within {args.minutes} minutes: sloguard caught {caught:.0%}, the best "
        f"possible {best:.0%} (goal 95%), over {len(goal)} cells"
    )
    if args.picture:
        picture(args.picture, cells, args.minutes, max(4, seeds // 4))


def _at_least(least: int) -> Callable[[str], int]:
    """An argument parser's type: a whole number at least `least`."""

    def parse(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least}")
        return value

    return parse


PICTURED = ("poisson", "clustered")  # the noises whose cells `picture` draws


def summary(
    totals: Mapping[tuple[str, str], Tally],
    best_of: Mapping[str, Sequence[float]],
    kinds: Sequence[str],
) -> None:
    """Per judge over the whole grid: false failures, detection of each regression, minutes
    to fail, and the bad requests the canary served before its rollback (or the run's end)."""
    print()
    print(
        f"{'judge':>14} {'false fail':>10} {'passed':>12} "
        + " ".join(f"{k:>14}" for k in kinds[1:])
    )
    best = [f"{np.mean(best_of[k]):4.0%}" for k in kinds[1:]]
    print(f"{'best possible':>14} {'1%':>10} {'':>12} " + " ".join(f"{b:<14}" for b in best))
    for name in JUDGES:
        healthy = totals[(name, kinds[0])]
        passed = healthy.passes / healthy.runs
        when = f"{healthy.minutes_to_pass / healthy.passes:4.1f}m" if healthy.passes else "    -"
        caught = []
        for kind in kinds[1:]:
            tally = totals[(name, kind)]
            bad = tally.bad_served / tally.runs
            caught.append(f"{tally.fail_share:4.0%} {_took(tally)} {bad:5.0f}")
        print(
            f"{name:>14} {healthy.fail_share:10.2%} {passed:6.0%} {when} "
            + " ".join(f"{c:>14}" for c in caught)
        )
    print(
        "(healthy: failed, passed and the mean minute of the first pass; per regression: "
        "caught within the run, mean minutes to fail, bad requests served)"
    )
    ours = _overall(totals, "sloguard", kinds)
    for name in TEMPLATES:
        theirs = _overall(totals, name, kinds)
        if ours[0] <= theirs[0] and ours[1] > theirs[1]:
            verdict = "sloguard better on both"
        elif ours[0] < theirs[0]:
            verdict = "it catches more only by failing more healthy canaries"
        elif ours[1] > theirs[1]:
            verdict = "sloguard catches more, failing more healthy canaries"
        else:
            verdict = "sloguard worse on both"
        print(
            f"sloguard against {name}: false failures {ours[0]:.2%} vs {theirs[0]:.2%}, "
            f"regressions caught {ours[1]:.1%} vs {theirs[1]:.1%}, bad requests served per "
            f"regressed canary {ours[2]:.0f} vs {theirs[2]:.0f}: {verdict}"
        )


def _took(tally: Tally) -> str:
    return f"{tally.minutes:4.1f}m" if tally.failed else "    -"


def _overall(
    totals: Mapping[tuple[str, str], Tally], name: str, kinds: Sequence[str]
) -> tuple[float, float, float]:
    """False failures, regressions caught, bad requests served per regressed run."""
    regressed = Tally()
    for kind in kinds[1:]:
        regressed.add(totals[(name, kind)])
    return (
        totals[(name, kinds[0])].fail_share,
        regressed.fail_share,
        regressed.bad_served / regressed.runs,
    )


def picture(
    path: Path, cells: Sequence[tuple[str, float, float, float]], minutes: int, seeds: int
) -> None:
    """Each tuned variant's false failures against its detection of a 2x regression over
    the cells with steady or clustered errors at a 10% share, printed and drawn as an SVG."""
    chosen = [c for c in cells if c[0] in PICTURED and c[3] == 0.1]
    points: dict[str, list[tuple[str, float, float, float]]] = {}
    for family, judges in FAMILIES.items():
        found: dict[str, tuple[Tally, Tally]] = {n: (Tally(), Tally()) for n in judges}
        for noise, ratio, rps, share in chosen:
            for factor, slot in ((1.0, 0), (2.0, 1)):
                tallies = run(Cell(ratio, factor, rps, noise, share), judges, minutes, seeds)
                for name, tally in tallies.items():
                    found[name][slot].add(tally)
        points[family] = [
            (n, h.fail_share, r.fail_share, r.bad_served / r.runs) for n, (h, r) in found.items()
        ]
    print()
    print(
        f"Tuned variants over {len(chosen)} cells, {seeds} seeds: false failures, 2x caught, bad served"
    )
    for family, variants in points.items():
        for name, false, caught, bad in variants:
            print(f"{family:>18} {name:>7}: {false:7.2%} {caught:6.1%} {bad:7.0f}")
    _, false, caught, bad = next(v for v in points["sloguard"] if v[0] == DEFAULT_CONFIDENCE)
    for family, variants in points.items():
        quiet = [v for v in variants if v[1] <= false]
        if family == "sloguard":
            continue
        if not quiet:
            name, least, theirs, served = min(variants, key=lambda v: v[1])
            print(
                f"no {family} threshold fails as few healthy canaries as sloguard's "
                f"{false:.2%}: its quietest ({name}) fails {least:.2%} and catches "
                f"{theirs:.1%} of 2x against {caught:.1%}"
            )
            continue
        name, _, theirs, served = max(quiet, key=lambda v: v[2])
        print(
            f"at no more false failures than sloguard's {false:.2%}, the best {family} "
            f"threshold ({name}) catches {theirs:.1%} of 2x against {caught:.1%}, serving "
            f"{served:.0f} bad requests against {bad:.0f}"
        )
    path.write_text(_svg(points))
    print(f"drawn: {path}")


def _svg(points: Mapping[str, Sequence[tuple[str, float, float, float]]]) -> str:
    """Detection (up) against false failures (right, on a square-root scale so that the
    first percent has room), one line per family, each variant named."""
    width, height, left, bottom, top, right = 640, 400, 56, 44, 16, 150
    colours = ("#b00020", "#1f4e99", "#1b5e20", "#7a4a00")

    def x(v: float) -> float:
        return left + math.sqrt(max(v, 0.0)) * (width - left - right)

    def y(v: float) -> float:
        return top + (1 - v) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{x(1)}" y2="{y(0)}" stroke="#333"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{y(1)}" stroke="#333"/>',
    ]
    for tick in (0, 0.01, 0.05, 0.25, 0.5, 1):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{y(0) + 14}" text-anchor="middle">{tick:.0%}</text>'
        )
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.0%}</text>'
        )
    parts.append(
        f'<text x="{(left + x(1)) / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        "healthy canaries failed (square-root scale)</text>"
    )
    parts.append(
        f'<text x="14" y="{(top + y(0)) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + y(0)) / 2:.1f})">2x regressions caught in 10 min</text>'
    )
    for n, (family, variants) in enumerate(points.items()):
        colour = colours[n % len(colours)]
        line = " ".join(
            f"{x(f):.1f},{y(c):.1f}" for _, f, c, _ in sorted(variants, key=lambda v: v[1])
        )
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        ordered = sorted(variants, key=lambda v: (v[1], v[2]))
        for i, (name, false, caught, _) in enumerate(ordered):
            parts.append(
                f'<circle cx="{x(false):.1f}" cy="{y(caught):.1f}" r="3" fill="{colour}"/>'
            )
            # The ends of each line and sloguard's default are named, the rest only drawn.
            if 0 < i < len(ordered) - 1 and name != DEFAULT_CONFIDENCE:
                continue
            dx, dy, anchor = (5, -5, "start") if i < len(ordered) - 1 else (-5, 14, "end")
            said = f"{name} (default)" if name == DEFAULT_CONFIDENCE else name
            parts.append(
                f'<text x="{x(false) + dx:.1f}" y="{y(caught) + dy:.1f}" fill="{colour}" '
                f'text-anchor="{anchor}">{said}</text>'
            )
        said = LEGENDS.get(family, family)
        parts.append(
            f'<text x="{width - right + 12}" y="{top + 16 * (n + 1)}" fill="{colour}">{said}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
