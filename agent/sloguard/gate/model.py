"""What the gate decides: a verdict per check, per SLO, and for the whole request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class Verdict(StrEnum):
    """The gate's answer; Argo's web provider maps these to Successful/Failed/Inconclusive."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


# A request is as bad as its worst SLO, an SLO as its worst check: fail outranks not knowing.
_RANK = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    """The worst of `verdicts` (pass when there are none)."""
    return min(verdicts, key=_RANK.__getitem__, default=Verdict.PASS)


class Interval(NamedTuple):
    """One step of a version's traffic: events and bad events per second over the step (a
    tuple: a fresh decision makes some five hundred)."""

    at: float
    errors: float
    total: float

    @property
    def ratio(self) -> float:
        return self.errors / self.total if self.total > 0 else 0.0


@dataclass(frozen=True)
class Observation:
    """What was read for one SLO: the canary's and the baseline's intervals (empty when none
    were seen), the service's error budget left, and why something could not be read."""

    canary: Sequence[Interval]
    baseline: Sequence[Interval] | None
    step_seconds: float
    budget_remaining: float | None
    missing: str = ""
    budget_unknown: str = ""  # why the budget could not be read, when it could not


@dataclass(frozen=True, slots=True)
class Check:
    """One check of one SLO: its verdict, why, and the figures it compared."""

    name: str
    verdict: Verdict
    reason: str
    values: Mapping[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SLOVerdict:
    """The verdict on one SLO, the worst of its checks."""

    slo: str
    verdict: Verdict
    reason: str
    checks: Sequence[Check]


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer to one request."""

    service: str
    verdict: Verdict
    reason: str
    slos: Sequence[SLOVerdict]
    start: float
    end: float
