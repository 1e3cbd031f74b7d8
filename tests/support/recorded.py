"""The series the agent's rules path reads, written as the generated rules would have recorded
them, for promtool to backfill: a Prometheus that serves them answers the rules path as one
running those rules would, without evaluating them (two cores cannot run 10,000 SLOs' rules)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from sloguard import promql
from sloguard.loading import Loaded
from sloguard.rules.output import RuleFormat, render_rule_files
from sloguard.spec.durations import parse_seconds
from tests.support.rules import selects


def history_seconds(record: str) -> int | None:
    """How far back the rules path reads a recorded series: the instant ones only their newest
    sample (within the 5m lookback), the 5m rates the hour the min-events guard averages, the
    30m averages the longest short window summed (6h); None for a series it does not read."""
    if record.startswith(promql.burn_rate_metric("")) or record in (
        promql.BUDGET_REMAINING,
        promql.WINDOW_EVENTS,
    ):
        return 300
    return {promql.TOTAL: 3900, promql.TOTAL_COARSE: 6 * 3600 + 600}.get(record)


def write_recorded(
    loaded: Loaded, path: Path, end: int, groups: Mapping[str, Sequence[str]]
) -> int:
    """OpenMetrics of every series the rules path reads, up to `end`, as the generated rules
    would have recorded them: their names, labels and group intervals, a per-label SLO's
    series for each value of `groups`; returns the samples written."""
    groupings = {(s.service, slo.name): promql.slo_grouping(slo) for s in loaded.services
                 for slo in s.slos}  # fmt: skip
    families: dict[str, list[tuple[dict[str, str], int]]] = {}
    for text in render_rule_files(loaded.services, loaded.sources, RuleFormat.PROMETHEUS).values():
        groups_of_file = yaml.load(text, Loader=yaml.CSafeLoader)["groups"]
        # Every SLO records its 5m total with its own rule, which carries all its labels.
        own = [r["labels"] for g in groups_of_file for r in g["rules"]
               if r.get("record") == promql.TOTAL]  # fmt: skip
        for group in groups_of_file:
            step = int(parse_seconds(group["interval"]))
            for rule in group["rules"]:
                if "record" in rule and history_seconds(rule["record"]) is not None:
                    families.setdefault(rule["record"], []).extend(
                        (labels, step)
                        for labels in ([rule["labels"]] if "labels" in rule else own)
                        if selects(rule, labels["slo"])
                    )
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for record, series in families.items():
            history = history_seconds(record) or 0
            out.write(f"# TYPE {record} gauge\n")
            for n, (labels, step) in enumerate(series):
                grouping = groupings[labels["service"], labels["slo"]]
                value = {
                    promql.BUDGET_REMAINING: 1 - (n % 40) / 40,
                    promql.WINDOW_EVENTS: 1e8,
                    promql.TOTAL: 100.0,
                    promql.TOTAL_COARSE: 100.0,
                }.get(record, (n % 40) / 20)  # burn rates from calm to twice the budget
                times = range(end - history // step * step, end + 1, step)
                for values in itertools.product(*(groups[g] for g in grouping)):
                    full = {**labels, **dict(zip(grouping, values, strict=True))}
                    text = ",".join(f'{k}="{v}"' for k, v in sorted(full.items()))
                    out.writelines(f"{record}{{{text}}} {value} {t}\n" for t in times)
                    count += len(times)
        out.write("# EOF\n")
    return count
