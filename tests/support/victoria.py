"""A real VictoriaMetrics single node (Debian's `victoria-metrics`) for tests: own port on
127.0.0.1, own data dir, always stopped; history imported through its Prometheus text import
API, with timestamps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.processes import serving
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
