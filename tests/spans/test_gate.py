"""The promotion gate judges trace SLIs too: canary and stable are told apart by the `version`
the receiver records (a resource attribute), over a real Prometheus holding span counters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from sloguard.cli import main
from sloguard.spec.model import ServiceSLOs
from tests.support.realprom import Prometheus, Series, backfill, running_prometheus

pytestmark = pytest.mark.integration  # starts real processes or servers

DEFINITION = """\
service: checkout
slos:
  - name: pay-availability
    objective: 99
    sli:
      traces: {service: checkout, span: {name: POST /pay, kind: SERVER}}
    gate: {window: 30m}
"""
# version -> share of failed spans; canaries started 20 minutes before the end
VERSIONS = {"2.4.0": 0.002, "healthy": 0.002, "broken": 0.010}
RATE, SCRAPE, HISTORY, CANARY_AGE = 20.0, 15, 7200, 1200


def history(end: int) -> dict[str, list[Series]]:
    spec = ServiceSLOs.model_validate(yaml.safe_load(DEFINITION))
    traces = spec.slos[0].sli.traces
    assert traces is not None
    rng = np.random.default_rng(7)
    series: list[Series] = []
    for version, share in VERSIONS.items():
        times = list(range(end - (HISTORY if version == "2.4.0" else CANARY_AGE), end + 1, SCRAPE))
        bad = np.cumsum(rng.poisson(RATE * SCRAPE * share, len(times)))
        good = RATE * SCRAPE * np.arange(1, len(times) + 1) - bad
        labels = {
            "service": "checkout",
            "span": "POST /pay",
            "sli": traces.key,
            "version": version,
            "job": "sloguard",
        }
        for outcome, values in (("good", good), ("bad", bad)):
            points = list(zip(times, values.tolist(), strict=True))
            series.append(("sloguard_trace_events_total", {**labels, "outcome": outcome}, points))
    return {"sloguard_trace_events_total": series}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("traces-gate")
    backfill(directory, history(int(time.time()) // 60 * 60 - 60))
    with running_prometheus(directory, {}, [], ("--storage.tsdb.retention.time=400d",)) as prom:
        yield prom


@pytest.mark.parametrize(
    ("version", "code", "verdict"),
    [("healthy", 0, "pass"), ("broken", 1, "fail"), ("not-deployed", 3, "inconclusive")],
)
def test_the_gate_compares_canary_spans_with_stable(
    prometheus: Prometheus, tmp_path: Path, version: str, code: int, verdict: str
) -> None:
    definitions = tmp_path / "checkout.yaml"
    definitions.write_text(DEFINITION)
    args = ["gate", str(definitions), f"--prometheus={prometheus.url}", "--service=checkout"]
    flags = [f'--canary={{version="{version}"}}', '--baseline={version="2.4.0"}', "--output=json"]
    result = CliRunner().invoke(main, [*args, *flags])
    assert result.exit_code == code, result.output
    assert json.loads(result.stdout)["verdict"] == verdict
