"""TraceQL for a trace SLI, for clusters whose spans already live in Grafana Tempo: the spans it
counts, and the bad ones among them, as `count_over_time()` metrics queries."""

from __future__ import annotations

import json

from sloguard.spans.counting import HTTP_STATUS
from sloguard.spec.traces import Traces


def selection(traces: Traces) -> str:
    """The conditions every counted span meets."""
    conditions = [f"resource.service.name = {_string(traces.service)}"]
    if traces.span.name is not None:
        conditions.append(f"name = {_string(traces.span.name)}")
    if traces.span.kind is not None:
        conditions.append(f"kind = {traces.span.kind.value.lower()}")
    # Unscoped attributes (`.key`) match a span attribute, else a resource one: as the receiver.
    conditions += [f".{key} = {_string(value)}" for key, value in sorted(traces.match.items())]
    return " && ".join(conditions)


def bad(traces: Traces) -> str:
    """What makes a counted span bad: slower than the threshold, or failed."""
    if traces.threshold is not None:
        return f"duration > {traces.threshold}"
    failed = []
    if traces.error_status:
        failed.append("status = error")
    if traces.http_errors_from is not None:
        failed += [f"span.{key} >= {traces.http_errors_from}" for key in HTTP_STATUS]
    return f"({' || '.join(failed)})" if failed else "false"


def counts(traces: Traces) -> tuple[str, str]:
    """(bad spans, all spans) as TraceQL metrics queries counting over the queried range."""
    chosen = selection(traces)
    return (
        f"{{ {chosen} && {bad(traces)} }} | count_over_time()",
        f"{{ {chosen} }} | count_over_time()",
    )


def _string(value: str) -> str:
    """A TraceQL string literal: double quotes, backslash escapes (as JSON writes them)."""
    return json.dumps(value)
