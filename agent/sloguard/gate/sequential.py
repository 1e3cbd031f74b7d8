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
errors as the evidence allows: a 20x canary after a handful of them, in two steps, as no step
alone decides (`_at_most_the_rest`).

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
    # Not `higher`, but would be if the latest step, saying most against the canary, counted
    # whole: not yet a fail, nor a pass (it may be the first minute of an outage).
    latest_step_higher: bool = False

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
    `1 - confidence` false failures however often asked; steps the canary did not serve are
    left out. The baseline's steps before the canary's only tell how clustered errors are."""
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
        prior = history_dispersion(baseline, step_seconds)
        return _tested(steps, step_seconds, needed, allowed_increase, prior)


def history_dispersion(baseline: Sequence[Interval], step_seconds: float) -> float:
    """How clustered the baseline's errors were over the window (see `tempering`): where a
    test's dispersion starts from."""
    with np.errstate(all="ignore"):
        served = np.array([(i.errors, i.total) for i in baseline if i.total > 0]).reshape(-1, 2)
        counts = served * step_seconds
        return tempering(_own(counts[:, 0], counts[:, 1]))


def _tested(
    steps: list[tuple[Interval, Interval]],
    step_seconds: float,
    needed: float,
    allowed_increase: float,
    prior: float,
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
    base_ratio = base / served_base
    ratio = (bad / served) / base_ratio if base_ratio > 0 else None
    clamped = np.column_stack([canary_errors, counts[:, 1], baseline_errors, counts[:, 3]])
    clustered = tempering(_split(clamped), prior)
    # Each step's log-likelihood ratio, floored: one minute in which both versions failed
    # alike (an incident downstream) cannot wipe out the evidence of every other minute. And
    # no minute counts for more than all the others: one cluster decides nothing.
    per_step = (np.outer(canary_errors, _LOG_RATIOS) + both[:, None] * spread) / clustered
    uncapped = _mixed(np.maximum(per_step, -FLOOR).sum(axis=0))
    strongest = _at_most_the_rest(per_step)
    log_ratios = np.maximum(per_step, -FLOOR).sum(axis=0)
    # The floor lifts each step's expected likelihood ratio by at most exp(-FLOOR), so the
    # bound rises by as much a step and false failures stay at 1 - confidence.
    needed *= (1 + math.exp(-FLOOR)) ** len(steps)
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
        latest_step_higher=strongest == len(steps) - 1 and evidence < needed <= uncapped,
    )


def _mixed(log_ratios: FloatArray) -> float:
    """The evenly weighted mixture of the likelihood ratios given as logs (over `RATIOS`; one
    left out counts as no evidence for it); not a number only from counts past a float's
    range, which is no evidence either way."""
    # log(sum(exp(x))) without overflow: numpy's, not scipy's, whose import weighed 26 MB
    # in every agent for this one function. A NaN in is a NaN out, warned of by neither.
    with np.errstate(invalid="ignore"):
        log_evidence = float(np.logaddexp.reduce(log_ratios)) - _LOG_WEIGHT
    return math.exp(min(log_evidence, 700.0)) if math.isfinite(log_evidence) else math.nan


# Until the steps measure it, errors are taken to be as clustered as the baseline's over the
# window, and without those this clustered; either weighs as many steps.
PRIOR_DISPERSION, PRIOR_STEPS = 2.0, 5.0
# The most a test is tempered by: an incident's minute is not clustering, and must not hide
# a canary's steady excess for the rest of the window.
MOST_DISPERSION = 10.0
# The lowest a step's log-likelihood ratio counts for (see `_tested`).
FLOOR = 6.0


def tempering(terms: FloatArray, prior: float = PRIOR_DISPERSION) -> float:
    """The dispersion a test is divided by, from each step's squared deviation and its
    variance were errors independent (columns): how much more the counts vary than that over
    the steps' errors, starting from `prior` (weighing `PRIOR_STEPS` steps) and at most
    `MOST_DISPERSION`."""
    steps = terms.shape[0]
    variance = float(terms[:, 1].sum())
    measured = float(terms[:, 0].sum()) / variance * steps / (steps - 1) if steps > 1 else 0.0
    weight = (steps - 1) / (steps - 1 + PRIOR_STEPS) if variance > 0 and steps > 1 else 0.0
    found = weight * measured + (1 - weight) * prior
    return min(max(found, 1.0), MOST_DISPERSION)


