"""A real VictoriaMetrics single node (Debian's `victoria-metrics`) for tests: own port on
127.0.0.1, own data dir, always stopped; history imported through its Prometheus text import
API, with timestamps; rules replayed over it by vmalert."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from sloguard import yamltext
from tests.support.backfilled import reads
from tests.support.processes import finish, serving
from tests.support.realprom import Series, free_port


@contextlib.contextmanager
def running_victoria(directory: Path) -> Iterator[str]:
    """VictoriaMetrics keeping `directory/data`; yields its URL once healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        "victoria-metrics",
        f"-storageDataPath={directory / 'data'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.latencyOffset=0s",  # backfilled history is complete as written
    ]
    with serving(command, directory / "victoria-metrics.log", f"{url}/health"):
        yield url


def import_history(url: str, families: dict[str, list[Series]]) -> int:
    """Samples (name, labels, [(unix seconds, value)]) written through `/api/v1/import/prometheus`
    and flushed so that queries see them; returns the number of samples."""
    lines = []
    for series in families.values():
        for name, labels, samples in series:
            selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            lines += [f"{name}{{{selector}}} {v!r} {int(t * 1000)}" for t, v in samples]
    response = httpx.post(f"{url}/api/v1/import/prometheus", content="\n".join(lines) + "\n")
    response.raise_for_status()
    httpx.get(f"{url}/internal/force_flush").raise_for_status()
    return len(lines)


def in_replay_order(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups' recording rules, ordered so that each group reads only raw series and those
    recorded by itself (in its own order, as the generator writes it) or by the groups before
    it, then their alerts and the tiers each alert fires on, each group's in a group of its
    own after every recording: vmalert's replay runs the groups one after another, each over
    the whole range, and a page's tiers read burn rates that a slower group records."""
    recording = [{**g, "rules": [r for r in g["rules"] if not _alerting(r)]} for g in groups]
    alerting = [
        {**g, "name": f"{g['name']}-alerts", "rules": [r for r in g["rules"] if _alerting(r)]}
        for g in groups
    ]
    recorded = {g["name"]: {r["record"] for r in g["rules"]} for g in recording}
    names = set().union(*recorded.values())
    placed: set[str] = set()
    ordered: list[dict[str, Any]] = []
    pending = [g for g in recording if g["rules"]]
    while pending:
        ready = next(
            (
                g
                for g in pending
                if all(reads(r["expr"], names) <= placed | recorded[g["name"]] for r in g["rules"])
            ),
            None,
        )
        if ready is None:
            raise ValueError("the groups read each other's series in a cycle")
        ordered.append(ready)
        placed |= recorded[ready["name"]]
        pending.remove(ready)
    return ordered + [g for g in alerting if g["rules"]]


def _alerting(rule: dict[str, Any]) -> bool:
    """An alert, or the tiers one fires on (recorded just before it)."""
    return "alert" in rule or rule["record"].startswith("slo:tier_burn_rate:")


def replay(directory: Path, groups: list[dict[str, Any]], url: str, start: int, end: int) -> None:
    """vmalert replaying `groups` (their rules and alerts) from `start` to `end` (Unix seconds)
    over VictoriaMetrics at `url`, writing what they record back into it, rule by rule."""
    # vmalert cannot run the annotations' `query` templates in a replay; they change no value.
    groups = [
        {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
        for g in in_replay_order(groups)
    ]
    rules = directory / "replay.rules.yml"
    rules.write_text(yamltext.dump({"groups": groups}), encoding="utf-8")
    finish(
        [
            "vmalert",
            f"-rule={rules}",
            f"-datasource.url={url}",
            f"-remoteWrite.url={url}",
            "-remoteWrite.flushInterval=1s",
            f"-replay.timeFrom={_rfc3339(start)}",
            f"-replay.timeTo={_rfc3339(end)}",
            # Time for a rule's results to be written and searchable before the next reads them.
            "-replay.rulesDelay=2s",
            # Each group's interval as the step, as if it had run live (the default is 5m).
            "-datasource.queryStep=0s",
            "-replay.maxDatapointsPerQuery=10000",
            "-replay.disableProgressBar",
            f"-httpListenAddr=127.0.0.1:{free_port()}",
        ],
        "vmalert replay",
    )
    httpx.get(f"{url}/internal/force_flush").raise_for_status()


def _rfc3339(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
