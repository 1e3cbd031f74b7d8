"""The console's record of what happened lately, in-process: the gate's decisions (`/gate`,
`GET /v1/gate/decisions`) and the audit trail (`/actions`, `GET /v1/actions`), the same on
the page and in the JSON, bounded, counted, and unbroken by what a hostile Prometheus, caller
or audit log puts in them."""

from __future__ import annotations

import asyncio
import json
import math
import os
from pathlib import Path

from sloguard.actions.audit import tail
from sloguard.actions.runtime import ActionSettings
from sloguard.gating import GateSettings
from sloguard.server.console import thinned
from tests.support.agent import api, assembled
from tests.support.fakes import Clock, Switchable
from tests.support.gate import REQUEST, Counting, app_for


class CanaryErrors(Counting):
    """The shop's canary with `errors` bad events per second (of 100); the baseline none."""

    def __init__(self, errors: float) -> None:
        super().__init__()
        self.errors = errors

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        answer = await super().query_range(expr, start, end, step)
        return [
            (labels, [(t, self.errors) for t, _ in points])
            if labels["sloguard_part"].endswith("/canary/errors")
            else (labels, points)
            for labels, points in answer
        ]


def test_a_gate_decision_shows_on_the_gate_page_with_its_checks_and_comparison(
    shop_definitions: Path,
) -> None:
    clock = Clock()
    http, _ = app_for(shop_definitions / "shop.yaml", CanaryErrors(5.0), clock=clock)
    asked = {**REQUEST, "baseline": {"rollouts_pod_template_hash": "old"}}

    async def scenario() -> None:
        decided = (await http.post("/v1/analysis", json=asked)).json()
        again = await http.post("/v1/analysis", json=asked)  # a poll answered from the cache
        assert again.json() == decided and decided["verdict"] == "fail"
        [record] = (await http.get("/v1/gate/decisions")).json()
        assert record["decision"] == decided  # exactly what the caller was answered
        assert record["canary"] == '{rollouts_pod_template_hash="new"}'
        assert record["baseline"] == '{rollouts_pod_template_hash="old"}'
        samples = record["samples"]["availability"]
        assert samples["canary"] and {r for _, r in samples["canary"]} == {0.05}
        assert samples["baseline"] and {r for _, r in samples["baseline"]} == {0.0}
        clock.now += 60  # past the cache: another decision, on another service filter
        await http.post("/v1/analysis", json=REQUEST)
        both = (await http.get("/v1/gate/decisions")).json()
        assert [r["baseline"] for r in both] == [None, record["baseline"]]  # newest first
        assert both[0]["decision"]["verdict"] == "fail"  # its burn rate alone fails it
        assert (await http.get("/v1/gate/decisions", params={"verdict": "pass"})).json() == []
        assert (await http.get("/v1/gate/decisions", params={"limit": 1})).json() == both[:1]
        assert (await http.get("/v1/gate/decisions", params={"service": "nope"})).json() == []
        assert "No gate decisions match" in (await http.get("/gate?verdict=pass")).text
        page = (await http.get("/gate", params={"verdict": "fail"})).text
        assert page.count('<article class="decision"') == 2 and "✖ fail: shop" in page
        assert "higher than baseline" in page and "sequential-count" in page
        assert "<code>{rollouts_pod_template_hash=&#34;new&#34;}</code>" in page
        assert 'data-series="canary"' in page and 'data-series="baseline"' in page
        assert 'role="img" aria-label="Error ratio per interval: canary mean 5%' in page
        assert 'data-evidence="' in page and "against the ratio that fails the canary" in page
        assert (
            'aria-label="Likelihood ratio that the canary fails more often than the baseline'
            in page
        )

    asyncio.run(scenario())


def line(i: int, result: str = "done", **more: object) -> dict[str, object]:
    return {
        "id": f"id{i}", "time": f"2026-12-03T10:00:{i:02d}Z", "service": "checkout",
        "action": "undo", "target": {"kind": "Deployment", "namespace": "shop",
                                     "name": "checkout"},
        "mode": "enforce", "result": result, "summary": "undo Deployment shop/checkout",
        "trigger": "page condition holds", "details": {"revision": "2 -> 1"}, "by": "sloguard-0",
        **more,
    }  # fmt: skip


