"""A real Prometheus (Debian's) for tests: own port on 127.0.0.1, own data dir, always stopped."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloguard.demo.prometheus import free_port, local_prometheus
from sloguard.errors import ToolError

__all__ = ["Prometheus", "backfill", "free_port", "running_prometheus"]


@dataclass(frozen=True)
class Prometheus:
    url: str
    log: Path

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; raises on anything but success (a query Prometheus rejects is a bug)."""
        params = {"query": expr, **({"time": str(at)} if at is not None else {})}
        return self._call("/api/v1/query", params)

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        return self._call("/api/v1/query_range", params)

    def label_values(self, label: str, match: str) -> list[str]:
        response = httpx.get(f"{self.url}/api/v1/label/{label}/values", params={"match[]": match})
        response.raise_for_status()
        return list(response.json()["data"])

    def rules_evaluated_since(self, moment: float) -> bool:
        """Whether every rule group has been evaluated after `moment` (a Unix time)."""
        response = httpx.get(f"{self.url}/api/v1/rules", timeout=30)
        response.raise_for_status()
        groups = response.json()["data"]["groups"]
        stamps = [g.get("lastEvaluation", "") for g in groups]
        return bool(groups) and all(
            s and datetime.fromisoformat(s).timestamp() > moment for s in stamps
        )

    def _call(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        response = httpx.post(f"{self.url}{path}", data=params, timeout=30)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{params['query']!r}: {body.get('error', body)}")
        return list(body["data"]["result"])


@contextlib.contextmanager
def running_prometheus(
    directory: Path,
    scrape_targets: dict[str, str],
    rule_files: list[Path],
    extra_args: tuple[str, ...] = (),
    port: int | None = None,
    honor_labels: bool = False,
    alertmanager: str | None = None,
    external_labels: dict[str, str] | None = None,
    remote_write: str | None = None,
    ready_seconds: float = 30,
) -> Iterator[Prometheus]:
    """Prometheus scraping `job -> host:port` every second and evaluating `rule_files`
    (remote-writing to `remote_write` with `external_labels`, see `local_prometheus`); its
    data lives in `directory/tsdb` (write backfilled blocks there before starting it)."""
    try:
        with local_prometheus(
            directory,
            scrape_targets,
            rule_files,
            env=os.environ,
            extra_args=extra_args,
            port=port,
            honor_labels=honor_labels,
            alertmanager=alertmanager,
            external_labels=external_labels,
            remote_write=remote_write,
            ready_seconds=ready_seconds,
        ) as url:
            yield Prometheus(url, directory / "prometheus.log")
    except ToolError as exc:
        pytest.fail(str(exc))


Series = tuple[str, dict[str, str], list[tuple[int, float]]]


def backfill(directory: Path, families: dict[str, list[Series]]) -> int:
    """Write samples (name, labels, [(unix seconds, value)]) as OpenMetrics and turn them into
    TSDB blocks in `directory/tsdb` with promtool; returns the number of samples."""
    text = directory / "backfill.om"
    count = 0
    with text.open("w", encoding="utf-8") as out:
        for family, series in families.items():
            kind = "counter" if family.endswith("_total") else "gauge"
            out.write(f"# TYPE {family.removesuffix('_total')} {kind}\n")
            for name, labels, samples in series:
                selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                out.writelines(f"{name}{{{selector}}} {v!r} {t}\n" for t, v in samples)
                count += len(samples)
        out.write("# EOF\n")
    create_blocks(text, directory / "tsdb")
    return count


def create_blocks(openmetrics: Path, tsdb: Path) -> None:
    """TSDB blocks in `tsdb` from the OpenMetrics file (removed after) with promtool."""
    result = subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            str(openmetrics),
            str(tsdb),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"promtool backfill failed:\n{result.stdout}\n{result.stderr}")
    openmetrics.unlink()
