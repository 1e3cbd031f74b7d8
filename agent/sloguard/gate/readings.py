"""The range query the gate reads for a request, and its answer as intervals per SLO and
version: one query for every SLO and version sharing a window and step, since each query
costs the agent more CPU in its HTTP client than Prometheus spends answering it.

A version's bad events can read as none for two reasons: there were none, or its selector
removed them because the bad-event series lack the label it chooses by (errors counted by
another job, a recording rule that drops the label). The query tells them apart: per SLO, the
bad events of every version against those of series carrying the selector's labels; where
the first are more, some bad events cannot be attributed and the SLO is not judged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sloguard import promql
from sloguard.gate.model import Interval
from sloguard.gate.selection import Matcher, Selector, inject, matches_empty
from sloguard.spec.durations import format_seconds
from sloguard.spec.model import SLI

Series = tuple[Mapping[str, str], Sequence[tuple[float, float]]]
UNLABELLED = "unlabelled"
# Bad events of all series over those of the labelled ones: equal sums of the same series
# differ by rounding only.
_ROUNDING = 1 + 1e-6


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
        for labels in sorted(_labels_chosen_by(versions.values())):
            parts.append(
                promql.tagged(_unlabelled(errors, labels), slo, ",".join(labels), UNLABELLED)
            )
    return " or ".join(parts)


def _labels_chosen_by(selectors: Iterable[Selector]) -> set[tuple[str, ...]]:
    """The labels each selector needs a series to carry (its matchers that do not also
    select series without their label)."""
    needed = (
        tuple(sorted({m.name for m in s.matchers if not matches_empty(m)})) for s in selectors
    )
    return {labels for labels in needed if labels}


def _unlabelled(errors: str, labels: tuple[str, ...]) -> str:
    """Bad events per second, at the steps where series lacking one of `labels` have some."""
    every = f"sum({errors})"
    carrying = Selector(tuple(Matcher(name, "!=", "") for name in labels))
    return f"{every} > {_ROUNDING!r} * (sum({inject(errors, carrying)}) or 0 * {every})"


def intervals(
    series: Iterable[Series],
) -> tuple[dict[tuple[str, str], list[Interval]], dict[str, str]]:
    """From the answer to `versions_query`: intervals in time order per (SLO, version), and
    per SLO whose bad events include series without a selector's labels, why it cannot be
    judged. Bad events default to zero where events were counted (no error series yet), as
    the recording rules do. A version without traffic has no entry."""
    counts: dict[tuple[str, str], dict[str, dict[float, float]]] = {}
    unattributed: dict[str, str] = {}
    for labels, values in series:
        names = promql.part_of(labels)
        if len(names) != 3:
            continue
        slo, version, kind = names
        if kind == UNLABELLED:
            if values:
                unattributed[slo] = (
                    f"some of its bad events come from series without label(s) {version}, "
                    "which the selector chooses versions by: they cannot be attributed to "
                    "canary or baseline"
                )
            continue
        counts.setdefault((slo, version), {}).setdefault(kind, {}).update(values)
    read = {}
    for key, kinds in counts.items():
        errors = kinds.get("errors", {})
        read[key] = [
            Interval(at, errors.get(at, 0.0), total)
            for at, total in sorted(kinds.get("total", {}).items())
        ]
    return read, unattributed
