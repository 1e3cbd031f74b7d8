"""A real Prometheus holding weeks of history as if it had run the generated rules all along:
counters backfilled from OpenMetrics, then the rules evaluated over them by promtool
(`tsdb create-blocks-from rules`) at their groups' intervals.

promtool evaluates rules against a running Prometheus and cannot see what it is writing, so
the rules go in layers: those reading only raw series first, then those reading the first
layer's series, and so on, Prometheus restarted on the new blocks in between. promtool skips
alerting rules; each becomes the recording rule of the `ALERTS` series Prometheus writes for
it (none of the generated alerts has a `for`), so alerts are evaluated on the history too."""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from sloguard import yamltext
from tests.support.processes import finish
from tests.support.realprom import Prometheus, Series, backfill, running_prometheus

RETENTION = ("--storage.tsdb.retention.time=400d",)


def as_recorded(rule: dict[str, Any]) -> dict[str, Any]:
    """An alerting rule as the recording rule of its firing `ALERTS` series."""
    if "alert" not in rule:
        return rule
    if rule.get("for"):
        raise ValueError(f"{rule['alert']} has a `for`; its ALERTS cannot be recorded plainly")
    labels = {**rule.get("labels", {}), "alertname": rule["alert"], "alertstate": "firing"}
    return {"record": "ALERTS", "expr": f"({rule['expr']}) * 0 + 1", "labels": labels}


def reads(expr: str, names: set[str]) -> set[str]:
    """Which of the series `names` the PromQL `expr` reads."""
    return {n for n in names if re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", expr)}


def layers(groups: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The groups' rules in the order they can be evaluated: each layer reads only raw series
    and those of the layers before it. Groups keep their names and intervals."""
    rules = [(g, as_recorded(r)) for g in groups for r in g["rules"]]
    names = {r["record"] for _, r in rules}

    @functools.cache
    def level_of(name: str) -> int:
        return max(level(r) for _, r in rules if r["record"] == name)

    def level(rule: dict[str, Any]) -> int:
        return 1 + max((level_of(n) for n in reads(rule["expr"], names)), default=-1)

    found: list[dict[str, dict[str, Any]]] = []
    for group, rule in rules:
        depth = level(rule)
        while len(found) <= depth:
            found.append({})
        into = found[depth].setdefault(
            group["name"], {"name": group["name"], "interval": group["interval"], "rules": []}
        )
        into["rules"].append(rule)
    return [list(layer.values()) for layer in found if layer]


@contextlib.contextmanager
def prometheus_with_history(
    directory: Path,
    families: dict[str, list[Series]],
    rule_files: list[Path],
    start: int,
    end: int,
) -> Iterator[Prometheus]:
    """Prometheus on `directory` holding `families` and what `rule_files` would have written
    from `start` to `end` (Unix seconds), serving it; stopped on exit."""
    backfill(directory, families)
    groups = [g for f in rule_files for g in yaml.safe_load(f.read_text())["groups"]]
    for index, layer in enumerate(layers(groups)):
        # One file name for every layer, given relative: promtool evaluates a group at an
        # offset into its interval hashed from the group's name and file, so each group keeps
        # one offset across its layers (as in a Prometheus, where a group's rules run in one
        # evaluation), the same from run to run.
        rules = directory / "rules.yml"
        rules.write_text(yamltext.dump({"groups": layer}), encoding="utf-8")
        blocks = directory / f"layer-{index}"
        with running_prometheus(directory, {}, [], RETENTION) as prom:
            finish(
                [
                    "promtool",
                    "tsdb",
                    "create-blocks-from",
                    "rules",
                    f"--url={prom.url}",
                    f"--start={start}",
                    f"--end={end}",
                    f"--output-dir={blocks}",
                    "--quiet",
                    rules.name,
                ],
                "promtool rules backfill",
                cwd=directory,
            )
        for block in blocks.iterdir():
            shutil.move(str(block), directory / "tsdb" / block.name)
    with running_prometheus(directory, {}, [], RETENTION) as prom:
        yield prom
