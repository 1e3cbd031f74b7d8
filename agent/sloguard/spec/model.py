"""The native SLO definition model: what people write in `slo-definitions/`, and its JSON Schema.

Sloth, OpenSLO and Pyrra readers translate into this model, so every later step (validation, rules,
dashboards, evaluation) sees one shape. Field-level checks live here; checks that need the whole
definition (PromQL syntax, tiers that can never fire, duplicates) live in `validation`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sloguard.spec.actions import Actions, LabelKey, LabelValue, Namespace
from sloguard.spec.base import (
    LABEL_NAME_PATTERN,
    WINDOW_PLACEHOLDER,
    Annotations,
    Duration,
    Labels,
    Name,
    Query,
    ReceiverName,
    Strict,
    Timing,
)
from sloguard.spec.counters import per_second
from sloguard.spec.durations import parse_seconds
from sloguard.spec.quiet import QuietPeriod
from sloguard.spec.traces import Traces


class Calendar(StrEnum):
    """Calendar-aligned SLO windows (UTC)."""

    WEEK = "week"
    MONTH = "month"


# Nominal length of a calendar window, for scaling alert windows.
CALENDAR_SECONDS = {Calendar.WEEK: 7 * 86400, Calendar.MONTH: 30 * 86400}


class Events(Strict):
    """Bad (or good) events over all events: each a PromQL rate over `{{window}}`."""

    errors: Query | None = Field(None, description="Rate of bad events over `{{window}}`.")
    good: Query | None = Field(None, description="Rate of good events over `{{window}}`.")
    total: Query = Field(description="Rate of all events over `{{window}}`.")

    @model_validator(mode="after")
    def _one_of_errors_or_good(self) -> Self:
        if (self.errors is None) == (self.good is None):
            raise ValueError("set exactly one of `errors` or `good` beside `total`")
        return self


class Raw(Strict):
    """A precomputed error ratio (0-1); budgets become time averages, so prefer `events`."""

    error_ratio: Query = Field(description="PromQL error ratio in [0, 1] over `{{window}}`.")


class Latency(Strict):
    """Requests slower than a threshold are bad, read from a classic Prometheus histogram."""

    metric: str = Field(
        pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
        description="Histogram base name, without `_bucket`/`_count`.",
    )
    selector: dict[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)], str] = Field(
        default_factory=dict, description="Equality matchers selecting the service's series."
    )
    threshold: Duration = Field(
        description="Duration such as `300ms`; must be an existing `le` bucket boundary."
    )

    @field_validator("metric")
    @classmethod
    def _base_name(cls, value: str) -> str:
        for suffix in ("_bucket", "_count", "_sum"):
            if value.endswith(suffix):
                raise ValueError(f"give the base name without {suffix!r}")
        return value

    @property
    def threshold_seconds(self) -> float:
        return parse_seconds(self.threshold)


class SLI(Strict):
    """How good and bad events are counted; exactly one kind."""

    events: Events | None = None
    raw: Raw | None = None
    latency: Latency | None = None
    traces: Traces | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        kinds = [k for k in ("events", "raw", "latency", "traces") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("set exactly one of `events`, `raw`, `latency` or `traces`")
        return self

    @property
    def counts_events(self) -> bool:
        """Whether the SLI's total is a per-second rate, so that times a window's seconds it
        counts the window's events (the `min_events` guards, the gate's evidence). Latency and
        trace SLIs are; a raw ratio is not, nor are events written as counts over the window
        (`count_over_time`, `increase`) or from gauges: those count samples instead."""
        if self.raw is not None:
            return False
        if self.events is not None:
            return per_second(WINDOW_PLACEHOLDER.sub("5m", self.events.total))
        return True


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


class Route(Strict):
    """Where one severity goes: extra labels (e.g. `severity`, `team`) and annotations."""

    disable: bool = False
    labels: Labels = {}
    annotations: Annotations = Field(default_factory=dict)


class Receiver(Strict):
    """Who gets one severity's notifications, and how often (Alertmanager's route settings;
    unset ones take the severity's defaults)."""

    receiver: ReceiverName = Field(description="An Alertmanager receiver's name.")
    group_wait: Timing | None = Field(
        None, description="Wait before the first notification (page 30s, ticket 5m)."
    )
    group_interval: Timing | None = Field(
        None, description="Wait before telling of alerts added to a group (page 5m, ticket 30m)."
    )
    repeat_interval: Timing | None = Field(
        None,
        description="Remind while it fires (page 1h, ticket 24h); Alertmanager forgets what it "
        "sent after its --data.retention (120h by default).",
    )


