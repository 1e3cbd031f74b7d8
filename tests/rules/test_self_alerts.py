"""The alerts on the agent itself (alert-rules/sloguard-self.rules.yml): each fires on what it
watches and stays silent on a healthy agent (promtool), and reads only metrics the agent
exports."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from sloguard.telemetry.metrics import ActionMetrics, AgentMetrics, GateMetrics, TraceMetrics
from tests.support.repo import REPO
from tests.support.running import run_promtool_test

pytestmark = pytest.mark.integration  # starts real processes or servers

RULES = REPO / "alert-rules" / "sloguard-self.rules.yml"
UP = 'up{job="sloguard",instance="a"}'
TICKET = {"severity": "ticket", "sloguard_severity": "ticket"}
LABEL = re.compile(r"\{\{ \$labels\.(\w+) \}\}")  # how the summaries name a label

# alert -> (input series, minute to look at, labels of the alert expected then (beyond TICKET's))
FIRING: dict[str, tuple[list[dict[str, str]], int, dict[str, str]]] = {
    "SloguardDown": (
        [{"series": UP, "values": "0x20"}],
        10,
        {
            "job": "sloguard",
            "instance": "a",
            "service": "sloguard",
            "severity": "page",
            "sloguard_severity": "page",
        },
    ),
    "SloguardEvaluationStale": (
        [
            {
                "series": 'sloguard_last_successful_evaluation_timestamp_seconds{job="sloguard",instance="a"}',
                "values": "0x30",
            }
        ],
        15,
        {"job": "sloguard", "instance": "a", "service": "sloguard"},
    ),
    "SloguardPrometheusUnreachable": (
        [
            {
                "series": 'sloguard_query_errors_total{job="sloguard",instance="a",reason="connection"}',
                "values": "0+6x30",
            }
        ],
        20,
        {"instance": "a", "reason": "connection", "service": "sloguard"},
    ),
    "SloguardQueryRejected": (
        [
            {
                "series": 'sloguard_query_errors_total{job="sloguard",instance="a",reason="rejected"}',
                "values": "0 0 0 1 1 1 1 1 1 1",
            }
        ],
        5,
        {"job": "sloguard", "instance": "a", "reason": "rejected", "service": "sloguard"},
    ),
    "SloguardDefinitionsNotReloaded": (
        [
            {
                "series": 'sloguard_definition_reload_errors_total{job="sloguard",instance="a"}',
                "values": "0 0 1 1 1 1 1 1",
            }
        ],
        5,
        {"job": "sloguard", "instance": "a", "service": "sloguard"},
    ),
    "SloguardGateMostlyInconclusive": (
        [
            {
                "series": 'sloguard_gate_decisions_total{job="sloguard",service="shop",verdict="inconclusive"}',
                "values": "0+10x90",
            },
            {
                "series": 'sloguard_gate_decisions_total{job="sloguard",service="shop",verdict="pass"}',
                "values": "0+1x90",
            },
        ],
        75,
        {"service": "shop"},
    ),
    "SloguardActionFailed": (
        [
            {
                "series": 'sloguard_actions_total{job="sloguard",action="undo",mode="enforce",result="failed"}',
                "values": "0 0 1 1 1 1",
            }
        ],
        4,
        {
            "job": "sloguard",
            "action": "undo",
            "mode": "enforce",
            "result": "failed",
            "service": "sloguard",
        },
    ),
    "SloguardAuditSinkFailing": (
        [
            {
                "series": 'sloguard_audit_errors_total{job="sloguard",instance="a",sink="alert"}',
                "values": "0 0 2 2 2 2",
            }
        ],
        4,
        {"job": "sloguard", "instance": "a", "sink": "alert", "service": "sloguard"},
    ),
    "SloguardSpansDropped": (
        [
            {
                "series": 'sloguard_trace_spans_dropped_total{job="sloguard",instance="a",reason="cardinality"}',
                "values": "0 0 50 50 50 50",
            }
        ],
        4,
        {"instance": "a", "reason": "cardinality", "service": "sloguard"},
    ),
}

# A healthy agent: scraped, evaluating cleanly, no errors anywhere, the gate passing.
HEALTHY = [
    {"series": UP, "values": "1x90"},
    {
        "series": 'sloguard_last_successful_evaluation_timestamp_seconds{job="sloguard",instance="a"}',
        "values": "0+60x90",
    },
    {
        "series": 'sloguard_query_errors_total{job="sloguard",instance="a",reason="connection"}',
        "values": "0x90",
    },
    {
        "series": 'sloguard_gate_decisions_total{job="sloguard",service="shop",verdict="pass"}',
        "values": "0+10x90",
    },
]


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def run(tmp_path: Path, series: list[dict[str, str]], alerts: list[dict[str, Any]]) -> None:
    shutil.copy(RULES, tmp_path / RULES.name)
    document = {
        "rule_files": [RULES.name],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": alerts}],
    }
    done = run_promtool_test(tmp_path, document)
    assert done.ok, done.output


@pytest.mark.parametrize("alert", sorted(FIRING))
def test_each_alert_fires_on_what_it_watches(alert: str, tmp_path: Path) -> None:
    series, minute, labels = FIRING[alert]
    expected = {**TICKET, **labels}
    [rule] = [r for r in rules() if r["alert"] == alert]
    summary = re.sub(LABEL, lambda m: expected[m[1]], rule["annotations"]["summary"])
    expected_alert = {"exp_labels": expected, "exp_annotations": {"summary": summary}}
    run(
        tmp_path,
        series,
        [{"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": [expected_alert]}],
    )


def test_a_healthy_agent_raises_none(tmp_path: Path) -> None:
    silent = [
        {"eval_time": f"{minute}m", "alertname": rule["alert"], "exp_alerts": []}
        for rule in rules()
        for minute in (10, 45, 85)
    ]
    run(tmp_path, HEALTHY, silent)


def test_every_metric_they_read_is_one_the_agent_exports() -> None:
    registry = CollectorRegistry()
    AgentMetrics(registry, list)
    GateMetrics(registry)
    ActionMetrics(registry)
    TraceMetrics(registry)
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    exported = {
        family.name + suffix
        for family in registry.collect()
        for suffix in suffixes.get(family.type, [""])
    }
    read = {name for rule in rules() for name in re.findall(r"\b(sloguard_\w+)", rule["expr"])}
    assert read, "the rules read no sloguard metric"
    assert read <= exported, sorted(read - exported)
