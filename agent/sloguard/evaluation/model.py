"""The records evaluation works with: what was read per window, and what it means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """Where an SLO stands; anything but `ok` deserves a look, `no_data` is never health."""

    OK = "ok"
    WARNING = "warning"  # a ticket tier holds
    CRITICAL = "critical"  # a page tier holds
    EXHAUSTED = "exhausted"  # the window's error budget is spent
    NO_DATA = "no_data"  # nothing trustworthy to judge from; `reason` says why


class Origin(StrEnum):
    """Where the numbers came from."""

    RULES = "rules"  # the recorded series of the generated rules
    RAW = "raw"  # the SLI's own queries (rules not loaded, or a new SLO)
    TRACES = "traces"  # a trace backend (Tempo, Jaeger), for trace SLIs


@dataclass(frozen=True)
class Reading:
    """One window of one SLO (or one label group of it): error ratio and events counted.

    `None` means Prometheus had no samples for it, which is not the same as zero traffic.
    """

    ratio: float | None
    events: float | None


@dataclass(frozen=True)
class Evaluation:
    """One SLO at one moment. `group` names the label values of a per-label SLO's worst group;
    `others` are its other groups, each judged alone, worst first."""

    service: str
    slo: str
    objective: float
    window: str
    at: float
    status: Status
    reason: str
    origin: Origin
    sli: float | None = None
    error_budget_remaining: float | None = None
    burn_rates: Mapping[str, float | None] = field(default_factory=dict)
    events: Mapping[str, float | None] = field(default_factory=dict)
    page: bool | None = None
    ticket: bool | None = None
    exhausted_in_seconds: float | None = None
    group: Mapping[str, str] = field(default_factory=dict)
    others: tuple[Evaluation, ...] = ()
    prometheus: str = ""  # the URL the figures were read from (of several, the one answering)