def _receiver(value: Any) -> Any:
    """A receiver's bare name is short for `{receiver: NAME}`."""
    return {"receiver": value} if isinstance(value, str) else value


Receiving = Annotated[
    Receiver | None,
    BeforeValidator(_receiver, json_schema_input_type=ReceiverName | Receiver | None),
]


class OnCall(Strict):
    """Who is paged and who gets tickets: a receiver's name, or a receiver with its timing;
    `null` on an SLO takes it out of the service's."""

    page: Receiving = None
    ticket: Receiving = None
    maintenance: tuple[QuietPeriod, ...] | None = Field(
        None,
        description="Recurring quiet periods when tickets wait (e.g. `[{weekdays: [saturday], "
        "times: [\"02:00-04:00\"], location: Europe/Berlin}]`); an SLO's replace the service's.",
    )

    def receiver(self, severity: Severity) -> Receiver | None:
        return self.page if severity is Severity.PAGE else self.ticket

    def over(self, fallback: OnCall | None) -> OnCall:
        """This, with the severities it does not name taken from `fallback` (the service's)."""
        if fallback is None:
            return self
        given = self.model_fields_set
        return OnCall(
            page=self.page if "page" in given else fallback.page,
            ticket=self.ticket if "ticket" in given else fallback.ticket,
            maintenance=self.maintenance if "maintenance" in given else fallback.maintenance,
        )


class Tier(Strict):
    """One multi-window burn-rate condition: both windows must burn faster than `factor`."""

    severity: Severity
    long: Duration = Field(description="Long window, e.g. `1h`.")
    short: Duration = Field(description="Short window, e.g. `5m`; at least 5m.")
    factor: float = Field(gt=0, description="Burn-rate threshold (1 = budget gone at window end).")


class Alerting(Strict):
    """Burn-rate alerting; the defaults are the SRE workbook's, scaled to the SLO window."""

    name: str = Field(
        "SLOErrorBudgetBurn",
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="Alert name shared by both severities, so Alertmanager can inhibit tickets.",
    )
    runbook: str | None = Field(None, description="URL of the runbook (`runbook_url`).")
    dashboard: str | None = Field(None, description="URL of the dashboard (`dashboard_url`).")
    min_events: int = Field(
        0,
        ge=0,
        description="Do not alert while the short window holds fewer events than this "
        "(keeps a low-traffic service from paging on one failed request).",
    )
    labels: Labels = {}
    annotations: Annotations = Field(default_factory=dict)
    page: Route = Field(default_factory=Route)
    ticket: Route = Field(default_factory=Route)
    windows: list[Tier] | None = Field(
        None,
        description="Replace the default tiers (14.4x 1h/5m, 6x 6h/30m page; 3x 1d/2h, "
        "1x 3d/6h ticket at 30d).",
    )


class ComparisonTest(StrEnum):
    """How the gate compares the canary with its baseline."""

    AUTO = "auto"  # sequential where the SLI counts events, else mann-whitney
    SEQUENTIAL = "sequential"
    MANN_WHITNEY = "mann-whitney"


class OnMissing(StrEnum):
    """What the gate answers when it cannot read the canary (no data, Prometheus down)."""

    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"


# What tells versions apart in Argo Rollouts, Kubernetes, Flagger's pod selectors, Prometheus
# targets, the trace counters, and the usual app labels.
VERSION_LABELS = (
    "rollouts_pod_template_hash",
    "pod_template_hash",
    "pod",
    "pod_name",
    "instance",
    "namespace",
    "version",
    "app",
    "track",
)


DEFAULT_SCRAPE_SECONDS = 15.0


