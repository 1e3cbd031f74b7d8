"""A decision as JSON: what the web provider's `jsonPath` reads and what people read, and the
record the console keeps of it.

Pydantic models, so the server publishes the exact shape in its OpenAPI schema; non-finite
numbers (an unbounded confidence bound) are written as null, JSON having no infinity."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from sloguard.gate.model import Decision, Interval, Observation, Verdict

# Intervals kept per version and SLO in a record: the latest, enough to draw an analysis.
MAX_SAMPLES = 240


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class CheckReport(_Report):
    """One check of one SLO."""

    name: str = Field(
        description="`data`, `budget_policy`, `burn_rate`, `evidence` or `comparison`."
    )
    verdict: Verdict
    reason: str
    values: dict[str, float | int | str | None] = Field(
        description="The figures the check compared: values, thresholds, test statistics."
    )


class SLOReport(_Report):
    """The verdict on one SLO: the worst of its checks."""

    slo: str
    verdict: Verdict
    reason: str
    checks: list[CheckReport]


class Window(_Report):
    start: datetime
    end: datetime


class DecisionReport(_Report):
    """The gate's answer: `verdict` is what Argo's `jsonPath: "{$.verdict}"` reads."""

    verdict: Verdict
    reason: str
    service: str
    window: Window
    evaluatedAt: datetime  # Argo's and Kayenta's spelling
    slos: list[SLOReport]


def report(decision: Decision, evaluated_at: float) -> DecisionReport:
    """The response body of `/v1/analysis` (and `sloguard gate --output json`)."""
    return DecisionReport(
        verdict=decision.verdict,
        reason=decision.reason,
        service=decision.service,
        window=Window(start=_time(decision.start), end=_time(decision.end)),
        evaluatedAt=_time(evaluated_at),
        slos=[
            SLOReport(
                slo=v.slo,
                verdict=v.verdict,
                reason=v.reason,
                checks=[
                    CheckReport(
                        name=c.name, verdict=c.verdict, reason=c.reason, values=dict(c.values)
                    )
                    for c in v.checks
                ],
            )
            for v in decision.slos
        ],
    )


def _time(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


class Samples(_Report):
    """One SLO's error ratio per interval, for the canary and for the baseline (intervals with
    traffic only: those the comparison ranks)."""

    step_seconds: float
    canary: list[tuple[float, float]] = Field(description="(Unix time, error ratio) pairs.")
    baseline: list[tuple[float, float]] = Field(description="(Unix time, error ratio) pairs.")


class GateRecord(_Report):
    """One decision the gate made (a repeated poll answered from the cache is not another):
    the answer callers got, whom it was about, and what the comparison compared."""

    canary: str = Field(description="The canary's selector as resolved, PromQL matchers.")
    baseline: str | None = Field(description="The baseline's selector; null when none given.")
    decision: DecisionReport
    samples: dict[str, Samples] = Field(description="Per SLO, the intervals read.")
    repeated: int = Field(
        1, description="Times this verdict was given on this canary and baseline (the newest kept)."
    )


def gate_record(
    decision: DecisionReport,
    canary: str,
    baseline: str | None,
    slos: Sequence[str],
    seen: Sequence[Observation],
) -> GateRecord:
    """The record of `decision`, made from `seen`, one observation per SLO of `slos`."""
    return GateRecord(
        canary=canary,
        baseline=baseline,
        decision=decision,
        samples={
            slo: Samples(
                step_seconds=o.step_seconds,
                canary=_ratios(o.canary),
                baseline=_ratios(o.baseline or ()),
            )
            for slo, o in zip(slos, seen, strict=True)
        },
    )


def _ratios(intervals: Sequence[Interval]) -> list[tuple[float, float]]:
    ratios = ((i.at, i.ratio) for i in intervals if i.total > 0)
    return [(at, r) for at, r in ratios if math.isfinite(r)][-MAX_SAMPLES:]


def lines(decision: DecisionReport) -> list[str]:
    """A decision for people: the verdict and reason, then each SLO's checks."""
    out = [f"{decision.verdict.value.upper()}: {decision.service}: {decision.reason}"]
    for slo in decision.slos:
        out.append(f"  {slo.slo}: {slo.verdict.value}")
        out.extend(f"    {c.name:<14} {c.verdict.value:<13} {c.reason}" for c in slo.checks)
    return out
