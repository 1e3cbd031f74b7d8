"""An actor wired to the fake API through the real `kubernetes` client, with a saturation source
and a judge the tests control, an audit log in a temp dir and spans kept in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from sloguard.kube import Cluster, api_client
from sloguard.telemetry.metrics import ActionMetrics
from tests.support.actions import Rig
from tests.support.fakeapi import running_api


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    registry = CollectorRegistry()
    with running_api() as api:
        yield Rig(
            api,
            Cluster(api_client(api.kubeconfig(tmp_path))),
            registry,
            ActionMetrics(registry),
            spans,
            provider.get_tracer("test"),
            tmp_path / "audit.jsonl",
        )
