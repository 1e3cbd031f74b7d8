"""A gate request as callers send it (JSON, flags, Flagger metadata), resolved against the
definitions into what to read: which SLOs, which series, over which window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sloguard import promql
from sloguard.errors import RequestError, UnknownTarget
from sloguard.gate.selection import Selector, exists_without_series, selector, used_labels
from sloguard.spec.base import Name
from sloguard.spec.durations import DurationTooLong, parse_seconds
from sloguard.spec.model import SLI, SLO, ServiceSLOs

MatcherSpec = str | dict[str, str]
# A duration longer than zero (`30m`, `1h30m`): every part has a digit other than 0.
DURATION_PATTERN = r"^([0-9]*[1-9][0-9]*(ms|y|w|d|h|m|s))+$"


class AnalysisRequest(BaseModel):
    """Judge a canary of `service` on its SLOs."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "service": "checkout",
                    "canary": {"rollouts_pod_template_hash": "6d4f8c9b7"},
                    "baseline": {"rollouts_pod_template_hash": "5c9d7f6b4"},
                }
            ]
        },
    )

    service: Name = Field(description="The service whose SLOs decide.")
    slos: list[Name] = Field(
        default_factory=list,
        max_length=100,
        description="Only these SLOs (default: every SLO of the service with the gate enabled).",
    )
    canary: MatcherSpec = Field(
        description='Label matchers selecting the canary\'s series: PromQL (`{pod=~"web-7f.*"}`) '
        'or a map of equalities (`{"rollouts_pod_template_hash": "7f9c"}`).'
    )
    baseline: MatcherSpec | None = Field(
        None, description="Matchers selecting the stable (baseline) series, to compare against."
    )
    window: str | None = Field(
        None,
        description="Analysis window (a duration such as `30m`); default and cap: each SLO's "
        "`gate.window`. The canary is judged on the part of it where it had traffic.",
        max_length=16,
        # In the schema only: the validator's message says what a duration looks like.
        json_schema_extra={"pattern": DURATION_PATTERN},
    )

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_seconds(value)
            except DurationTooLong:
                return None  # each SLO's `gate.window` caps it: asking for more is asking for it
        return value


def problems(exc: ValidationError, prefix: str = "") -> str:
    """A request's validation errors on one line: `field: why; field: why`."""
    return "; ".join(
        f"{prefix}{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


@dataclass(frozen=True)
class Target:
    """One SLO to read, with its window and step in seconds."""

    slo: SLO
    window_seconds: float
    step_seconds: float

    @property
    def rate_seconds(self) -> float:
        """What each step's rate is read over: the step and one scrape more, so that no
        increase between two steps' samples is lost (see `Gate.scrape_interval`)."""
        return self.step_seconds + self.slo.gate.scrape_seconds


@dataclass(frozen=True)
class Analysis:
    """A request resolved against the definitions."""

    spec: ServiceSLOs
    targets: Sequence[Target]
    canary: Selector
    baseline: Selector | None


def resolve(request: AnalysisRequest, services: Sequence[ServiceSLOs]) -> Analysis:
    """What `request` asks to read; RequestError (UnknownTarget) when it cannot be answered."""
    spec = next((s for s in services if s.service == request.service), None)
    if spec is None:
        raise UnknownTarget(f"service: no SLOs are defined for {request.service!r}")
    by_name: Mapping[str, SLO] = {slo.name: slo for slo in spec.slos}
    unknown = [name for name in request.slos if name not in by_name]
    if unknown:
        raise UnknownTarget(
            f"slos: {request.service!r} has no SLO named {', '.join(map(repr, unknown))} "
            f"(it has {', '.join(by_name)})"
        )
    chosen = [by_name[n] for n in request.slos] if request.slos else spec.slos
    gated = [slo for slo in chosen if slo.gate.enabled]
    if not gated:
        raise RequestError(f"slos: no SLO of {request.service!r} asked for has the gate enabled")
    wanted = parse_seconds(request.window) if request.window else None
    targets = []
    for slo in gated:
        cap = parse_seconds(slo.gate.window)
        targets.append(Target(slo, min(wanted or cap, cap), parse_seconds(slo.gate.interval)))
    canary = selector(request.canary, "canary")
    baseline = None if request.baseline is None else selector(request.baseline, "baseline")
    for check in (_refuse_made_up_traffic, _refuse_labels_read, _refuse_other_labels):
        for slo in gated:  # the most telling refusal first, whichever SLO it concerns
            check(slo, canary, baseline)
    return Analysis(spec, targets, canary, baseline)


def sli_labels(sli: SLI) -> frozenset[str]:
    """Labels the SLI's own queries read: matched, aggregated, joined or rewritten."""
    errors, total = promql.sli_rates(sli, promql.BASE_WINDOW, fill=False)
    return used_labels(errors) | used_labels(total)


def _refuse_labels_read(slo: SLO, canary: Selector, baseline: Selector | None) -> None:
    """A version is chosen by a label the SLO does not read: a matcher on `code`, `le` or
    `outcome` would select away the bad events (read as none) while the total stays."""
    read = sli_labels(slo.sli)
    for what, names in _labels(canary, baseline):
        clashes = sorted(names & read)
        if clashes:
            raise RequestError(
                f"{what}: SLO {slo.name!r} reads label {', '.join(map(repr, clashes))} itself "
                f"(its queries use {', '.join(sorted(read))}), so a matcher on it would change "
                "what the SLO counts instead of choosing a version; choose versions by a label "
                "every series of the SLO carries, such as rollouts_pod_template_hash"
            )


def _refuse_other_labels(slo: SLO, canary: Selector, baseline: Selector | None) -> None:
    """Only the SLO's version labels choose versions: a label the SLI does not name may still
    track failure (`code` beside `status_class`, a `reason` only errors carry)."""
    allowed = slo.gate.version_labels
    for what, names in _labels(canary, baseline):
        others = sorted(names - set(allowed))
        if others:
            raise RequestError(
                f"{what}: label {', '.join(map(repr, others))} is not one SLO {slo.name!r} "
                f"tells versions apart by (gate.version_labels: {', '.join(allowed)}): a label "
                "that tracks failure would select a failing canary's bad events away; add it "
                "there if it names a version"
            )


def _labels(canary: Selector, baseline: Selector | None) -> list[tuple[str, set[str]]]:
    chosen = [("canary", canary)] + ([("baseline", baseline)] if baseline is not None else [])
    return [(what, {m.name for m in selector.matchers}) for what, selector in chosen]


def _refuse_made_up_traffic(slo: SLO, *_: Selector | None) -> None:
    """An SLI whose events (or raw ratio) exist where no series matches (`or vector(0)`,
    `absent(...)`, a constant) gives a canary that matches nothing traffic and no errors."""
    sli = slo.sli
    field, query = (
        ("sli.raw.error_ratio", sli.raw.error_ratio)
        if sli.raw is not None
        else ("sli.events.total", sli.events.total)
        if sli.events is not None
        else ("", "")
    )
    if query and exists_without_series(promql.render_window(query, promql.BASE_WINDOW)):
        raise RequestError(
            f"SLO {slo.name!r}: its {field} has a value even where no series matches (a "
            "constant, `vector()`, `absent()`), so a canary without traffic, or a selector "
            "that matches nothing, would read as clean: the gate cannot judge it (leave the "
            "fill out, or set gate.enabled: false)"
        )
