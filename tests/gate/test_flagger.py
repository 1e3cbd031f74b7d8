"""Flagger's payload as a gate request, the status codes it reads, and the shipped manifests."""

from __future__ import annotations

from typing import Any

import promql_parser
import pytest
import yaml
from pydantic import ValidationError

from sloguard import promql
from sloguard.errors import RequestError
from sloguard.gate.flagger import FlaggerPayload, Hook, analysis_request, status
from sloguard.gate.model import Verdict
from sloguard.gate.selection import selector
from tests.support.repo import REPO

FLAGGER = REPO / "deploy" / "flagger"


def test_the_defaults_select_flaggers_canary_and_primary_pods() -> None:
    request = analysis_request(FlaggerPayload(name="podinfo", namespace="test"))
    assert request.service == "podinfo"
    canary = selector(request.canary)
    assert str(canary) == '{namespace="test",pod=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}'
    assert request.baseline is not None
    assert "podinfo-primary-" in str(selector(request.baseline))


def test_metadata_overrides_the_defaults() -> None:
    payload = FlaggerPayload(
        name="podinfo",
        namespace="test",
        metadata={
            "service": "checkout",
            "canary": '{version="2"}',
            "baseline": '{version="1"}',
            "slos": "availability, latency",
            "window": "15m",
            "token": "t",
        },
    )
    request = analysis_request(payload)
    assert (request.service, request.slos, request.window) == (
        "checkout",
        ["availability", "latency"],
        "15m",
    )
    assert (request.canary, request.baseline) == ('{version="2"}', '{version="1"}')


@pytest.mark.parametrize("name", ["web.v2", "Web", "-web", "x" * 64, 'a"} or vector(1)'])
def test_names_are_dns_labels(name: str) -> None:
    with pytest.raises(ValidationError):
        FlaggerPayload(name=name, namespace="test")


def test_bad_metadata_is_a_request_error() -> None:
    with pytest.raises(RequestError, match=r"metadata\.window: 'soon' is not a duration"):
        analysis_request(FlaggerPayload(name="x", namespace="y", metadata={"window": "soon"}))


@pytest.mark.parametrize(
    ("hook", "verdict", "code"),
    [
        (Hook.GATE, Verdict.PASS, 200),
        (Hook.GATE, Verdict.FAIL, 412),
        (Hook.GATE, Verdict.INCONCLUSIVE, 412),
        (Hook.ROLLBACK, Verdict.FAIL, 200),
        (Hook.ROLLBACK, Verdict.PASS, 412),
        (Hook.ROLLBACK, Verdict.INCONCLUSIVE, 412),
    ],
)
def test_status_codes_follow_flaggers_meaning(hook: Hook, verdict: Verdict, code: int) -> None:
    assert status(hook, verdict) == code


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((FLAGGER / name).read_text()) if d]


def test_the_example_canary_calls_the_gate_and_the_rollback_hook() -> None:
    [canary] = documents("canary.yaml")
    hooks = {h["type"]: h for h in canary["spec"]["analysis"]["webhooks"]}
    assert hooks["confirm-promotion"]["url"].endswith("/v1/flagger/gate")
    assert hooks["rollback"]["url"].endswith("/v1/flagger/rollback")
    for hook in hooks.values():
        payload = FlaggerPayload(name="checkout", namespace="shop", metadata=hook["metadata"])
        assert analysis_request(payload).service == "checkout"
        # Flagger's hook timeout must outlast sloguard's 5 s time budget.
        assert int(hook["timeout"].removesuffix("s")) > 5


def test_the_metric_template_reads_a_series_the_rules_record() -> None:
    [template] = documents("metric-template.yaml")
    query = template["spec"]["query"].replace("{{ target }}", "checkout")
    parsed = promql_parser.parse(query)
    assert isinstance(parsed, promql_parser.AggregateExpr)
    assert parsed.expr.name == promql.burn_rate_metric("5m")
