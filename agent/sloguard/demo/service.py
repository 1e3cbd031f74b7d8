"""A synthetic service with every SLI of the bundled definitions, on prometheus-client.

Shares of bad events are exact (counters take fractions; slow requests carry their remainder
to the next tick), so what the demo stages is what the SLOs show.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

BUCKETS = (0.05, 0.1, 0.3, 1.0)
TICK_SECONDS = 0.1
STABLE = "stable"
CANARY_RATE = 10.0  # requests/s of each checkout canary, against 100 for stable


def demo_canaries() -> dict[str, tuple[float, float]]:
    """Two checkout canaries: one like stable, one with 5% of requests over 300ms (within its
    burn-rate limit, so only the comparison with stable catches it)."""
    return {"canary-good": (0.0003, 0.003), "canary-slow": (0.0003, 0.05)}


@dataclass
class Conditions:
    """What the service is going through; change it while it runs to stage an incident."""

    checkout_errors: float = 0.0003  # share of checkout requests failing (objective 99.9%)
    checkout_slow: float = 0.003  # share slower than 300ms (objective 99%)
    catalog_errors: float = 0.0001  # share of gRPC calls failing (objective 99.95%)
    search_slow: float = 0.001  # share of searches slower than 100ms (objective 99.5%)
    dead_letters: float = 0.001  # share of invoices dead-lettered (objective 99.5%)
    lagging: bool = False  # consumer lag above five minutes (freshness, objective 99%)
    # checkout canary versions: version -> (error share, slow share), each at CANARY_RATE
    canaries: Mapping[str, tuple[float, float]] = field(default_factory=demo_canaries)


class SyntheticService:
    """checkout (HTTP, 100 req/s from `version="stable"`, 10 from each canary), catalog (gRPC
    Search and Get, 50 calls/s each) and invoice-worker (30 messages/s, a consumer-lag gauge)."""

    def __init__(self, registry: CollectorRegistry, conditions: Conditions | None = None) -> None:
        self.conditions = conditions or Conditions()
        self._registry = registry
        self._requests = Counter(
            "http_requests", "HTTP requests.", ["code", "version"], registry=registry
        )
        self._latency = Histogram(
            "http_request_duration_seconds",
            "HTTP latency.",
            ["version"],
            buckets=BUCKETS,
            registry=registry,
        )
        self._calls = Counter(
            "grpc_server_handled", "gRPC calls.", ["grpc_method", "grpc_code"], registry=registry
        )
        self._call_latency = Histogram(
            "grpc_server_handling_seconds",
            "gRPC latency.",
            ["grpc_method"],
            buckets=BUCKETS,
            registry=registry,
        )
        self._consumed = Counter("invoice_messages_consumed", "Consumed.", registry=registry)
        self._dead = Counter("invoice_messages_dead_lettered", "Dead-lettered.", registry=registry)
        self._lag = Gauge(
            "kafka_consumergroup_lag_seconds", "Consumer lag.", ["consumergroup"], registry=registry
        )
        self._carry: dict[str, float] = {}
        self._stop = threading.Event()
        self._server: WSGIServer | None = None

    def tick(self, seconds: float = TICK_SECONDS) -> None:
        """Add `seconds` worth of traffic under the current conditions."""
        c = self.conditions
        versions = {STABLE: (100.0, c.checkout_errors, c.checkout_slow)}
        versions.update({v: (CANARY_RATE, e, s) for v, (e, s) in c.canaries.items()})
        for version, (rate, errors, slow) in versions.items():
            requests = rate * seconds
            self._requests.labels("500", version).inc(requests * errors)
            self._requests.labels("200", version).inc(requests * (1 - errors))
            latency = self._latency.labels(version)
            self._observe(latency, f"checkout/{version}", requests, slow, 0.05, 0.5)
        for method in ("Search", "Get"):
            calls = 50 * seconds
            self._calls.labels(method, "Internal").inc(calls * c.catalog_errors)
            self._calls.labels(method, "OK").inc(calls * (1 - c.catalog_errors))
            slow = c.search_slow if method == "Search" else 0.0
            self._observe(self._call_latency.labels(method), method, calls, slow, 0.02, 0.2)
        messages = 30 * seconds
        self._consumed.inc(messages)
        self._dead.inc(messages * c.dead_letters)
        self._lag.labels("invoice-worker").set(420 if c.lagging else 12)

    def _observe(
        self,
        histogram: Histogram,
        key: str,
        count: float,
        slow: float,
        fast_s: float,
        slow_s: float,
    ) -> None:
        """Observe `count` requests (carrying fractions over), a `slow` share of them slow."""
        for kind, share, value in (("fast", 1 - slow, fast_s), ("slow", slow, slow_s)):
            pending = self._carry.get(f"{key}/{kind}", 0.0) + count * share
            whole = int(pending)
            self._carry[f"{key}/{kind}"] = pending - whole
            for _ in range(whole):
                histogram.observe(value)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Expose the metrics and keep traffic flowing until `stop`; returns the port."""
        server, _ = start_http_server(port, addr=host, registry=self._registry)
        self._server = server
        threading.Thread(target=self._run, daemon=True, name="synthetic-traffic").start()
        return int(server.server_address[1])

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.tick()
