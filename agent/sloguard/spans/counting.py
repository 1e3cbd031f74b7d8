"""Spans to events: every trace SLI of the definitions, indexed by the resource's
`service.name`, classifies the spans it matches as good or bad."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sloguard.spec.model import ServiceSLOs
from sloguard.spec.traces import SpanKind, Traces

# OTLP's numbers for span kinds, and the error status code.
KIND_NUMBERS = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
STATUS_ERROR = 2
HTTP_STATUS = ("http.response.status_code", "http.status_code")  # semconv 1.23+, then older
VERSION_LABEL = "version"  # the counters' label telling canary and stable apart


class Span(NamedTuple):
    """What counting needs of one span; `attributes` holds only the keys asked for."""

    name: str
    kind: int
    error: bool  # status code ERROR
    seconds: float
    attributes: Mapping[str, str]


class Series(NamedTuple):
    """The labels of one counter: `sli` is the trace SLI's key."""

    service: str
    span: str
    sli: str
    version: str
    outcome: str  # "good" or "bad"


@dataclass(frozen=True)
class _Rule:
    traces: Traces
    key: str
    name: str | None
    kind: int | None
    threshold: float | None


class SpanCounter:
    """The trace SLIs of a set of definitions, ready to classify spans quickly."""

    def __init__(self, slis: Iterable[Traces]) -> None:
        by_service: dict[str, dict[str, _Rule]] = {}
        wanted: set[str] = set(HTTP_STATUS)
        resource_wanted: set[str] = {"service.name"}
        versions: set[str] = set()
        for traces in slis:
            rule = _Rule(
                traces,
                traces.key,
                traces.span.name,
                KIND_NUMBERS[traces.span.kind] if traces.span.kind else None,
                traces.threshold_seconds,
            )
            by_service.setdefault(traces.service, {})[rule.key] = rule  # equal SLIs once
            wanted.update(traces.match)
            resource_wanted.update(traces.match)
            versions.add(traces.version_from)
        self._rules = {service: tuple(rules.values()) for service, rules in by_service.items()}
        self.span_attributes = frozenset(wanted)
        self.resource_attributes = frozenset(resource_wanted | versions)
        self.version_attributes = frozenset(versions)  # what becomes the `version` label

    @classmethod
    def of(cls, services: Sequence[ServiceSLOs]) -> SpanCounter:
        """For every trace SLI of `services`."""
        return cls(slo.sli.traces for spec in services for slo in spec.slos if slo.sli.traces)

    def count(self, resource: Mapping[str, str], spans: Iterable[Span]) -> Counter[Series]:
        """Events per counter among `spans`, all from one `resource`."""
        counted: Counter[Series] = Counter()
        rules = self._rules.get(resource.get("service.name", ""))
        if not rules:
            return counted
        for span in spans:
            for rule in rules:
                if _matches(rule, resource, span):
                    traces = rule.traces
                    outcome = "bad" if _bad(rule, span) else "good"
                    version = resource.get(traces.version_from, "")
                    label = rule.name or ""  # never the span's own name: unbounded
                    counted[Series(traces.service, label, rule.key, version, outcome)] += 1
        return counted


def _matches(rule: _Rule, resource: Mapping[str, str], span: Span) -> bool:
    if rule.name is not None and span.name != rule.name:
        return False
    if rule.kind is not None and span.kind != rule.kind:
        return False
    for key, value in rule.traces.match.items():
        if span.attributes.get(key, resource.get(key)) != value:
            return False
    return True


def _bad(rule: _Rule, span: Span) -> bool:
    if rule.threshold is not None:
        return span.seconds > rule.threshold
    traces = rule.traces
    if traces.error_status and span.error:
        return True
    if traces.http_errors_from is not None:
        for key in HTTP_STATUS:
            code = span.attributes.get(key)
            if code is not None:
                return code.isdigit() and int(code) >= traces.http_errors_from
    return False
