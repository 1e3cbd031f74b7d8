"""Trace SLIs: which spans count (by the resource's `service.name`, span name, kind and
attributes) and which of them are bad (an error status or a 5xx, or slower than a threshold).

The agent counts matching spans it receives over OTLP into `sloguard_trace_events_total`, keyed
by the SLI's content (`key`), so a trace SLI becomes an events SLI over those series and goes
through the same rules, dashboards, evaluation and gate as any other."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from sloguard.spec.base import Duration, Strict
from sloguard.spec.durations import parse_seconds

AttributeName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s]+$")]


class SpanKind(StrEnum):
    """OpenTelemetry span kinds (OTLP `SPAN_KIND_*`)."""

    INTERNAL = "INTERNAL"
    SERVER = "SERVER"
    CLIENT = "CLIENT"
    PRODUCER = "PRODUCER"
    CONSUMER = "CONSUMER"


class SpanMatch(Strict):
    name: str | None = Field(None, min_length=1, description="Exact span name, e.g. `POST /pay`.")
    kind: SpanKind | None = Field(None, description="Span kind, e.g. `SERVER`.")


class Traces(Strict):
    """Spans as events: bad when failed (availability) or, with `threshold`, when slow."""

    service: str = Field(min_length=1, description="The resource attribute `service.name`.")
    span: SpanMatch = Field(default_factory=SpanMatch)
    match: dict[AttributeName, str] = Field(
        default_factory=dict,
        description="Span (or else resource) attributes that must equal these values, e.g. "
        "`http.route: /pay`.",
    )
    threshold: Duration | None = Field(
        None, description="A latency SLI: spans longer than this (e.g. `300ms`) are bad."
    )
    error_status: bool = Field(True, description="Availability: a span with status ERROR is bad.")
    http_errors_from: int | None = Field(
        500,
        ge=100,
        le=599,
        description="Availability: `http.response.status_code` (or the older "
        "`http.status_code`) at or above this is bad; null to ignore it.",
    )
    version_from: AttributeName = Field(
        "service.version",
        description="Resource attribute recorded as the `version` label, which tells canary "
        "and stable apart at the gate (e.g. `service.version`, `k8s.pod.name`).",
    )

    @property
    def threshold_seconds(self) -> float | None:
        return parse_seconds(self.threshold) if self.threshold is not None else None

    @property
    def key(self) -> str:
        """A short, stable id of what is counted: equal definitions share their series."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]
