"""sloguard on VictoriaMetrics (Debian's `victoria-metrics`, started on loopback): vmalert
accepts every generated rule, and the evaluation and the gate read its Prometheus API as they
read Prometheus's."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloguard.assembly import Settings, assemble
from sloguard.sources.prometheus import PrometheusSettings
from tests.support.canaries import CANARY_AGE, DEFINITION, RATE, STABLE, history
from tests.support.realprom import backfill, running_prometheus
from tests.support.repo import REPO
from tests.support.victoria import import_history, running_victoria

pytestmark = pytest.mark.integration  # starts VictoriaMetrics, vmalert and Prometheus


def dry_run(pattern: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["vmalert", "-dryRun", f"-rule={pattern}"], capture_output=True, text=True, timeout=60
    )


def test_vmalert_accepts_every_generated_rule(tmp_path: Path) -> None:
    files = sorted((REPO / "alert-rules").glob("*.yml"))
    assert files
    checked = dry_run(str(REPO / "alert-rules" / "*.yml"))
    assert checked.returncode == 0, checked.stdout[-2000:]
    # The check can fail: a rule MetricsQL cannot parse is refused.
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(rate(x[5m])\n")
    refused = dry_run(str(broken))
    assert refused.returncode != 0 and "invalid expression" in refused.stdout + refused.stderr


@pytest.fixture(scope="module")
def end() -> int:
    return int(time.time()) // 60 * 60 - 60


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("defs") / "shop.yaml"
    path.write_text(DEFINITION, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def victoria(tmp_path_factory: pytest.TempPathFactory, end: int) -> Any:
    with running_victoria(tmp_path_factory.mktemp("victoria")) as url:
        import_history(url, history(end))
        yield url


def ask(url: str, shop: Path, end: int, version: str) -> dict[str, Any]:
    body = {
        "service": "shop",
        "canary": {"rollouts_pod_template_hash": version},
        "baseline": f'{{rollouts_pod_template_hash="{STABLE}"}}',
    }

    async def once() -> dict[str, Any]:
        settings = Settings(paths=(shop,), prometheus=PrometheusSettings(url=url, retries=0))
        assembly = assemble(settings, clock=lambda: float(end))
        assembly.agent.reload()
        try:
            transport = httpx.ASGITransport(app=assembly.app())
            async with httpx.AsyncClient(transport=transport, base_url="http://agent") as api:
                answer = await api.post("/v1/analysis", json=body)
                assert answer.status_code == 200
                return dict(answer.json())
        finally:
            await assembly.aclose()

    return asyncio.run(once())


def check(body: dict[str, Any], slo: str, name: str) -> dict[str, Any]:
    found = next(s for s in body["slos"] if s["slo"] == slo)
    return dict(next(c for c in found["checks"] if c["name"] == name))


def test_the_gate_passes_a_healthy_canary_fails_a_broken_one_and_waits_on_none_on_victoria(
    victoria: str, shop: Path, end: int
) -> None:
    healthy = ask(victoria, shop, end, "healthy")
    assert healthy["verdict"] == "pass", healthy["reason"]
    evidence = check(healthy, "availability", "evidence")["values"]
    assert evidence["events"] == pytest.approx(RATE * CANARY_AGE, rel=0.06)
    broken = ask(victoria, shop, end, "broken")
    assert broken["verdict"] == "fail"
    assert check(broken, "availability", "comparison")["verdict"] == "fail"
    slow = ask(victoria, shop, end, "slow")
    assert slow["verdict"] == "fail" and check(slow, "latency", "comparison")["verdict"] == "fail"
    # No series at all is no evidence: never a pass.
    absent = ask(victoria, shop, end, "not-deployed")
    assert absent["verdict"] == "inconclusive"
    found = next(s for s in absent["slos"] if s["slo"] == "availability")
    assert found["reason"] == "no canary traffic in the analysis window"


def evaluations(url: str, shop: Path, end: int) -> dict[str, Any]:
    async def once() -> dict[str, Any]:
        settings = Settings(paths=(shop,), prometheus=PrometheusSettings(url=url, retries=0))
        assembly = assemble(settings, clock=lambda: float(end))
        try:
            return {e.slo: e for e in await assembly.agent.cycle()}
        finally:
            await assembly.aclose()

    return asyncio.run(once())


def stable_only(end: int) -> dict[str, list[Any]]:
    """The history of the stable version alone: every series spans the whole of it."""
    return {
        family: [s for s in series if s[1].get("rollouts_pod_template_hash") == STABLE]
        for family, series in history(end).items()
    }


def test_the_evaluation_reads_the_same_figures_from_victoria_metrics_as_from_prometheus(
    shop: Path, end: int, tmp_path: Path
) -> None:
    # Every series spans the window: the engines' rates agree (see
    # test_series_born_inside_the_window_are_counted_alike_on_both_engines for the others).
    (tmp_path / "prometheus").mkdir()
    backfill(tmp_path / "prometheus", stable_only(end))
    with running_prometheus(
        tmp_path / "prometheus", {}, [], ("--storage.tsdb.retention.time=400d",)
    ) as prom:
        expected = evaluations(prom.url, shop, end)
    (tmp_path / "victoria").mkdir()
    with running_victoria(tmp_path / "victoria") as victoria:
        import_history(victoria, stable_only(end))
        found = evaluations(victoria, shop, end)
    assert set(found) == set(expected) == {"availability", "latency"}
    for name, evaluation in found.items():
        other = expected[name]
        assert evaluation.status == other.status and evaluation.prometheus == victoria
        assert evaluation.sli == pytest.approx(other.sli, abs=1e-4)
        assert evaluation.error_budget_remaining == pytest.approx(
            other.error_budget_remaining, abs=0.02
        )
        for window, rate in other.burn_rates.items():
            assert evaluation.burn_rates[window] == pytest.approx(rate, rel=0.1, abs=0.02), window


def test_series_born_inside_the_window_are_counted_alike_on_both_engines(
    victoria: str, shop: Path, end: int, tmp_path: Path
) -> None:
    """MetricsQL's `rate` divides a series' increase by the time its samples cover, where
    PromQL's divides by the window: summed over a stable that served two hours and canaries
    born 20 minutes ago, a 30d SLI of `sum(rate(errors[30d])) / sum(rate(total[30d]))` weighs
    the canaries six times over on VictoriaMetrics. The agent reads the rates of its raw path as
    increases over the window's seconds, which give the ratio of the counts on both."""
    counted = history(end)["http_requests_total"]
    errors = sum(s[2][-1][1] for s in counted if s[1]["code"] == "500")
    truth = 1 - errors / sum(s[2][-1][1] for s in counted)
    backfill(tmp_path, history(end))
    with running_prometheus(tmp_path, {}, [], ("--storage.tsdb.retention.time=400d",)) as prom:
        on_prometheus = evaluations(prom.url, shop, end)["availability"].sli
    on_victoria = evaluations(victoria, shop, end)["availability"].sli
    assert on_prometheus == pytest.approx(truth, abs=2e-5)
    assert on_victoria == pytest.approx(truth, abs=2e-5)
    # MetricsQL's own rate, as the SLI is written, is off: the broken canary's errors counted
    # six times over.
    written = (
        'sum(rate(http_requests_total{job="shop",code="500"}[30d])) '
        '/ sum(rate(http_requests_total{job="shop"}[30d]))'
    )
    answer = httpx.get(f"{victoria}/api/v1/query", params={"query": written, "time": str(end)})
    assert 1 - float(answer.json()["data"]["result"][0]["value"][1]) < truth - 5e-4
