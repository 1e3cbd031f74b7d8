"""What the gate reads for a request: one range query for every SLO and version sharing a
window and step (each query costs the agent more CPU in its HTTP client than Prometheus spends
answering it), its answer as intervals per SLO and version, and an instant query that tells
whether the SLOs' bad events can be told apart by version at all.

A version's bad events can read as none for two reasons: there were none, or its selector
removed them because the bad-event series lack the label it chooses by (errors counted by
another job, a recording rule that drops the label). The second query tells them apart: per
SLO, the bad events over the window of every series against those of the series carrying the
selectors' labels; where the first are more, some bad events cannot be attributed and the SLO
is not judged. It does not depend on the versions' values, so one answer serves every request
about the service for a while (over the window it costs Prometheus one evaluation, where a
range query's 60 steps made every fresh decision cost it half as much again)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from sloguard import promql
from sloguard.evaluation.readings import Sample
from sloguard.gate.model import Interval
from sloguard.gate.selection import Matcher, Selector, inject, matches_empty
from sloguard.spec.durations import format_seconds
from sloguard.spec.model import SLI

Series = tuple[Mapping[str, str], Sequence[tuple[float, float]]]
# Bad events of all series over those of the labelled ones: equal sums of the same series
# differ by rounding only.
_ROUNDING = 1 + 1e-6


def versions_query(
    slis: Mapping[str, SLI], rate_seconds: float, versions: Mapping[str, Selector]
) -> str:
    """Bad and all events per second of each version of each SLO (by name) over the
    `rate_seconds` up to each step, summed over the version's series (pods, and the labels of a
    per-label SLO), tagged with the SLO, the version and `errors` or `total`."""
    step = format_seconds(int(rate_seconds))
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


def garbled(read: dict[tuple[str, str], list[Interval]]) -> bool:
    """Whether any interval holds what no event rate can be (NaN, infinite, negative): such an
    answer is no evidence at all, not evidence with the odd interval left out."""
    return any(
        not (math.isfinite(i.errors) and math.isfinite(i.total) and i.errors >= 0 <= i.total)
        for found in read.values()
        for i in found
    )


def labels_chosen_by(selectors: Iterable[Selector]) -> tuple[tuple[str, ...], ...]:
    """The labels each selector needs a series to carry (its matchers that do not also
    select series without their label), each set once, in order."""
    needed = (
        tuple(sorted({m.name for m in s.matchers if not matches_empty(m)})) for s in selectors
    )
    return tuple(sorted({labels for labels in needed if labels}))


def unattributed_query(
    slis: Mapping[str, tuple[SLI, float]], label_sets: Sequence[tuple[str, ...]]
) -> str:
    """Per SLO (its SLI and window in seconds) and set of labels, the SLO's bad events per
    second over the window where series lacking one of the labels have some; nothing where
    every bad event is on a series carrying them. Tagged with the SLO and the labels."""
    parts = []
    for slo, (sli, seconds) in slis.items():
        errors, _ = promql.sli_rates(sli, format_seconds(int(seconds)), fill=False)
        for labels in label_sets:
            every = f"sum({errors})"
            carrying = Selector(tuple(Matcher(name, "!=", "") for name in labels))
            # `vector(0)` where no series carries the labels at all.
            check = f"{every} > {_ROUNDING!r} * (sum({inject(errors, carrying)}) or vector(0))"
            parts.append(promql.tagged(check, slo, ",".join(labels)))
    return " or ".join(parts)


def unattributed(samples: Iterable[Sample]) -> dict[str, str]:
    """From the answer to `unattributed_query`: why each SLO whose bad events include series
    without a selector's labels cannot be judged."""
    found = {}
    for labels, _ in samples:
        names = promql.part_of(labels)
        if len(names) == 2:
            found[names[0]] = (
                f"some of its bad events come from series without label(s) {names[1]}, "
                "which the selector chooses versions by: they cannot be attributed to canary "
                "or baseline"
            )
    return found
