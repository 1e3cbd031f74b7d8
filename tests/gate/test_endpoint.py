"""POST /v1/analysis in-process: authentication, body cap, JSON on every error, the OpenAPI
schema, shared answers for identical requests, and the time budget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.assembly import GateAuthSettings
from sloguard.errors import SourceUnavailable
from sloguard.evaluation.readings import Sample
from sloguard.gate.request import AnalysisRequest
from sloguard.gating import CACHE_PRUNE_SIZE, Gatekeeper, GateSettings
from sloguard.spec.model import Definitions, ServiceSLOs
from sloguard.telemetry.metrics import GateMetrics
from tests.support.fakes import Clock
from tests.support.gate import REQUEST, Counting, app_for, definitions
from tests.support.repo import FIXTURES


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The shop's definitions, in a file the agent reads (and re-reads when it changes)."""
    path = tmp_path / "shop.yaml"
    path.write_text((FIXTURES / "native" / "shop.yaml").read_text(), encoding="utf-8")
    return path


def post(http: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
    return asyncio.run(http.post("/v1/analysis", **kwargs))


def test_the_token_is_required_when_configured(shop: Path, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    http, _ = app_for(shop, Counting(), GateAuthSettings(token_file=secret))
    assert post(http, json=REQUEST).status_code == 401
    wrong = post(http, json=REQUEST, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "a valid bearer token is required"
    assert wrong.headers["www-authenticate"] == "Bearer"
    ok = post(http, json=REQUEST, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["verdict"] == "inconclusive"
    secret.write_text("rotated-token\n")  # a rotated Secret takes effect without a restart
    assert post(http, json=REQUEST, headers={"Authorization": "Bearer s3cret"}).status_code == 401
    rotated = post(http, json=REQUEST, headers={"Authorization": "bearer rotated-token"})
    assert rotated.status_code == 200


def test_bodies_over_64_kib_are_refused_with_json(shop: Path) -> None:
    http, _ = app_for(shop, Counting())
    big = {**REQUEST, "window": "1h" + " " * 70_000}
    response = post(http, json=big)
    assert response.status_code == 413
    assert response.json() == {"detail": "request body over the 64 KiB limit"}

    async def streamed() -> httpx.Response:
        async def chunks() -> Any:
            for _ in range(100):
                yield b" " * 1024

        return await http.post("/v1/analysis", content=chunks())

    assert asyncio.run(streamed()).status_code == 413


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b'{"service": "shop"}', 422),
        (b'{"service": "shop", "canary": {"a": "b"}, "extra": 1}', 422),
        (b'{"service": "shop", "canary": "{a=\\"b\\"} or vector(1)"}', 400),
    ],
)
def test_bad_requests_get_a_json_4xx(shop: Path, body: bytes, status: int) -> None:
    http, _ = app_for(shop, Counting())
    response = post(http, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()


UNENCODABLE = [
    b'{"service": 1e999, "canary": {"a": "b"}}',
    b'{"service": NaN, "canary": {"a": "b"}}',
    b'{"service": "\\ud800", "canary": {"a": "b"}}',
    b'{"service": "shop", "canary": {"a": "b"}, "window": "\\udfff"}',
    b'{"service": "shop", "canary": {"a": Infinity}}',
]


@pytest.mark.parametrize("body", UNENCODABLE)
@pytest.mark.parametrize("path", ["/v1/analysis", "/v1/flagger/gate", "/v1/flagger/rollback"])
def test_input_json_cannot_carry_back_is_a_4xx_that_encodes(
    shop: Path, body: bytes, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    http, _ = app_for(shop, Counting())
    if path != "/v1/analysis":  # as a Flagger payload
        body = body.replace(b'"service"', b'"namespace": "x", "name"')
    response = asyncio.run(http.post(path, content=body, headers={"content-type": "json"}))
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content)["detail"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize("body", [*UNENCODABLE, b"{not json", b"[" * 40_000 + b"]" * 20_000])
@pytest.mark.parametrize("path", ["/v1/analysis", "/v1/flagger/gate"])
def test_a_caller_without_the_token_is_refused_before_its_body_is_read(
    shop: Path, body: bytes, path: str
) -> None:
    http, _ = app_for(shop, Counting(), GateAuthSettings(token="s3cret"))
    headers = {"content-type": "application/json"}
    response = asyncio.run(http.post(path, content=body, headers=headers))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("a valid bearer token is required")


def test_flaggers_token_travels_in_the_metadata(shop: Path) -> None:
    http, _ = app_for(shop, Counting(), GateAuthSettings(token="s3cret"))
    payload: dict[str, Any] = {"name": "shop", "namespace": "test", "metadata": {}}

    def gate(token: object) -> int:
        payload["metadata"] = {"token": token}
        return asyncio.run(http.post("/v1/flagger/gate", json=payload)).status_code

    assert (gate("nope"), gate(["s3cret"]), gate("s3cret")) == (401, 401, 412)


def test_a_crash_is_a_json_500(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any) -> Any:
        raise RuntimeError("definitions vanished")

    http, _ = app_for(shop, Counting())
    monkeypatch.setattr(Gatekeeper, "analyse", broken)
    response = post(http, json=REQUEST)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error: RuntimeError"}


def test_the_openapi_schema_describes_the_gate(shop: Path) -> None:
    http, _ = app_for(shop, Counting())
    schema = asyncio.run(http.get("/openapi.json")).json()
    operation = schema["paths"]["/v1/analysis"]["post"]
    assert {"200", "400", "401", "404", "413", "422"} <= operation["responses"].keys()
    verdict = schema["components"]["schemas"]["Verdict"]
    assert verdict["enum"] == ["pass", "fail", "inconclusive"]
    assert "security" not in operation  # no token configured: anyone may ask
    # No Swagger UI or ReDoc: their pages load scripts from a CDN.
    assert [asyncio.run(http.get(p)).status_code for p in ("/docs", "/redoc")] == [404, 404]
    guarded, _ = app_for(shop, Counting(), GateAuthSettings(token="s3cret"))
    schema = asyncio.run(guarded.get("/openapi.json")).json()
    assert schema["paths"]["/v1/analysis"]["post"]["security"] == [{"bearer": []}]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_identical_requests_share_one_reading(shop: Path) -> None:
    source = Counting(delay=0.2)
    clock = Clock()
    http, assembly = app_for(shop, source, clock=clock)
    registry = assembly.registry

    async def burst() -> list[httpx.Response]:
        return await asyncio.gather(*(http.post("/v1/analysis", json=REQUEST) for _ in range(20)))

    responses = asyncio.run(burst())
    # Inconclusive: the fake has no recorded budget, so the freeze policy cannot be checked.
    assert {r.json()["verdict"] for r in responses} == {"inconclusive"}
    assert source.range_queries == 1  # one SLO, canary only
    assert (
        registry.get_sample_value("sloguard_gate_shared_answers_total", {"how": "coalesced"}) == 19
    )
    post(http, json=REQUEST)  # a poll within the cache's 5 s
    assert source.range_queries == 1
    clock.now += 6
    post(http, json=REQUEST)
    assert source.range_queries == 2
    assert (
        registry.get_sample_value(
            "sloguard_gate_decisions_total", {"service": "shop", "verdict": "inconclusive"}
        )
        == 2
    )
    # Each SLO's verdict is counted too, so a report can ask per SLO over a period.
    slos = {r.json()["slos"][0]["slo"] for r in responses}
    assert [
        registry.get_sample_value(
            "sloguard_gate_slo_verdicts_total",
            {"service": "shop", "slo": slo, "verdict": "inconclusive"},
        )
        for slo in slos
    ] == [2]


def test_a_repeated_poll_is_answered_from_its_bytes_while_fresh_and_current(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, clock = Counting(), Clock()
    http, assembly = app_for(shop, source, GateAuthSettings(token="s3cret"), clock=clock)
    registry = assembly.registry
    analysed = 0
    analyse = Gatekeeper.analyse

    async def counted(self: Gatekeeper, *args: Any) -> Any:
        nonlocal analysed
        analysed += 1
        return await analyse(self, *args)

    monkeypatch.setattr(Gatekeeper, "analyse", counted)
    sent = json.dumps(REQUEST).encode()
    token = {"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
    first = post(http, content=sent, headers=token)
    again = post(http, content=sent, headers=token)
    assert again.status_code == 200 and again.content == first.content
    assert (analysed, source.range_queries) == (1, 1)  # answered before the app parsed it
    assert registry.get_sample_value("sloguard_gate_shared_answers_total", {"how": "cached"}) == 1
    # The cached bytes are no way around the token.
    assert post(http, content=sent, headers={"Content-Type": "application/json"}).status_code == 401
    # Other bytes for the same request reach the same cached decision through the app.
    spaced = post(http, content=json.dumps(REQUEST, indent=2).encode(), headers=token)
    assert spaced.content == first.content and (analysed, source.range_queries) == (2, 1)
    clock.now += 6  # past the cache's 5 s: a fresh decision
    assert post(http, content=sent, headers=token).status_code == 200
    assert (analysed, source.range_queries) == (3, 2)
    # The definitions reloaded without the service: no answer from before.
    shop.write_text(shop.read_text().replace("service: shop", "service: elsewhere"))
    assembly.agent.reload()
    gone = post(http, content=sent, headers=token)
    assert gone.status_code == 404 and analysed == 4


def test_a_slow_prometheus_is_inconclusive_within_the_time_budget(shop: Path) -> None:
    http, _ = app_for(shop, Counting(delay=30), settings=GateSettings(time_budget_seconds=0.3))

    async def timed() -> tuple[float, httpx.Response]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await http.post("/v1/analysis", json=REQUEST)
        return loop.time() - started, response

    elapsed, response = asyncio.run(timed())
    assert elapsed < 2
    body = response.json()
    assert (response.status_code, body["verdict"]) == (200, "inconclusive")
    assert "did not answer within the gate's 0.3s time budget" in body["reason"]


class Down(Counting):
    """A Prometheus that cannot be reached, for both kinds of query."""

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        raise SourceUnavailable("cannot reach Prometheus: ConnectError: refused", "connection")

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        raise SourceUnavailable("cannot reach Prometheus: ConnectError: refused", "connection")


def test_the_gates_failed_reads_are_counted_with_the_agents(shop: Path) -> None:
    http, assembly = app_for(shop, Down())
    response = post(http, json=REQUEST)
    assert response.json()["verdict"] == "inconclusive"
    failed = assembly.registry.get_sample_value(
        "sloguard_query_errors_total", {"reason": "connection"}
    )
    assert failed is not None and failed >= 2  # the budget read and the range read


def test_the_bytes_remembered_for_repeated_polls_stay_bounded(shop: Path) -> None:
    source = Counting()
    gate = Gatekeeper(lambda: definitions(shop), source, GateMetrics(CollectorRegistry()))
    request = AnalysisRequest.model_validate(REQUEST)

    async def variants() -> None:
        for spaces in range(CACHE_PRUNE_SIZE + 10):  # one request in ever more spellings
            await gate.analyse(request, json.dumps(REQUEST).encode() + b" " * spaces)

    asyncio.run(variants())
    assert source.range_queries == 1
    assert len(gate._polls) < CACHE_PRUNE_SIZE


def test_the_span_versions_asked_about_are_remembered_for_the_trace_receiver() -> None:
    spans = ServiceSLOs.model_validate(
        {
            "service": "checkout",
            "slos": [{"name": "pay", "objective": 99, "sli": {"traces": {"service": "co"}}}],
        }
    )
    clock = Clock()
    registry = CollectorRegistry()
    gate = Gatekeeper(
        lambda: Definitions(1, (spans,)), Counting(), GateMetrics(registry), clock=clock
    )
    request = {"service": "checkout", "canary": {"version": "2.0"}, "baseline": {"version": "1.9"}}
    asyncio.run(gate.analyse(AnalysisRequest.model_validate(request)))
    assert gate.asked_versions() == {"2.0", "1.9"}
    clock.now += 3600
    assert gate.asked_versions() == frozenset()
