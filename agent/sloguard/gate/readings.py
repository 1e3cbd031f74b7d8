"""The range query the gate reads for a request, and its answer as intervals per SLO and
version: one query for every SLO and version sharing a window and step, since each query
costs the agent more CPU in its HTTP client than Prometheus spends answering it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sloguard import promql
from sloguard.gate.model import Interval
from sloguard.gate.selection import Selector, inject
from sloguard.spec.durations import format_seconds
from sloguard.spec.model import SLI

Series = tuple[Mapping[str, str], Sequence[tuple[float, float]]]


def versions_query(
    slis: Mapping[str, SLI], step_seconds: float, versions: Mapping[str, Selector]
) -> str:
    """Bad and all events per second of each version of each SLO (by name) over each step,
    summed over the version's series (pods, and the labels of a per-label SLO), tagged with
    the SLO, the version and `errors` or `total`."""
    step = format_seconds(int(step_seconds))
    parts = []
    for slo, sli in slis.items():
        errors, total = promql.sli_rates(sli, step, fill=False)
        for version, chosen in versions.items():
            for kind, expr in (("errors", errors), ("total", total)):
                parts.append(promql.tagged(f"sum({inject(expr, chosen)})", slo, version, kind))
    return " or ".join(parts)


def intervals(series: Iterable[Series]) -> dict[tuple[str, str], list[Interval]]:
    """Intervals in time order per (SLO, version) from the answer to `versions_query`; bad
    events default to zero where events were counted (no error series yet), as the
    recording rules do. A version without traffic has no entry."""
    counts: dict[tuple[str, str], dict[str, dict[float, float]]] = {}
    for labels, values in series:
        names = promql.part_of(labels)
        if len(names) != 3:
            continue
        slo, version, kind = names
        counts.setdefault((slo, version), {}).setdefault(kind, {}).update(values)
    read = {}
    for key, kinds in counts.items():
        errors = kinds.get("errors", {})
        read[key] = [
            Interval(at, errors.get(at, 0.0), total)
            for at, total in sorted(kinds.get("total", {}).items())
        ]
    return read