class Gate(Strict):
    """How the promotion gate judges a canary against this SLO (`/v1/analysis`, `sloguard gate`).

    Defaults follow Kayenta's Mann-Whitney judge (confidence 0.98, tolerance 0.25, allowed
    increase 1.0) and the SRE workbook (the fastest page tier's burn rate)."""

    enabled: bool = Field(True, description="Judge canaries on this SLO at all.")
    max_burn_rate: float | None = Field(
        None,
        gt=0,
        description="Highest burn rate the canary may show over the analysis window; default "
        "the SLO's highest page factor (14.4 with the workbook's tiers).",
    )
    min_events: int | None = Field(
        None,
        ge=0,
        description="Events the canary must have served before it can pass; default "
        "3 / (1 - objective), enough to claim the objective at 95% with no error seen. "
        "Ignored for SLIs without an event count (raw ratios, events that are not "
        "per-second rates), which count samples.",
    )
    min_samples: int = Field(
        5, ge=3, description="Intervals (of `interval`) of canary data needed to decide."
    )
    interval: Duration = Field(
        "1m",
        description="Sample interval of the canary/baseline comparison (a `query_range` step).",
    )
    window: Duration = Field(
        "1h",
        description="Longest analysis window: the canary is judged since it started, at most "
        "this far back.",
    )
    scrape_interval: Duration | None = Field(
        None,
        description="How often Prometheus scrapes the SLI's series (default 15s, or a quarter "
        "of `interval` when that is shorter). The gate reads each interval's rate over the "
        "interval plus this, so that the increase between the last sample of one interval and "
        "the first of the next is counted once, not lost.",
    )
    compare: bool = Field(True, description="Compare canary against baseline when one is given.")
    test: ComparisonTest = Field(
        ComparisonTest.AUTO,
        description="The comparison: `sequential` counts both versions' errors and fails as "
        "soon as they show the canary worse, at most `1 - confidence` false failures however "
        "often the gate is asked (SLIs that count events); `mann-whitney` compares the "
        "per-interval error ratios as Kayenta's judge; `auto` is sequential where the SLI "
        "counts events, else mann-whitney.",
    )
    confidence: float = Field(
        0.98,
        gt=0.5,
        lt=1,
        description="Confidence of the comparison: `1 - confidence` is its false-failure rate.",
    )
    tolerance: float = Field(
        0.25,
        ge=0,
        description="Share of the estimated shift the interval must clear (mann-whitney, as "
        "Kayenta).",
    )
    allowed_increase: float = Field(
        1.0,
        gt=0,
        description="Canary/baseline error-ratio ratio tolerated before the canary counts as "
        "worse.",
    )
    freeze_when_exhausted: bool = Field(
        True, description="Error-budget policy: nothing promotes while the budget is spent."
    )
    on_missing: OnMissing = Field(
        OnMissing.INCONCLUSIVE,
        description="Answer when the canary cannot be read: `inconclusive` pauses, `fail` aborts.",
    )
    version_labels: list[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)]] = Field(
        default_factory=lambda: list(VERSION_LABELS),
        min_length=1,
        description="Labels a gate request may choose canary and baseline by: labels that name "
        "a workload's version, never one that tracks failure (`code`, `reason`), which would "
        "select a failing canary's bad events away.",
    )

    @model_validator(mode="after")
    def _window_holds_samples(self) -> Self:
        if parse_seconds(self.window) < self.min_samples * parse_seconds(self.interval):
            raise ValueError("`window` must hold at least `min_samples` intervals")
        if self.scrape_interval is not None and parse_seconds(
            self.scrape_interval
        ) >= parse_seconds(self.interval):
            raise ValueError("`scrape_interval` must be shorter than `interval`")
        return self

    @property
    def scrape_seconds(self) -> float:
        """`scrape_interval` in seconds, or its default."""
        if self.scrape_interval is not None:
            return parse_seconds(self.scrape_interval)
        return min(DEFAULT_SCRAPE_SECONDS, parse_seconds(self.interval) / 4)


class SLO(Strict):
    """One objective of a service."""

    name: Name
    objective: float = Field(gt=0, lt=100, description="Target in percent, e.g. 99.9.")
    window: str = Field(
        "30d", description="Rolling duration (`30d`, `4w`) or calendar `month` / `week`."
    )
    description: str = ""
    labels: Labels = {}
    sli: SLI
    alerting: Alerting = Field(default_factory=Alerting)
    oncall: OnCall | None = Field(
        None, description="Who is paged and who gets tickets for this SLO (over the service's)."
    )
    gate: Gate = Field(default_factory=Gate)

    @field_validator("gate")
    @classmethod
    def _sequential_counts_events(cls, gate: Gate, info: ValidationInfo) -> Gate:
        sli = info.data.get("sli")  # absent when it failed validation itself
        if gate.test is ComparisonTest.SEQUENTIAL and sli is not None and not sli.counts_events:
            raise ValueError(
                "`test: sequential` counts events, and this SLI has no per-second event "
                "rates: use `mann-whitney` or `auto`"
            )
        return gate

    @property
    def comparison_test(self) -> ComparisonTest:
        """The gate's comparison for this SLO, `auto` resolved."""
        if self.gate.test is ComparisonTest.AUTO:
            counting = self.sli.counts_events
            return ComparisonTest.SEQUENTIAL if counting else ComparisonTest.MANN_WHITNEY
        return self.gate.test

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if value in Calendar.__members__.values():
            return value
        if parse_seconds(value) < 86400:
            raise ValueError("an SLO window must be at least 1d")
        return value

    @property
    def calendar(self) -> Calendar | None:
        return Calendar(self.window) if self.window in Calendar.__members__.values() else None

    @property
    def window_seconds(self) -> int:
        """Length of the window; a calendar window counts its nominal length."""
        calendar = self.calendar
        return CALENDAR_SECONDS[calendar] if calendar else int(parse_seconds(self.window))

    @property
    def objective_ratio(self) -> Decimal:
        return percent_ratio(self.objective)

    @property
    def error_budget(self) -> Decimal:
        return 1 - self.objective_ratio


