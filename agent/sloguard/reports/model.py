"""What a report is made from (numbers read by the shell) and what it says (pydantic models, so
the JSON has a schema other tools can rely on; non-finite numbers are written as null)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sloguard.reports.period import Period
from sloguard.spec.model import Calendar

# (service, slo): every figure of one SLO is keyed by it.
Key = tuple[str, str]


@dataclass(frozen=True)
class Objective:
    """An SLO as the report needs it."""

    service: str
    slo: str
    objective: float  # a ratio: 0.999
    window: str
    window_seconds: int  # a calendar window's longest
    calendar: Calendar | None
    ticket_factor: float  # the burn a service is back under when it is restored
    description: str = ""
    team: str = ""

    @property
    def key(self) -> Key:
        return (self.service, self.slo)


@dataclass(frozen=True)
class Traffic:
    """One SLO's events per 5-minute slot (keyed by the slot's end): bad and all. A slot
    missing from `total` had no data (not no traffic: that is a 0)."""

    bad: Mapping[float, float]
    total: Mapping[float, float]


@dataclass(frozen=True)
class Decided:
    """A decision of the promotion gate, from its log."""

    at: float
    service: str
    canary: str
    baseline: str | None
    verdict: str
    reason: str


@dataclass(frozen=True)
class Acted:
    """An action on a workload, from the audit log."""

    at: float
    id: str
    service: str
    action: str
    mode: str
    result: str
    summary: str
    trigger: str


@dataclass(frozen=True)
class Asked:
    """A query the report made, for the appendix: a reviewer can run it again."""

    purpose: str
    query: str
    start: float
    end: float
    step: float | None = None  # None: an instant query at `end`


@dataclass(frozen=True, repr=False)
class Inputs:
    """Everything read for one report. Without a field-by-field repr: a month of 100 SLOs is
    millions of numbers, and asyncio's runner writes the main task's result into a repr (of
    its SIGINT handler) as it returns, which took 2.5 s."""

    period: Period
    until: float  # data is read up to here: the period's end, or now while it is not over
    generated: float
    objectives: Sequence[Objective]
    traffic: Mapping[Key, Traffic]
    window_budget: Mapping[Key, tuple[float | None, float | None]]  # at the start and end
    alerts: Mapping[tuple[str, str, str], Sequence[float]]  # (service, slo, severity) -> samples
    judged: Mapping[tuple[str, str], float]  # (service, verdict) -> gate decisions counted
    acted: Mapping[tuple[str, str, str, str], float]  # (service, action, mode, result) -> count
    decisions: Sequence[Decided] | None = None  # None: no gate log was given
    actions: Sequence[Acted] | None = None  # None: no audit log was given
    asked: Sequence[Asked] = ()
    problems: Sequence[str] = field(default_factory=tuple)

    def __repr__(self) -> str:
        return f"<Inputs {self.period.name}: {len(self.objectives)} SLOs>"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class Day(_Out):
    date: str = Field(description="The UTC day, YYYY-MM-DD.")
    total: float = Field(description="Events in the day.")
    bad: float = Field(description="Bad events in the day.")
    sli: float | None = Field(description="Good events / events; null without events.")
    budget_left: float | None = Field(
        description="Share of the period's error budget left at the day's end."
    )


class Budget(_Out):
    allowed: float = Field(description="Bad events the objective allows over the period.")
    consumed: float | None = Field(description="Bad events / allowed (over 1: overspent).")
    left: float | None = Field(description="1 - consumed.")
    window_start: float | None = Field(
        description="The SLO window's budget left at the period's start: bad over all events "
        "of the window then (a calendar window: since it began)."
    )
    window_end: float | None = Field(description="... and at the period's end.")


class Incident(_Out):
    service: str
    slo: str
    severity: Literal["page", "ticket"]
    start: datetime = Field(description="The first evaluation that fired.")
    end: datetime = Field(description="The first evaluation that no longer fired.")
    seconds: float
    ongoing: bool = Field(description="Still firing when the data ends.")
    bad: float = Field(description="Bad events in the 5-minute slots the incident overlaps.")
    budget_spent: float | None = Field(description="`bad` / the period's allowed bad events.")
    onset: datetime | None = Field(
        description="Start of the unbroken run of 5-minute slots burning faster than 1x that "
        "leads to the alert; null when the slot it fired in was not burning."
    )
    detect_seconds: float | None = Field(description="From `onset` to `start`.")


class Nearby(_Out):
    hours: float
    bad: float
    budget_spent: float | None = Field(description="Share of the period's budget.")
    per_hour: float | None = Field(description="`budget_spent` per hour.")


class SLOFigures(_Out):
    service: str
    slo: str
    description: str
    objective: float = Field(description="As a ratio: 0.999.")
    window: str
    status: Literal["met", "missed", "no_data"]
    sli: float | None = Field(description="Good events / events over the period.")
    total: float
    bad: float
    coverage: float = Field(description="Share of the period's 5-minute slots with data.")
    budget: Budget
    worst_day: Day | None
    days: list[Day]
    incidents: list[Incident]
    after_changes: Nearby = Field(description="Within an hour after a rollout began.")
    elsewhere: Nearby = Field(description="The rest of the period.")


class Rollout(_Out):
    service: str
    canary: str
    baseline: str | None
    first: datetime = Field(description="The gate's first decision on it in the period.")
    last: datetime
    decisions: int
    verdict: str = Field(description="The last verdict given.")
    rolled_back: bool = Field(description="A rollback was enforced before the next rollout.")


class Action(_Out):
    at: datetime
    id: str
    service: str
    action: str
    mode: str
    result: str
    summary: str
    trigger: str
    restored_seconds: float | None = Field(
        description="Rollbacks done: from the action to the end of the first 5-minute slot "
        "after it in which every SLO of the service burns no faster than its ticket tier."
    )


class Counted(_Out):
    labels: dict[str, str]
    count: float


class Delivery(_Out):
    judged: list[Counted] = Field(description="Gate decisions by verdict (Prometheus).")
    acted: list[Counted] = Field(description="Actions by action, mode and result (Prometheus).")
    rollouts: list[Rollout] | None = Field(description="From the gate's log; null without it.")
    actions: list[Action] | None = Field(description="From the audit log; null without it.")
    change_failure_rate: float | None = Field(
        description="Rollouts failed by the gate or rolled back / rollouts."
    )
    restore_seconds: list[float] = Field(description="Time to restore of each rollback done.")


class Compliance(_Out):
    held: list[str]
    missed: list[str]
    no_data: list[str]
    done: list[str] = Field(description="What was done about the missed objectives.")


class ServiceReport(_Out):
    service: str
    team: str
    slos: list[SLOFigures]
    delivery: Delivery
    compliance: Compliance


class Span(_Out):
    name: str
    start: datetime
    end: datetime
    complete: bool = Field(description="False while the period is not over.")


class Query(_Out):
    purpose: str
    query: str
    start: datetime
    end: datetime
    step_seconds: float | None


class Report(_Out):
    title: str
    period: Span
    generated: datetime
    services: list[ServiceReport]
    compliance: Compliance
    queries: list[Query]
    problems: list[str] = Field(description="What could not be read; figures missing for it.")
