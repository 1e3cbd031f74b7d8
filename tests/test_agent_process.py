"""`sloguard run` as a process against a real Prometheus that stops mid-run and comes back."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.realprom import backfill, free_port, running_prometheus
from tests.support.repo import FIXTURES
from tests.support.running import wait_for

pytestmark = pytest.mark.integration  # starts real processes or servers

RATE, SHARE, HOURS = 20.0, 0.0005, 2


def test_the_agent_reports_an_outage_of_prometheus_and_recovers(tmp_path: Path) -> None:
    end = int(time.time()) // 60 * 60 - 60
    start = end - HOURS * 3600
    points = range(start, end + 1, 60)
    labels = {"job": "shop"}
    backfill(
        tmp_path,
        {
            "http_requests_total": [
                (
                    "http_requests_total",
                    {**labels, "code": "500"},
                    [(t, RATE * SHARE * (t - start)) for t in points],
                ),
                (
                    "http_requests_total",
                    {**labels, "code": "200"},
                    [(t, RATE * (1 - SHARE) * (t - start)) for t in points],
                ),
            ]
        },
    )
    prometheus_port, agent_port = free_port(), free_port()
    agent_url = f"http://127.0.0.1:{agent_port}"
    sloguard = Path(sys.executable).with_name("sloguard")
    retention = ("--storage.tsdb.retention.time=400d",)
    with running_prometheus(tmp_path, {}, [], retention, prometheus_port):
        agent = subprocess.Popen(
            [
                str(sloguard),
                "run",
                str(FIXTURES / "native"),
                "--prometheus",
                f"http://127.0.0.1:{prometheus_port}",
                "--interval",
                "1",
                "--listen",
                f"127.0.0.1:{agent_port}",
                "--query-timeout",
                "2",
                "--retries",
                "0",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: httpx.get(f"{agent_url}/readyz").status_code == 200, "readiness")
            [slo] = httpx.get(f"{agent_url}/v1/slos").json()
            assert slo["status"] == "ok" and slo["path"] == "raw"
            assert slo["sli"] == pytest.approx(1 - SHARE, rel=1e-3)
        except BaseException:
            agent.kill()
            raise
    try:
        wait_for(
            lambda: httpx.get(f"{agent_url}/readyz").status_code == 503, "not ready while down"
        )
        [slo] = httpx.get(f"{agent_url}/v1/slos").json()
        assert slo["status"] == "no_data"
        assert slo["reason"].startswith("query failed: cannot reach Prometheus")
        assert httpx.get(f"{agent_url}/healthz").status_code == 200  # up, just not ready
        with running_prometheus(tmp_path, {}, [], retention, prometheus_port):
            wait_for(lambda: httpx.get(f"{agent_url}/readyz").status_code == 200, "recovery")
            [slo] = httpx.get(f"{agent_url}/v1/slos").json()
            assert slo["status"] == "ok"
            metrics = httpx.get(f"{agent_url}/metrics").text
            assert 'sloguard_query_errors_total{reason="connection"}' in metrics
    finally:
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=20)
    # A graceful stop: uvicorn finishes, then re-raises SIGTERM as its exit status.
    assert agent.returncode in (0, -signal.SIGTERM), stderr
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    messages = {r["message"] for r in records}
    assert {"definitions loaded", "evaluated", "Application shutdown complete."} <= messages
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)


def test_an_agent_without_actions_carries_neither_scipy_nor_the_kubernetes_client(
    tmp_path: Path,
) -> None:
    build = f"""
import asyncio, sys
from pathlib import Path
from sloguard.assembly import Settings, assemble
from sloguard.sources.prometheus import PrometheusSettings
settings = Settings(paths=(Path({str(FIXTURES / "native")!r}),),
                    prometheus=PrometheusSettings("http://127.0.0.1:9"))
assembly = assemble(settings)
assembly.agent.reload()
print(sorted(m for m in ("kubernetes", "scipy") if m in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", build], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"  # with them, its imports weighed 105 MB, not 80
