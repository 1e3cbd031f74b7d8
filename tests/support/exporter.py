"""A service's request counters served for scraping: `requests_total{code}` growing at `rate`
a second since it started, `failing` of them with code 500. Computed from the clock at each
scrape, so ratios are exact however the scrapes fall."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class Requests(Collector):
    def __init__(self, rate: float, failing: float) -> None:
        self.started = time.monotonic()
        self.rate = rate
        self.failing = failing

    def collect(self) -> Iterator[CounterMetricFamily]:
        served = self.rate * (time.monotonic() - self.started)
        family = CounterMetricFamily("requests", "Requests served.", labels=["code"])
        family.add_metric(["200"], served * (1 - self.failing))
        family.add_metric(["500"], served * self.failing)
        yield family


@contextlib.contextmanager
def exporter(rate: float, failing: float) -> Iterator[str]:
    """The counters on 127.0.0.1; yields host:port."""
    registry = CollectorRegistry()
    registry.register(Requests(rate, failing))
    server, thread = start_http_server(0, "127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