def _at_most_the_rest(per_step: FloatArray) -> int:
    """One step alone never decides: the step that says most against the canary (returned)
    counts, for each regression mixed over, for at most what all the others say against it
    together, each floored as `sequential` counts them (in place). A pod's first minute or one
    retry storm decides nothing; a steady excess, spread over the steps, loses little.
    Lowering a step's likelihood ratio keeps the bound."""
    strongest = int(np.argmax(np.logaddexp.reduce(per_step, axis=1)))
    others = np.maximum(np.delete(per_step, strongest, axis=0), -FLOOR).sum(axis=0)
    per_step[strongest] = np.minimum(per_step[strongest], np.maximum(others, 0.0))
    return strongest


def _split(counts: FloatArray) -> FloatArray:
    """How lumpy the canary's part of each step's errors is: each step's squared deviation of
    the canary's errors from their binomial expectation at the canary's ratio to the baseline,
    and the binomial variance (columns). Errors in clusters go to one version whole, so they
    split lumpier than single errors; traffic or error ratios that swell for both versions at
    once do not. The step deviating most is left out, and the ratio fitted without it: one
    incident's minute neither counts as clustering nor drags the ratio the rest is judged at."""
    canary_errors, canary_total, baseline_errors, baseline_total = counts.T
    both = canary_errors + baseline_errors
    share = canary_total / (canary_total + baseline_total)
    kept = both > 0
    for rounds_left in (1, 0):
        bad, base = canary_errors[kept].sum(), baseline_errors[kept].sum()
        if not bad > 0 < base:
            return np.zeros((0, 2))
        ratio = (bad / canary_total[kept].sum()) / (base / baseline_total[kept].sum())
        q = ratio * share / (ratio * share + 1 - share)
        kept &= (q > 0) & (q < 1)
        deviation = np.where(kept, (canary_errors - both * q) ** 2, -1.0)
        if rounds_left and kept.sum() >= 2:
            kept[int(np.argmax(deviation))] = False
    return np.column_stack([deviation[kept], (both * q * (1 - q))[kept]])


@dataclass(frozen=True)
class Exceeded:
    """Whether the canary's error ratio is above a limit, on the evidence (see `Counted`)."""

    higher: bool
    evidence: float
    needed: float
    dispersion: float


def above(
    canary: Sequence[Interval],
    step_seconds: float,
    limit: float,
    confidence: float = 0.98,
    prior: float = PRIOR_DISPERSION,
) -> Exceeded:
    """Whether the canary fails more often than `limit` (an error ratio), at `1 - confidence`
    false failures however often asked; its dispersion starts from `prior`, and no step counts
    for more than all the others (as in `sequential`)."""
    needed = 1 / (1 - confidence)
    served = [(i.errors, i.total) for i in canary if i.total > 0]
    ratios = limit * RATIOS
    ratios = ratios[ratios < 1]
    if not served or not ratios.size or limit <= 0:
        return Exceeded(False, 1.0, needed, 1.0)
    with np.errstate(all="ignore"):
        counts = np.array(served) * step_seconds
        errors = np.minimum(counts[:, 0], counts[:, 1])
        clustered = tempering(_own(counts[:, 0], counts[:, 1]), prior)
        per_step = (
            np.outer(errors, np.log(ratios / limit))
            + np.outer(counts[:, 1] - errors, np.log((1 - ratios) / (1 - limit)))
        ) / clustered
        _at_most_the_rest(per_step)
        evidence = _mixed(per_step.sum(axis=0))
    return Exceeded(evidence >= needed, evidence, needed, clustered)


def _own(errors: FloatArray, total: FloatArray, incidents: int = 1) -> FloatArray:
    """Each step's squared deviation of a version's errors from its own error ratio, and its
    variance were errors independent. A step deviating more than all the others together is an
    incident, not clustering: left out (at most `incidents` of them) and the ratio fitted
    without it. Leaving out the largest step of steady clustering would understate it: by a
    sixth to a quarter over an hour of clusters of 4."""
    if not errors.any():
        return np.zeros((0, 2))
    expected = total * (errors.sum() / total.sum())
    used = expected > 0
    errors, total, expected = errors[used], total[used], expected[used]
    deviation = (errors - expected) ** 2
    if incidents and len(deviation) >= 4 and deviation.max() > deviation.sum() / 2:
        kept = np.arange(len(deviation)) != np.argmax(deviation)
        return _own(errors[kept], total[kept], incidents - 1)
    return np.column_stack([deviation, expected])
