"""The demo's synthetic service scraped by a real Prometheus that evaluates the generated rules
(tests and the README's dashboard picture share it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry

from sloguard.demo.prometheus import write_rules
from sloguard.demo.service import SyntheticService
from sloguard.loading import Loaded
from tests.support.realprom import Prometheus, running_prometheus

JOBS = ("checkout", "catalog", "invoice-worker")


@contextlib.contextmanager
def prometheus_with_traffic(
    loaded: Loaded, directory: Path, interval: str = "1s"
) -> Iterator[tuple[Prometheus, SyntheticService]]:
    """The rules of `loaded` (every group evaluated each `interval`, so minutes of data come in
    minutes) in a real Prometheus scraping synthetic traffic; everything stopped on exit."""
    rule_files = write_rules(directory, loaded, interval)
    service = SyntheticService(CollectorRegistry())
    port = service.serve()
    try:
        jobs = {job: f"127.0.0.1:{port}" for job in JOBS}
        with running_prometheus(directory, jobs, rule_files) as prom:
            yield prom, service
    finally:
        service.stop()
