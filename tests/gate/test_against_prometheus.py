"""The gate against a real Prometheus holding canary and stable series (backfilled with
promtool, `tests.support.canaries`): a healthy canary passes, one with 5x the stable error rate
fails, one slower than stable on a latency SLO fails, one without traffic and a stopped
Prometheus are inconclusive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from sloguard.assembly import Settings, assemble
from sloguard.cli import main
from sloguard.gate.model import Verdict
from sloguard.gate.request import AnalysisRequest
from sloguard.sources.prometheus import PrometheusSettings
from tests.support.canaries import (
    CANARY_AGE,
    DEFINITION,
    RATE,
    STABLE,
    UNATTRIBUTED,
    canary_prometheus,
)
from tests.support.hostile import hostile_prometheus, huge, json_answer
from tests.support.realprom import Prometheus, free_port

pytestmark = pytest.mark.integration  # starts real processes or servers


@pytest.fixture(scope="module")
def end() -> int:
    import time

    return int(time.time()) // 60 * 60 - 60


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("defs") / "shop.yaml"
    path.write_text(DEFINITION, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, end: int) -> Iterator[Prometheus]:
    with canary_prometheus(tmp_path_factory.mktemp("gate"), end) as prom:
        yield prom


def ask(
    url: str, shop: Path, end: int, body: dict[str, Any], path: str = "/v1/analysis"
) -> tuple[int, dict[str, Any]]:
    """POST to an in-process server whose gate reads Prometheus at `url`."""

    async def once() -> httpx.Response:
        settings = Settings(
            paths=(shop,), prometheus=PrometheusSettings(url=url, retries=0, timeout_seconds=2)
        )
        assembly = assemble(settings, clock=lambda: float(end))
        assembly.agent.reload()
        try:
            transport = httpx.ASGITransport(app=assembly.app())
            async with httpx.AsyncClient(transport=transport, base_url="http://agent") as api:
                return await api.post(path, json=body)
        finally:
            await assembly.aclose()

    response = asyncio.run(once())
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def canary(version: str) -> dict[str, Any]:
    return {
        "service": "shop",
        "canary": {"rollouts_pod_template_hash": version},
        "baseline": f'{{rollouts_pod_template_hash="{STABLE}"}}',
    }


def slo(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in body["slos"] if s["slo"] == name)


def check(body: dict[str, Any], name: str, check_name: str) -> dict[str, Any]:
    return next(c for c in slo(body, name)["checks"] if c["name"] == check_name)


def test_a_healthy_canary_passes(prometheus: Prometheus, shop: Path, end: int) -> None:
    status, body = ask(prometheus.url, shop, end, canary("healthy"))
    assert status == 200
    assert body["verdict"] == "pass", body["reason"]
    evidence = check(body, "availability", "evidence")["values"]
    # Judged since the canary started: 20 one-minute intervals of 1,200 requests.
    assert evidence["samples"] in (20, 21)
    assert evidence["events"] == pytest.approx(RATE * CANARY_AGE, rel=0.06)
    assert check(body, "availability", "burn_rate")["values"]["burn_rate"] == pytest.approx(
        0.2, abs=0.08
    )
    assert check(body, "availability", "budget_policy")["verdict"] == "pass"


def test_a_canary_with_five_times_the_errors_fails(
    prometheus: Prometheus, shop: Path, end: int
) -> None:
    status, body = ask(prometheus.url, shop, end, canary("broken"))
    assert (status, body["verdict"]) == (200, "fail")
    comparison = check(body, "availability", "comparison")
    assert comparison["verdict"] == "fail"
    assert comparison["values"]["p_value"] < 0.001
    # Within the SLO (burn 1 < 14.4): only the comparison with stable catches it.
    assert check(body, "availability", "burn_rate")["verdict"] == "pass"
    assert slo(body, "latency")["verdict"] == "pass"
    assert body["reason"].startswith("availability: canary error ratio")


def test_a_slower_canary_fails_on_the_latency_slo(
    prometheus: Prometheus, shop: Path, end: int
) -> None:
    _, body = ask(prometheus.url, shop, end, canary("slow"))
    assert body["verdict"] == "fail"
    assert check(body, "latency", "comparison")["verdict"] == "fail"
    assert slo(body, "availability")["verdict"] == "pass"


@pytest.mark.parametrize(
    ("version", "extra", "label"),
    [("broken", {"code": "200"}, "code"), ("slow", {"le": ""}, "le")],
)
def test_a_matcher_on_a_label_the_slo_reads_is_refused_not_a_pass(
    prometheus: Prometheus, shop: Path, end: int, version: str, extra: dict[str, str], label: str
) -> None:
    # Injected into the SLI, `code="200"` empties the bad events of a canary failing 5x as
    # often as stable, and `le=""` the fast requests of a slow one: both read as clean.
    hostile = {**canary(version), "canary": {"rollouts_pod_template_hash": version, **extra}}
    status, body = ask(prometheus.url, shop, end, hostile)
    assert status == 400
    assert f"reads label {label!r} itself" in body["detail"]


@pytest.mark.parametrize(
    "chosen",
    [
        {"rollouts_pod_template_hash": "broken"},
        # Regexes Python's `re` and Prometheus's RE2 read differently (`x{,1}` is literal
        # text for RE2, `\B` matches "" only there): the check follows Prometheus.
        '{rollouts_pod_template_hash=~"broken|x{,1}"}',
        '{rollouts_pod_template_hash!~"5c9d7f6b4|healthy|slow|\\\\B"}',
    ],
)
def test_bad_events_that_no_version_label_tells_apart_are_never_a_pass(
    prometheus: Prometheus, tmp_path: Path, end: int, chosen: str | dict[str, str]
) -> None:
    # The broken canary's errors are counted by a series without the version label: a
    # selector by version removes them all, which would read as a clean canary.
    unattributed = tmp_path / "shop.yaml"
    unattributed.write_text(UNATTRIBUTED, encoding="utf-8")
    # No baseline: within its SLO on its own (burn 1), the broken canary would pass.
    status, body = ask(prometheus.url, unattributed, end, {"service": "shop", "canary": chosen})
    assert (status, body["verdict"]) == (200, "inconclusive")
    reason = slo(body, "availability")["reason"]
    assert "series without label(s) rollouts_pod_template_hash" in reason


def test_a_canary_without_traffic_is_inconclusive(
    prometheus: Prometheus, shop: Path, end: int
) -> None:
    _, body = ask(prometheus.url, shop, end, canary("not-deployed"))
    assert body["verdict"] == "inconclusive"
    assert slo(body, "availability")["reason"] == "no canary traffic in the analysis window"


def test_a_stopped_prometheus_is_inconclusive(shop: Path, end: int) -> None:
    status, body = ask(f"http://127.0.0.1:{free_port()}", shop, end, canary("healthy"))
    assert (status, body["verdict"]) == (200, Verdict.INCONCLUSIVE.value)
    assert "cannot reach Prometheus" in slo(body, "availability")["reason"]


@pytest.mark.parametrize(
    "answer",
    [
        lambda: json_answer(
            b'{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}'
        ),
        lambda: huge(64 * 2**20),
    ],
)
def test_a_garbled_or_oversized_answer_is_inconclusive_never_a_crash(
    shop: Path, end: int, answer: Any
) -> None:
    with hostile_prometheus(lambda _: answer()) as prom:
        status, body = ask(prom.url, shop, end, canary("healthy"))
    assert (status, body["verdict"]) == (200, "inconclusive")
    reason = slo(body, "availability")["reason"]
    assert "garbled answer" in reason or "over the 16 MiB cap" in reason


def test_injection_attempts_never_reach_prometheus(
    prometheus: Prometheus, shop: Path, end: int
) -> None:
    hostile = {**canary("healthy"), "canary": '{a="x"} or vector(1)'}
    status, body = ask(prometheus.url, shop, end, hostile)
    assert status == 400 and "expected label matchers only" in body["detail"]
    # A hostile value is just a value: it matches no series.
    quoted = {**canary("healthy"), "canary": {"rollouts_pod_template_hash": 'x"} or vector(1) #'}}
    status, body = ask(prometheus.url, shop, end, quoted)
    assert (status, body["verdict"]) == (200, "inconclusive")


def test_an_unknown_service_or_slo_is_a_404(prometheus: Prometheus, shop: Path, end: int) -> None:
    status, body = ask(prometheus.url, shop, end, {**canary("healthy"), "service": "nope"})
    assert status == 404 and "no SLOs are defined for 'nope'" in body["detail"]
    status, body = ask(prometheus.url, shop, end, {**canary("healthy"), "slos": ["speed"]})
    assert status == 404 and "it has availability, latency" in body["detail"]


def test_a_window_shorter_than_the_canary_judges_only_its_end(
    prometheus: Prometheus, shop: Path, end: int
) -> None:
    _, body = ask(prometheus.url, shop, end, {**canary("healthy"), "window": "10m"})
    assert check(body, "availability", "evidence")["values"]["samples"] in (10, 11)


def test_the_request_model_is_what_the_schema_says() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        AnalysisRequest.model_validate({**canary("x"), "window": "soon"})


def gate_command(tmp_path: Path, prometheus_url: str, *flags: str) -> Result:
    """`sloguard gate` on the `shop` definitions, in-process."""
    definitions = tmp_path / "shop.yaml"
    definitions.write_text(DEFINITION)
    args = ["gate", str(definitions), f"--prometheus={prometheus_url}", "--service=shop"]
    return CliRunner().invoke(main, [*args, *flags])


@pytest.mark.parametrize(
    ("version", "code", "verdict"),
    [("healthy", 0, "pass"), ("broken", 1, "fail"), ("not-deployed", 3, "inconclusive")],
)
def test_the_gate_command_exits_with_the_verdict(
    prometheus: Prometheus, tmp_path: Path, version: str, code: int, verdict: str
) -> None:
    result = gate_command(
        tmp_path,
        prometheus.url,
        f'--canary={{rollouts_pod_template_hash="{version}"}}',
        f'--baseline={{rollouts_pod_template_hash="{STABLE}"}}',
        "--output=json",
    )
    assert result.exit_code == code, result.output
    assert json.loads(result.stdout)["verdict"] == verdict


def test_the_gate_command_waits_while_inconclusive_then_says_so(tmp_path: Path) -> None:
    stopped = f"http://127.0.0.1:{free_port()}"
    result = gate_command(
        tmp_path, stopped, "--retries=0", '--canary={pod="x"}', "--wait=2", "--poll=1"
    )
    assert result.exit_code == 3
    assert result.stdout.startswith("INCONCLUSIVE: shop: availability: Prometheus: cannot reach")
    assert result.stderr.count("asking again in") >= 1


def test_the_gate_command_refuses_a_bad_selector(tmp_path: Path) -> None:
    result = gate_command(tmp_path, "http://127.0.0.1:1", "--canary=up or vector(1)")
    assert result.exit_code == 2
    assert "canary: expected label matchers only" in result.stderr
    result = gate_command(tmp_path, "http://127.0.0.1:1", '--canary={a="b"}', "--window=soon")
    assert result.exit_code == 2 and "window" in result.stderr


def flagger(version: str, **metadata: str) -> dict[str, Any]:
    """Flagger's webhook payload for the `shop` Canary."""
    selectors = {
        "service": "shop",
        "canary": f'{{rollouts_pod_template_hash="{version}"}}',
        "baseline": f'{{rollouts_pod_template_hash="{STABLE}"}}',
    }
    return {
        "name": "shop",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": {**selectors, **metadata},
    }


