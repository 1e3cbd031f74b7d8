"""Canary and stable traffic of `shop` for the gate's tests against a real Prometheus.

Two hours at 20 requests/s per version, labelled by `rollouts_pod_template_hash`; the canaries
started 20 minutes before the end. Errors and slow requests are Poisson draws (seeded) around
each version's share. `healthy` is like stable, `broken` has 5x its errors, `slow` 10x its
slow requests; a version not listed has no traffic. The broken canary's errors are also counted
by `shop_failures_total`, a series without the version label (as a proxy or another job would
count them), which `UNATTRIBUTED` reads.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np

from tests.support.realprom import Prometheus, Series, backfill, free_port, running_prometheus

DEFINITION = """\
service: shop
slos:
  - name: availability
    objective: 99
    sli:
      events:
        errors: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total{job="shop"}[{{window}}]))
    gate: {window: 30m}
  - name: latency
    objective: 99
    sli:
      latency: {metric: http_request_duration_seconds, selector: {job: shop}, threshold: 300ms}
    gate: {window: 30m}
"""
# Bad events from a series that cannot tell versions apart.
UNATTRIBUTED = """\
service: shop
slos:
  - name: availability
    objective: 99
    sli:
      events:
        errors: sum(rate(shop_failures_total{job="shop"}[{{window}}]))
        total: sum(rate(http_requests_total{job="shop"}[{{window}}]))
    gate: {window: 30m}
"""
RATE, SCRAPE, HISTORY, CANARY_AGE = 20.0, 15, 7200, 1200
STABLE = "5c9d7f6b4"
# version -> (error share, slow share)
VERSIONS = {
    STABLE: (0.002, 0.002),
    "healthy": (0.002, 0.002),
    "broken": (0.010, 0.002),
    "slow": (0.002, 0.020),
}


def history(end: int, canary_age: int = CANARY_AGE) -> dict[str, list[Series]]:
    """Every version's series up to `end`; the canaries started `canary_age` seconds before."""
    rng = np.random.default_rng(42)
    requests: list[Series] = []
    latencies: list[Series] = []
    failures: list[Series] = []
    for version, (errors, slow) in VERSIONS.items():
        ids = {"job": "shop", "rollouts_pod_template_hash": version}
        age = HISTORY if version == STABLE else canary_age
        times = list(range(end - age, end + 1, SCRAPE))
        per_scrape = RATE * SCRAPE

        def points(values: np.ndarray, times: list[int] = times) -> list[tuple[int, float]]:
            return list(zip(times, values.tolist(), strict=True))

        bad = np.cumsum(rng.poisson(per_scrape * errors, len(times)))
        late = np.cumsum(rng.poisson(per_scrape * slow, len(times)))
        total = per_scrape * np.arange(1, len(times) + 1)
        requests += [
            ("http_requests_total", {**ids, "code": "500"}, points(bad)),
            ("http_requests_total", {**ids, "code": "200"}, points(total - bad)),
        ]
        if version == "broken":
            failures.append(("shop_failures_total", {"job": "shop"}, points(bad)))
        bucket = "http_request_duration_seconds_bucket"
        latencies += [
            (bucket, {**ids, "le": "0.1"}, points(total / 2)),
            (bucket, {**ids, "le": "0.3"}, points(total - late)),
            (bucket, {**ids, "le": "+Inf"}, points(total)),
            ("http_request_duration_seconds_count", ids, points(total)),
        ]
    return {
        "http_requests_total": requests,
        "http_request_duration_seconds": latencies,
        "shop_failures_total": failures,
    }


@contextlib.contextmanager
def canary_prometheus(
    directory: Path, end: int, canary_age: int = CANARY_AGE, rules: Sequence[Path] = ()
) -> Iterator[Prometheus]:
    """A real Prometheus holding `history(end, canary_age)` (and evaluating `rules`)."""
    backfill(directory, history(end, canary_age))
    retention = ("--storage.tsdb.retention.time=400d",)
    with running_prometheus(directory, {}, list(rules), retention) as prometheus:
        yield prometheus


@contextlib.contextmanager
def running_agent(
    definitions: Path,
    prometheus_url: str,
    token: str,
    *flags: str,
    port: int | None = None,
    stderr: int = subprocess.DEVNULL,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`sloguard run` as a process on `port` (default a free one) with the gate's `token`: its
    URL (once /healthz answers) and the process; stopped on the way out."""
    port = port or free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("sloguard")),
            "run",
            str(definitions),
            f"--prometheus={prometheus_url}",
            f"--listen=127.0.0.1:{port}",
            *flags,
        ],
        env={**os.environ, "SLOGUARD_GATE_TOKEN": token},
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sloguard run did not start (exit {process.poll()})")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)