def test_the_audit_trail_starts_from_the_log_s_tail_and_counts_repeated_holds(
    shop_definitions: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = [json.dumps(line(i)) for i in range(3)]
    held = [json.dumps(line(i, "held", summary="cooldown <b>5m</b>")) for i in range(3, 6)]
    log.write_text("\n".join([*lines, "not json", "[1]", *held]) + "\n")
    assembly = assembled(shop_definitions, Switchable(), actions=ActionSettings(audit_log=log))
    http = api(assembly)

    async def scenario() -> None:
        entries = (await http.get("/v1/actions")).json()
        assert [e["id"] for e in entries] == ["id5", "id2", "id1", "id0"]
        assert entries[0]["repeated"] == 3 and entries[1]["repeated"] == 1
        assert entries[1]["details"] == {"revision": "2 -> 1"}
        only = (await http.get("/v1/actions", params={"result": "held"})).json()
        assert [e["id"] for e in only] == ["id5"]
        page = (await http.get("/actions")).text
        assert "(held 3 times)" in page and "cooldown &lt;b&gt;5m&lt;/b&gt;" in page
        assert page.count('<td class="result-done">') == 3
        assert "revision: 2 -&gt; 1" in page

    asyncio.run(scenario())


def test_only_the_audit_log_s_last_mebibyte_is_read(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text("\n".join(json.dumps(line(i % 60)) for i in range(20_000)) + "\n")
    found = tail(log)
    assert 0 < len(found) < 20_000 and found[-1]["id"] == "id19"  # line 19,999
    assert all(isinstance(f, dict) and f["service"] == "checkout" for f in found)
    assert tail(tmp_path / "missing.jsonl") == []


def test_a_hostile_audit_log_neither_stops_the_start_nor_breaks_a_page(
    shop_definitions: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = [
        "[" * 200_000,  # deeper than any parser recurses
        json.dumps(line(1, "held", target={"kind": ["Deployment"]})),  # not hashable as read
        json.dumps(line(2, summary="\ud800<b>")),  # a lone surrogate: not UTF-8
        json.dumps(line(3, details={"replicas": 3}, time=5, target="checkout")),
    ]
    log.write_text("\n".join(lines) + "\n")
    assembly = assembled(shop_definitions, Switchable(), actions=ActionSettings(audit_log=log))
    http = api(assembly)

    async def scenario() -> None:
        entries = (await http.get("/v1/actions")).json()
        assert [e["id"] for e in entries] == ["id3", "id2", "id1"]
        assert entries[0]["details"] == {"replicas": "3"} and entries[0]["time"] == "5"
        assert entries[0]["target"] == {"kind": "", "namespace": "", "name": ""}
        assert entries[1]["summary"] == "\\ud800<b>"
        assert entries[2]["target"]["kind"] == '["Deployment"]'
        page = await http.get("/actions")
        assert page.status_code == 200 and "\\ud800&lt;b&gt;" in page.text

    asyncio.run(scenario())


def test_a_fifo_for_an_audit_log_is_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "audit.jsonl"
    os.mkfifo(fifo)
    assert tail(fifo) == []  # returns at once: a blocked start would never serve
    assert tail(tmp_path) == []


def test_the_same_verdict_on_the_same_canary_is_one_decision_counted(
    shop_definitions: Path,
) -> None:
    clock = Clock()
    http, _ = app_for(shop_definitions / "shop.yaml", CanaryErrors(5.0), clock=clock)

    async def scenario() -> None:
        for _ in range(3):
            await http.post("/v1/analysis", json=REQUEST)
            clock.now += 60  # past the cache: a fresh decision each time
        other = {**REQUEST, "canary": {"rollouts_pod_template_hash": "newer"}}
        await http.post("/v1/analysis", json=other)
        kept = (await http.get("/v1/gate/decisions")).json()
        assert [(r["canary"], r["repeated"]) for r in kept] == [
            ('{rollouts_pod_template_hash="newer"}', 1),
            ('{rollouts_pod_template_hash="new"}', 3),
        ]
        page = await http.get("/gate")
        assert "(given 3 times; the newest shown)" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"

    asyncio.run(scenario())


def test_values_no_event_rate_can_have_are_no_evidence(shop_definitions: Path) -> None:
    http, _ = app_for(shop_definitions / "shop.yaml", CanaryErrors(math.nan))

    async def scenario() -> None:
        answer = await http.post("/v1/analysis", json=REQUEST)
        assert answer.status_code == 200 and answer.json()["verdict"] == "inconclusive"
        assert "no event rate can have" in answer.json()["reason"]
        assert (await http.get("/gate")).status_code == 200
        hostile = {"service": "shop", "canary": {"rollouts_pod_template_hash": "\ud800"}}
        refused = await http.post(
            "/v1/analysis",
            content=json.dumps(hostile).encode(),
            headers={"content-type": "application/json"},
        )
        assert refused.status_code == 400 and "lone surrogate" in refused.json()["detail"]

    asyncio.run(scenario())


def test_a_chart_draws_at_most_its_width_of_points_the_last_kept() -> None:
    points = [(float(t), float(t)) for t in range(1000)]
    drawn = thinned(points)
    assert len(drawn) == 120 and drawn[-1] == points[-1] and drawn == sorted(drawn)
    assert thinned(points[:50]) == points[:50]


def test_decisions_are_logged_and_the_journal_starts_from_the_log(
    shop_definitions: Path, tmp_path: Path
) -> None:
    log = tmp_path / "gate.jsonl"
    log.write_text("not json\n" + json.dumps({"verdict": "pass"}) + "\n")
    settings = GateSettings(log_path=log)
    http, _ = app_for(shop_definitions / "shop.yaml", CanaryErrors(5.0), settings=settings)

    async def decide() -> dict[str, object]:
        answer = (await http.post("/v1/analysis", json=REQUEST)).json()
        for _ in range(100):  # the line is written off the event loop: poll for it
            if len(log.read_text().splitlines()) > 2:
                break
            await asyncio.sleep(0.05)
        return dict(answer)

    decided = asyncio.run(decide())
    [line] = [json.loads(x) for x in log.read_text().splitlines()[2:]]
    assert line["decision"] == decided and line["samples"] == {}  # what was decided, no more
    restarted, _ = app_for(shop_definitions / "shop.yaml", CanaryErrors(5.0), settings=settings)
    [kept] = asyncio.run(restarted.get("/v1/gate/decisions")).json()
    assert kept["decision"] == decided and kept["canary"] == line["canary"]
    assert "✖ fail: shop" in asyncio.run(restarted.get("/gate")).text