@pytest.mark.parametrize(
    ("version", "gate", "rollback", "verdict"),
    [
        ("healthy", 200, 412, "pass"),
        ("broken", 412, 200, "fail"),
        ("slow", 412, 200, "fail"),
        ("not-deployed", 412, 412, "inconclusive"),
    ],
)
def test_flagger_webhooks_answer_with_status_codes(
    prometheus: Prometheus,
    shop: Path,
    end: int,
    version: str,
    gate: int,
    rollback: int,
    verdict: str,
) -> None:
    status, body = ask(prometheus.url, shop, end, flagger(version), "/v1/flagger/gate")
    assert (status, body["verdict"], body["hook"]) == (gate, verdict, "gate")
    assert body["reason"]
    status, body = ask(prometheus.url, shop, end, flagger(version), "/v1/flagger/rollback")
    assert (status, body["verdict"], body["hook"]) == (rollback, verdict, "rollback")


def test_flagger_missing_data_never_triggers_a_rollback(shop: Path, end: int) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, body = ask(url, shop, end, flagger("healthy"), "/v1/flagger/rollback")
    assert (status, body["verdict"]) == (412, "inconclusive")


def test_flaggers_default_selectors_are_its_canary_and_primary_pods(
    prometheus: Prometheus, shop: Path, end: int
) -> None:
    # The backfilled series have no pod label: the defaults parse and run, and find nothing,
    # saying which labels the series lack.
    payload = {"name": "shop", "namespace": "test", "phase": "Progressing", "metadata": {}}
    status, body = ask(prometheus.url, shop, end, payload, "/v1/flagger/gate")
    assert (status, body["verdict"]) == (412, "inconclusive")
    assert "series without label(s) namespace,pod" in body["reason"]


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        ({"name": "shop", "namespace": 'x"} or vector(1)'}, 422, "pattern"),
        (
            {"name": "shop", "namespace": "test", "metadata": {"canary": "up"}},
            400,
            "canary: expected",
        ),
        ({"name": "nope", "namespace": "test"}, 404, "no SLOs are defined for 'nope'"),
    ],
)
def test_flagger_bad_payloads_are_refused(
    prometheus: Prometheus,
    shop: Path,
    end: int,
    payload: dict[str, Any],
    status: int,
    detail: str,
) -> None:
    got, body = ask(prometheus.url, shop, end, payload, "/v1/flagger/gate")
    assert got == status and detail in json.dumps(body)