class PrometheusRuleObject(Strict):
    """Where `generate --format operator` puts the service's PrometheusRule: prometheus-operator
    loads only rules whose labels its `ruleSelector` matches, in namespaces it watches."""

    namespace: Namespace | None = Field(None, description="`metadata.namespace` of the object.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="`metadata.labels` of the object, e.g. `release: prometheus`.",
    )


class ServiceSLOs(Strict):
    """One file's worth: a service and its SLOs."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"$id": "https://sloguard.dev/schema/slo-definitions.json"},
    )

    service: Name
    labels: Labels = {}
    slos: list[SLO] = Field(min_length=1)
    oncall: OnCall | None = Field(
        None, description="Who is paged and who gets tickets for the service's SLOs."
    )
    actions: Actions | None = Field(
        None, description="Rollback and scaling of the service's workload (`sloguard run`)."
    )
    prometheus_rule: PrometheusRuleObject | None = Field(
        None, description="Namespace and labels of the PrometheusRule `--format operator` writes."
    )

    def labels_of(self, slo: SLO) -> dict[str, str]:
        """The labels the definition gives `slo`'s series: the service's, then the SLO's own."""
        return {**self.labels, **slo.labels}


def merge_services(specs: Iterable[ServiceSLOs]) -> list[ServiceSLOs]:
    """One spec per service name: SLOs of a service may come from several files or formats."""
    merged: dict[str, list[ServiceSLOs]] = {}
    for spec in specs:
        merged.setdefault(spec.service, []).append(spec)
    result = []
    for service, parts in sorted(merged.items()):
        if len(parts) == 1:
            result.append(parts[0])
            continue
        # A service's on-call, written in one of its files, covers its SLOs from the others
        # (a Sloth file has no `oncall`); where files name different ones, each keeps its own.
        named = {part.oncall for part in parts if part.oncall is not None}
        shared = next(iter(named)) if len(named) == 1 else None
        slos = [
            slo.model_copy(
                update={
                    "labels": {**part.labels, **slo.labels},
                    "oncall": _slo_oncall(slo.oncall, part.oncall or shared),
                }
            )
            for part in parts
            for slo in part.slos
        ]
        actions = next((part.actions for part in parts if part.actions is not None), None)
        rule = next((p.prometheus_rule for p in parts if p.prometheus_rule is not None), None)
        result.append(
            ServiceSLOs(
                service=service, labels={}, slos=slos, actions=actions, prometheus_rule=rule
            )
        )
    return result


def _slo_oncall(own: OnCall | None, service: OnCall | None) -> OnCall | None:
    return own.over(service) if own is not None else service


def json_schema() -> dict[str, Any]:
    """JSON Schema of the native format, for editors (yaml-language-server) and CI."""
    schema = ServiceSLOs.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sloguard SLO definitions"
    _close_label_maps(schema)
    return schema


def _close_label_maps(node: Any) -> None:
    """Label maps list allowed names as patternProperties; other names must be errors too."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_label_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_label_maps(value)


Format = Literal["native", "sloth", "sloth-crd", "openslo", "openslo-v1alpha", "pyrra"]


def percent_ratio(percent: float) -> Decimal:
    """A percentage as the ratio its digits say: 99.9 -> 0.999 exactly, never
    0.9990000000000001."""
    return Decimal(repr(percent)) / 100


@dataclass(frozen=True)
class Definitions:
    """The definitions in use, numbered: each reload that changes them gives the next version,
    so whatever was worked out from one version can tell whether it is still current."""

    version: int
    services: tuple[ServiceSLOs, ...]
