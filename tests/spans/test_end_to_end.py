"""End to end: an application's spans (the real OpenTelemetry SDK) reach `sloguard run`, a real
Prometheus scrapes the agent's counters and evaluates the generated rules, and `sloguard
evaluate` reports the trace SLOs like any other."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from sloguard.cli import main
from sloguard.demo.prometheus import write_rules
from sloguard.loading import load
from tests.support.canaries import running_agent
from tests.support.realprom import free_port, running_prometheus
from tests.support.spans import DEFINITION, provider_for

pytestmark = pytest.mark.integration  # starts real processes or servers


def traffic(url: str, stop: threading.Event) -> None:
    """10 POST /pay spans a second, one of them failed, all fast."""
    provider = provider_for(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"), schedule_delay_millis=200)
    )
    tracer = provider.get_tracer("shop")
    while not stop.wait(0.1):
        for error in (False,) * 9 + (True,):
            span = tracer.start_span("POST /pay", kind=SpanKind.SERVER)
            if error:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        stop.wait(0.9)
    provider.shutdown()


def evaluated(definitions: Path, prometheus_url: str) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(
        main, ["evaluate", str(definitions), f"--prometheus={prometheus_url}", "--output=json"]
    )
    return {e["slo"]: e for e in json.loads(result.stdout)}


def test_spans_become_slos_that_prometheus_records_and_evaluate_reports(tmp_path: Path) -> None:
    definitions = tmp_path / "defs"
    definitions.mkdir()
    (definitions / "checkout.yaml").write_text(DEFINITION)
    rule_files = write_rules(tmp_path, load([definitions]), "1s")
    agent_port, prometheus_port = free_port(), free_port()
    targets = {"sloguard": f"127.0.0.1:{agent_port}"}
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    with (
        running_prometheus(tmp_path, targets, rule_files, port=prometheus_port),
        running_agent(definitions, prometheus_url, "t", port=agent_port) as (url, _),
    ):
        stop = threading.Event()
        sender = threading.Thread(target=traffic, args=(url, stop))
        sender.start()
        try:
            deadline = time.monotonic() + 60
            while True:
                found = evaluated(definitions, prometheus_url)
                if all(e["sli"] is not None for e in found.values()):
                    break
                assert time.monotonic() < deadline, found
                time.sleep(1)
        finally:
            stop.set()
            sender.join()
    availability, latency = found["pay-availability"], found["pay-latency"]
    assert abs(availability["sli"] - 0.9) < 0.03
    assert availability["status"] in {"critical", "exhausted"}
    assert latency["sli"] == 1.0 and latency["status"] == "ok"
