"""The range queries the gate reads per SLO and version, and their answers as intervals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sloguard import promql
from sloguard.gate.model import Interval
from sloguard.gate.selection import Selector, inject
from sloguard.spec.durations import format_seconds
from sloguard.spec.model import SLI

Series = tuple[Mapping[str, str], Sequence[tuple[float, float]]]


def version_query(sli: SLI, step_seconds: float, chosen: Selector) -> str:
    """Bad and all events per second of one version over each step, summed over its series
    (pods, and the labels of a per-label SLO), tagged `errors` and `total`."""
    errors, total = promql.sli_rates(sli, format_seconds(int(step_seconds)), fill=False)
    return " or ".join(
        promql.tagged(f"sum({inject(expr, chosen)})", **{promql.KIND_LABEL: kind})
        for kind, expr in (("errors", errors), ("total", total))
    )


def intervals(series: Iterable[Series]) -> list[Interval]:
    """Intervals in time order from the answer to `version_query`; bad events default to zero
    where events were counted (no error series yet), as the recording rules do."""
    kinds: dict[str, dict[float, float]] = {"errors": {}, "total": {}}
    for labels, values in series:
        kind = labels.get(promql.KIND_LABEL, "")
        if kind in kinds:
            kinds[kind].update(values)
    errors = kinds["errors"]
    return [
        Interval(at, errors.get(at, 0.0), total) for at, total in sorted(kinds["total"].items())
    ]
