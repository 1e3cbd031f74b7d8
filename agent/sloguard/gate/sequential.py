"""Sequential tests of a canary's error counts, decided as soon as the counts suffice: against
its baseline (`sequential`), and against a fixed error ratio, its burn-rate limit (`above`).

Where both versions fail alike, each error of a step is the canary's with the canary's share
`s` of the step's requests, whatever the error ratio is (conditioning on the errors removes
it: the classic test of two Poisson rates). A canary failing `r` times as often as the
baseline owns `r s / (r s + 1 - s)` of them. The likelihood ratio of "`r` times as often"
against "at most `allowed_increase` times", averaged over a spread of `r`, is a martingale
while the canary is no worse; by Ville's inequality it ever reaches `1 / alpha` with
probability at most `alpha`, however often it is looked at (a mixture sequential probability
ratio test). So a gate asked every minute may fail the first time it crosses, without the
false failures repeated fixed-window tests pile up, and a bad canary is stopped after as few
errors as the evidence allows: a 20x canary after three or four of them.

Steps where either version served nothing say nothing about the difference and are left out,
so missing scrapes and traffic that swells and ebbs for both cost nothing but time.

Against a fixed ratio `p` the same holds of the canary's errors among its requests: the
likelihood ratio of `r p` against `p`, averaged over the same spread of `r`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import logsumexp

from sloguard.gate.model import Interval

FloatArray = npt.NDArray[np.float64]

# The regressions mixed over, as multiples of the ratio allowed: evenly weighted, from the
# barely noticeable to the outright broken.
RATIOS = np.array([1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0])
_LOG_RATIOS = np.log(RATIOS)
_LOG_WEIGHT = math.log(RATIOS.size)


@dataclass(frozen=True)
class Counted:
    """The test's figures: `evidence` is the mixture likelihood ratio (how many times better
    the counts fit a worse canary than one within `allowed_increase`), `needed` its bound."""

    higher: bool
    evidence: float
    needed: float
    canary_errors: float
    canary_events: float
    baseline_errors: float
    baseline_events: float
    dispersion: float  # see `dispersion`
    expected: float  # the canary's errors were it failing `allowed_increase` times as often
    ratio: float | None  # the canary's error ratio over the baseline's (None: baseline clean)
    steps: int

    @property
    def p_value(self) -> float:
        """The anytime-valid p-value: 1 / evidence, at most 1."""
        return min(1.0, 1.0 / self.evidence) if self.evidence > 0 else 1.0


def sequential(
    canary: Sequence[Interval],
    baseline: Sequence[Interval],
    step_seconds: float,
    confidence: float = 0.98,
    allowed_increase: float = 1.0,
) -> Counted:
    """Whether the canary fails more often than `allowed_increase` times the baseline, at
    `1 - confidence` false failures however often asked. The baseline may reach back before
    the canary started: those steps only measure how clustered errors are."""
    by_time = {i.at: i for i in baseline}
    steps = []
    for step in canary:
        other = by_time.get(step.at)
        if other is not None and step.total > 0 and other.total > 0:
            steps.append((step, other))
    needed = 1 / (1 - confidence)
    if not steps:
        return Counted(False, 1.0, needed, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, None, 0)
    with np.errstate(all="ignore"):  # counts past a float's range end as NaN, checked below
        return _tested(steps, canary, baseline, step_seconds, needed, allowed_increase)


def _tested(
    steps: list[tuple[Interval, Interval]],
    canary: Sequence[Interval],
    baseline: Sequence[Interval],
    step_seconds: float,
    needed: float,
    allowed_increase: float,
) -> Counted:
    counts = np.array([(c.errors, c.total, b.errors, b.total) for c, b in steps]) * step_seconds
    # Bad events over all events cannot exceed one (rate extrapolation aside).
    canary_errors = np.minimum(counts[:, 0], counts[:, 1])
    baseline_errors = np.minimum(counts[:, 2], counts[:, 3])
    share = counts[:, 1] / (counts[:, 1] + counts[:, 3])
    allowed = allowed_increase * share
    # log(q_r / q_0) = log r + log((a + 1 - s) / (r a + 1 - s)) for the canary's errors, and
    # the second term alone for the baseline's (a = allowed_increase * s).
    rest = (1 - share)[:, None]
    spread = np.log((allowed[:, None] + rest) / (np.outer(allowed, RATIOS) + rest))
    both = canary_errors + baseline_errors
    bad, base = float(canary_errors.sum()), float(baseline_errors.sum())
    served, served_base = float(counts[:, 1].sum()), float(counts[:, 3].sum())
    ratio = (bad / served) / (base / served_base) if base > 0 else None
    split = _split(canary_errors, both, share, ratio)
    clustered = _blended(dispersion(canary, baseline, step_seconds), split)
    log_ratios = (canary_errors.sum() * _LOG_RATIOS + both @ spread) / clustered
    evidence = _mixed(log_ratios)
    expected = float((both * allowed / (allowed + 1 - share)).sum())
    return Counted(
        higher=evidence >= needed,
        evidence=evidence,
        needed=needed,
        canary_errors=bad,
        canary_events=served,
        baseline_errors=base,
        baseline_events=served_base,
        dispersion=clustered,
        expected=expected,
        ratio=ratio,
        steps=len(steps),
    )


def _mixed(log_ratios: FloatArray) -> float:
    """The evenly weighted mixture of the likelihood ratios given as logs (over `RATIOS`; one
    left out counts as no evidence for it); not a number only from counts past a float's
    range, which is no evidence either way."""
    log_evidence = float(logsumexp(log_ratios)) - _LOG_WEIGHT
    return math.exp(min(log_evidence, 700.0)) if math.isfinite(log_evidence) else math.nan


# How many steps' worth the whole window's dispersion counts for against the split's own.
PRIOR_STEPS = 1.0


def _split(
    canary_errors: FloatArray, both: FloatArray, share: FloatArray, ratio: float | None
) -> tuple[float, float]:
    """How lumpy the canary's part of each step's errors is: Pearson's statistic of the canary's
    errors about their binomial expectation at the canary's ratio to the baseline, and its
    degrees of freedom. Errors in clusters go to one version whole, so they split lumpier than
    single errors; traffic or error ratios that swell for both versions at once do not."""
    used = both > 0
    if ratio is None or not 0 < ratio < math.inf or used.sum() < 2:
        return 0.0, 0.0
    q = ratio * share / (ratio * share + 1 - share)
    used &= (q > 0) & (q < 1)
    expected = both[used] * q[used]
    pearson = ((canary_errors[used] - expected) ** 2 / (expected * (1 - q[used]))).sum()
    return float(pearson), float(used.sum() - 1)


def _blended(window: float, split: tuple[float, float]) -> float:
    """The dispersion the test is tempered by: the split's, once there are steps to measure it,
    starting from the whole window's (which also counts error ratios swelling for both)."""
    pearson, freedom = split
    return max(1.0, (pearson + PRIOR_STEPS * window) / (freedom + PRIOR_STEPS))


