"""Synthetic traffic for the bundled definitions' SLIs, served by a prometheus-client exporter
and scraped by a real Prometheus that evaluates the generated rules (tests and the README's
dashboard picture share it)."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from sloguard import yamltext
from sloguard.loading import Loaded
from sloguard.rules.output import RuleFormat, render_rule_files
from tests.realprom import Prometheus, free_port, running_prometheus

JOBS = ("checkout", "catalog", "invoice-worker")


class Traffic:
    """Synthetic traffic for every SLI of the bundled definitions, ten ticks a second."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.http = Counter("http_requests", "HTTP requests.", ["code"], registry=registry)
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP latency.",
            buckets=(0.05, 0.1, 0.3, 1.0),
            registry=registry,
        )
        self.grpc = Counter(
            "grpc_server_handled", "gRPC calls.", ["grpc_method", "grpc_code"], registry=registry
        )
        self.grpc_latency = Histogram(
            "grpc_server_handling_seconds",
            "gRPC latency.",
            ["grpc_method"],
            buckets=(0.05, 0.1, 0.3, 1.0),
            registry=registry,
        )
        self.consumed = Counter("invoice_messages_consumed", "Consumed.", registry=registry)
        self.dead = Counter("invoice_messages_dead_lettered", "Dead-lettered.", registry=registry)
        self.lag = Gauge(
            "kafka_consumergroup_lag_seconds", "Lag.", ["consumergroup"], registry=registry
        )
        self.stop = threading.Event()
        self.random = random.Random(7)
        self.checkout_error_share = 0.01  # raise it to stage an incident

    def run(self) -> None:
        while not self.stop.wait(0.1):
            rnd = self.random
            errors = sum(rnd.random() < self.checkout_error_share for _ in range(10))
            self.http.labels("200").inc(10 - errors)
            self.http.labels("500").inc(errors)
            self.http_latency.observe(rnd.uniform(0.01, 0.35))
            for method in ("Search", "Get"):
                self.grpc.labels(method, "OK").inc(5)
                self.grpc.labels(method, "Internal").inc(rnd.choice([0, 0, 1]))
                self.grpc_latency.labels(method).observe(rnd.uniform(0.01, 0.12))
            self.consumed.inc(3)
            self.dead.inc(rnd.choice([0, 0, 0, 0, 1]))
            self.lag.labels("invoice-worker").set(rnd.choice([10, 10, 10, 400]))


@contextlib.contextmanager
def prometheus_with_traffic(
    loaded: Loaded, directory: Path, interval: str = "1s"
) -> Iterator[tuple[Prometheus, Traffic]]:
    """The rules of `loaded` (every group evaluated each `interval`, so minutes of data come in
    minutes) in a real Prometheus scraping synthetic traffic; everything stopped on exit."""
    rule_files = []
    for name, text in render_rule_files(
        loaded.services, loaded.sources, RuleFormat.PROMETHEUS
    ).items():
        document = yaml.safe_load(text)
        for group in document["groups"]:
            group["interval"] = interval
        path = directory / name
        path.write_text(yamltext.dump(document), encoding="utf-8")
        rule_files.append(path)
    registry = CollectorRegistry()
    traffic = Traffic(registry)
    port = free_port()
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    feeder = threading.Thread(target=traffic.run, daemon=True)
    feeder.start()
    try:
        jobs = {job: f"127.0.0.1:{port}" for job in JOBS}
        with running_prometheus(directory, jobs, rule_files) as prom:
            yield prom, traffic
    finally:
        traffic.stop.set()
        feeder.join()
        server.shutdown()
        server.server_close()
