"""The `actions:` block of a service: which workload sloguard may roll back or scale, and the
limits it acts within. Defaults are the safe side: dry-run, long cooldowns, few actions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from sloguard.spec.base import Duration, Name, Query, Strict

# Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label).
ObjectName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        max_length=253,
        description="A Kubernetes object name.",
    ),
]
Namespace = Annotated[
    str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63, description="Namespace.")
]
LabelKey = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        max_length=316,
        description="A Kubernetes label key.",
    ),
]

LabelValue = Annotated[
    str,
    Field(
        pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$",
        max_length=63,
        description="A Kubernetes label value.",
    ),
]


class Mode(StrEnum):
    """`dry-run` sends every write with `dryRun=All` (validated, never persisted) and records it;
    `enforce` writes."""

    DRY_RUN = "dry-run"
    ENFORCE = "enforce"


class WorkloadKind(StrEnum):
    ROLLOUT = "Rollout"
    DEPLOYMENT = "Deployment"


class Target(Strict):
    """The workload serving the service."""

    kind: WorkloadKind = Field(description="`Rollout` (Argo Rollouts) or `Deployment`.")
    name: ObjectName
    namespace: Namespace = "default"


class BlueGreen(Strict):
    """Blue-green by Service: rolling back points the Service's selector at the other color."""

    service: ObjectName = Field(description="The Service users reach (the active one).")
    label: LabelKey = Field("color", description="Selector key whose value names the color.")
    colors: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")], ObjectName
    ] = Field(
        description="Exactly two colors, each with the Deployment that serves it.",
        min_length=2,
        max_length=2,
    )


class Rollback(Strict):
    """Roll back when a page condition holds and a change is recent or in flight."""

    mode: Mode = Mode.DRY_RUN
    recent: Duration = Field(
        "1h", description="A Deployment revision (or color) younger than this counts as a change."
    )
    cooldown: Duration = Field("15m", description="Least time between two rollbacks of the target.")
    blue_green: BlueGreen | None = Field(
        None, description="Roll back by switching a Service between two colors instead."
    )


class Scale(Strict):
    """Add replicas while an SLO burns and a saturation signal says more would help; give them
    back once the burn has been normal for `give_back_after`."""

    mode: Mode = Mode.DRY_RUN
    saturation: Query = Field(
        description="PromQL giving one number; above `above` more replicas would help (e.g. CPU "
        "utilisation or queue depth per replica)."
    )
    above: float = Field(description="Saturated above this value.")
    below: float | None = Field(
        None,
        description="Hysteresis: replicas are given back only below this value "
        "(default 0.8 x `above`).",
    )
    hpa: ObjectName | None = Field(
        None,
        description="HorizontalPodAutoscaler of the target: its `minReplicas` is raised. Without "
        "one the Deployment's replicas are patched (never when an HPA owns them).",
    )
    step: int = Field(1, ge=1, description="Replicas added per action.")
    max_replicas: int = Field(ge=1, description="Ceiling sloguard never raises past.")
    cooldown: Duration = Field("5m", description="Least time between two scale actions.")
    give_back_after: Duration = Field(
        "15m", description="Burn normal this long before the added replicas are given back."
    )

    @model_validator(mode="after")
    def _band(self) -> Self:
        if self.below is not None and self.below >= self.above:
            raise ValueError("`below` must be lower than `above` (hysteresis)")
        return self

    @property
    def give_back_below(self) -> float:
        return self.below if self.below is not None else 0.8 * self.above


class Actions(Strict):
    """What sloguard may do to the service's workload (`sloguard run`; the leader acts)."""

    target: Target
    slos: list[Name] = Field(
        default_factory=list, description="SLOs that drive actions; empty means all of them."
    )
    rollback: Rollback | None = None
    scale: Scale | None = None
    max_per_hour: int = Field(3, ge=1, description="Cap on actions against the target per hour.")

    @model_validator(mode="after")
    def _fits_the_target(self) -> Self:
        if (
            self.scale is not None
            and self.scale.hpa is None
            and self.target.kind is not WorkloadKind.DEPLOYMENT
        ):
            raise ValueError("`scale` without `hpa` patches replicas of a Deployment only")
        return self
