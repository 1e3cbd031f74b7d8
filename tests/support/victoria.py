"""A real VictoriaMetrics single node (Debian's `victoria-metrics`) for tests: own port on
127.0.0.1, own data dir, always stopped; history imported through its Prometheus text import
API, with timestamps."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sloguard.sources.http import answers_ok
from tests.support.realprom import Series, free_port


@contextlib.contextmanager
def running_victoria(directory: Path) -> Iterator[str]:
    """VictoriaMetrics keeping `directory/data`; yields its URL once healthy."""
    port = free_port()
    log = directory / "victoria-metrics.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                "victoria-metrics",
                f"-storageDataPath={directory / 'data'}",
                f"-httpListenAddr=127.0.0.1:{port}",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",  # backfilled history is complete as written
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not answers_ok(f"{url}/health"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"VictoriaMetrics did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