@dataclass(frozen=True)
class Exceeded:
    """Whether the canary's error ratio is above a limit, on the evidence (see `Counted`)."""

    higher: bool
    evidence: float
    needed: float
    dispersion: float


def above(
    canary: Sequence[Interval],
    baseline: Sequence[Interval],
    step_seconds: float,
    limit: float,
    confidence: float = 0.98,
) -> Exceeded:
    """Whether the canary fails more often than `limit` (an error ratio), at `1 - confidence`
    false failures however often asked; the baseline only measures how clustered errors are."""
    needed = 1 / (1 - confidence)
    served = [(i.errors, i.total) for i in canary if i.total > 0]
    ratios = limit * RATIOS
    ratios = ratios[ratios < 1]
    if not served or not ratios.size or limit <= 0:
        return Exceeded(False, 1.0, needed, 1.0)
    with np.errstate(all="ignore"):
        counts = np.array(served) * step_seconds
        total = float(counts[:, 1].sum())
        errors = min(float(counts[:, 0].sum()), total)
        clustered = dispersion(canary, baseline, step_seconds)
        log_ratios = (
            errors * np.log(ratios / limit) + (total - errors) * np.log((1 - ratios) / (1 - limit))
        ) / clustered
        evidence = _mixed(log_ratios)
    return Exceeded(evidence >= needed, evidence, needed, clustered)


def dispersion(canary: Sequence[Interval], baseline: Sequence[Interval], step: float) -> float:
    """How many times more the errors per step vary than independent errors would (at least
    1): errors that come in clusters (a client retrying, one pod's hiccup) are fewer
    independent events than their count, and the likelihood ratio is tempered by as much.
    Each version's variance about its own error ratio (so a worse canary does not count),
    over the steps less the one its ratio took."""
    spread = expected = 0.0
    for version in (canary, baseline):
        counts = np.array([(i.errors, i.total) for i in version if i.total > 0], dtype=float)
        if len(counts) < 2 or not counts[:, 0].any():
            continue
        errors, total = counts[:, 0] * step, counts[:, 1] * step
        mean = total * (errors.sum() / total.sum())
        spread += float(((errors - mean) ** 2).sum())
        expected += float(mean.sum()) * (1 - 1 / len(counts))
    return max(1.0, spread / expected) if expected > 0 else 1.0
