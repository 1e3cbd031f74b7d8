"""Jaeger's query API answers (`GET /api/traces`) as span counts for a trace SLI: its spans
become the receiver's `Span`s, classified by the very same rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sloguard.spans.counting import Span, SpanCounter
from sloguard.spec.traces import Traces

# Jaeger records the OTel span kind and status as tags.
_KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def counts(traces: Traces, answer: Mapping[str, Any]) -> tuple[int, int]:
    """(bad, all) spans the SLI counts among the traces of one `/api/traces` answer."""
    counter = SpanCounter([traces])
    bad = total = 0
    for trace in answer.get("data") or []:
        processes = trace.get("processes") or {}
        for resource, spans in _by_process(trace.get("spans") or [], processes):
            for series, n in counter.count(resource, spans).items():
                total += n
                bad += n if series.outcome == "bad" else 0
    return bad, total


def _by_process(
    spans: list[Mapping[str, Any]], processes: Mapping[str, Mapping[str, Any]]
) -> Iterator[tuple[dict[str, str], list[Span]]]:
    grouped: dict[str, list[Span]] = {}
    for span in spans:
        grouped.setdefault(str(span.get("processID", "")), []).append(_span(span))
    for process_id, group in grouped.items():
        process = processes.get(process_id) or {}
        resource = _tags(process.get("tags") or [])
        resource["service.name"] = str(process.get("serviceName", ""))
        yield resource, group


def _span(span: Mapping[str, Any]) -> Span:
    tags = _tags(span.get("tags") or [])
    error = tags.get("error") == "true" or tags.get("otel.status_code") == "ERROR"
    kind = _KINDS.get(tags.get("span.kind", ""), 0)
    seconds = float(span.get("duration") or 0) / 1e6  # microseconds
    return Span(str(span.get("operationName", "")), kind, error, seconds, tags)


def _tags(tags: list[Mapping[str, Any]]) -> dict[str, str]:
    found = {}
    for tag in tags:
        value = tag.get("value")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        found[str(tag.get("key"))] = text
    return found
