"""Canary against baseline: the Mann-Whitney U test as Kayenta's judge applies it.

Kayenta (NetflixACAJudge) classifies a metric High when the confidence interval of the
Hodges-Lehmann shift (canary - baseline), computed like R's `wilcox.test(conf.int = TRUE)`
with the normal approximation, continuity and tie corrections, lies above a tolerance band of
`tolerance * |estimate|`, and the canary/baseline mean ratio reaches `allowed_increase`. One
deliberate difference: a bound the samples are too few to reach is unbounded, not clamped.
The standard normal is the standard library's (`statistics.NormalDist`): a tenth of scipy's
per-call cost on the gate's hot path, and the same values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

_NORMAL = NormalDist()
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Comparison:
    """The test's figures and whether the canary is higher than the baseline."""

    higher: bool
    p_value: float
    estimate: float
    low: float
    high: float
    mean_ratio: float
    bound: float


def compare(
    canary: Sequence[float],
    baseline: Sequence[float],
    confidence: float = 0.98,
    tolerance: float = 0.25,
    allowed_increase: float = 1.0,
) -> Comparison:
    """Whether `canary` is higher than `baseline` beyond noise (both need values)."""
    x = np.asarray(canary, dtype=float)
    y = np.asarray(baseline, dtype=float)
    ratio = _mean_ratio(x, y)
    if min(x.min(), y.min()) == max(x.max(), y.max()):
        # One value everywhere (e.g. no errors on either side): nothing to tell apart.
        return Comparison(False, 1.0, 0.0, 0.0, 0.0, ratio, 0.0)
    statistic = _RankSum(x, y)
    # The test itself: the statistic at no shift, as scipy's `mannwhitneyu` computes it
    # (asymptotic, continuity and tie corrected; tests/gate/test_comparison.py checks).
    p_value = 2 * _NORMAL.cdf(-abs(statistic.at(0.0)))
    quantile = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    low = statistic.crossing(quantile)
    high = statistic.crossing(-quantile)
    estimate = statistic.crossing(0.0)
    bound = tolerance * abs(estimate)
    higher = low > bound and (math.isnan(ratio) or ratio >= allowed_increase)
    return Comparison(higher, p_value, estimate, low, high, ratio, bound)


def _mean_ratio(x: FloatArray, y: FloatArray) -> float:
    mean_x, mean_y = float(x.mean()), float(y.mean())
    return math.nan if mean_x == 0 or mean_y == 0 else mean_x / mean_y


class _RankSum:
    """R's `wdiff` for one pair of samples: the continuity-corrected rank-sum statistic of
    x - shift against y, standardized with the tie correction.

    The rank sum of x - shift less its minimum is the count of pairs with x_i - y_j > shift
    (ties counting half), read from the sorted pairwise differences. The statistic only jumps
    at those differences and is constant (decreasing across them) in between, so its value on
    every stretch between two jumps is computed once, and where it crosses a value is read
    from those exactly, where R runs `uniroot`."""

    def __init__(self, x: FloatArray, y: FloatArray) -> None:
        self.x, self.y = x, y
        self.differences = np.sort(np.subtract.outer(x, y).ravel())
        self.within = _ties(x) + _ties(y)
        jumps = self.differences[_starts(self.differences)]
        self.jumps = jumps
        self.middles = (jumps[:-1] + jumps[1:]) / 2
        above = self.differences.size - np.searchsorted(self.differences, self.middles, "right")
        self.between = self._standardized(above.astype(float), self.within)
        self.ends = (self.at(float(jumps[0])), self.at(float(jumps[-1])))
        # Left of every difference all pairs are above the shift, right of them none.
        self.beyond = self._standardized(np.array([self.differences.size, 0.0]), self.within)

    def at(self, shift: float) -> float:
        right = int(np.searchsorted(self.differences, shift, side="right"))
        left = int(np.searchsorted(self.differences, shift, side="left"))
        above = float(self.differences.size - right) + (right - left) / 2
        # Where x - shift meets y, the combined sample has ties of its own.
        ties = _ties(np.concatenate([self.x - shift, self.y])) if right > left else self.within
        return float(self._standardized(np.array([above]), ties)[0])

    def _standardized(self, above: FloatArray, ties: float) -> FloatArray:
        """The statistic from the count of pairs above the shift, with R's corrections."""
        nx, ny = self.x.size, self.y.size
        n = nx + ny
        variance = nx * ny / 12 * ((n + 1) - ties / (n * (n - 1)))
        if variance <= 0:
            return np.zeros_like(above)
        dz = above - nx * ny / 2
        return (dz - np.sign(dz) * 0.5) / math.sqrt(variance)

    def crossing(self, quantile: float) -> float:
        """The shift where the statistic crosses `quantile` (a confidence bound, or at 0 the
        Hodges-Lehmann estimate).

        R and Kayenta clamp a bound the samples cannot reach to the extreme shift, so two
        samples against two "prove" a regression; here such a bound is unbounded instead.
        Reachable means the statistic passes the quantile somewhere, beyond the differences
        included: when every difference is the same (each side one value throughout, as a
        canary failing exactly 1% of requests against a clean stable), the statistic jumps
        from its highest value to its lowest at that one difference, and the shift is that
        difference, certain."""
        first, last = self.ends
        if first - quantile <= 0:
            if quantile > 0 and self.beyond[0] < quantile:
                return -math.inf
            return float(self.jumps[0])
        if last - quantile >= 0:
            if quantile < 0 and self.beyond[1] > quantile:
                return math.inf
            return float(self.jumps[-1])
        # The first stretch at or below the quantile (the values decrease).
        k = int(np.searchsorted(-self.between, -quantile, side="left"))
        if k < self.middles.size and self.between[k] == quantile:
            return float(self.middles[k])
        return float(self.jumps[k])


def _ties(values: FloatArray) -> float:
    """The tie term sum(t^3 - t) over groups of equal values."""
    ordered = np.sort(values)
    starts = np.flatnonzero(_starts(ordered))
    if not starts.size:
        return 0.0
    counts = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = ordered.size - starts[-1]
    return float((counts**3 - counts).sum())


def _starts(ordered: FloatArray) -> npt.NDArray[np.bool_]:
    """Where each run of equal values of a sorted array begins: `np.unique` without sorting
    again (it was half of a comparison's cost, called seven times)."""
    starts = np.empty(ordered.size, dtype=bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    return starts
