"""The console in-process: the overview (`GET /`) of every SLO the agent evaluated, worst first,
its status in words and shape, filtered and paged; the gate's recent decisions (`/gate`) and the
audit trail (`/actions`) over the JSON routes that serve the same; what callers and Prometheus
put in any of it escaped; off with `--console off`."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from sloguard.actions.audit import tail
from sloguard.actions.runtime import ActionSettings
from sloguard.assembly import GateAuthSettings
from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.server.console import PAGE_ROWS, Overview, render_overview, roughly
from tests.support.agent import api, assembled
from tests.support.fakes import Clock, Switchable
from tests.support.gate import REQUEST, Counting, app_for
from tests.support.running import run_cli


def test_the_overview_lists_what_the_api_serves_once_evaluated(shop_definitions: Path) -> None:
    assembly = assembled(shop_definitions, Switchable(), interval_seconds=0.01)
    http = api(assembly)

    async def scenario() -> None:
        waiting = await http.get("/")
        assert waiting.status_code == 200 and "Waiting for the first evaluation" in waiting.text
        await assembly.agent.cycle()
        page = await http.get("/")
        [slo] = (await http.get("/v1/slos")).json()
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        row = re.search(r"<tbody>(.*)</tbody>", page.text, re.S)
        assert row is not None
        assert f'<td>{slo["service"]} <span class="meta">team web</span></td>' in row.group(1)
        assert slo["slo"] in row.group(1)
        assert "● ok" in row.group(1) and "75.0%" in row.group(1)  # as /v1/slos reports
        assert "ok: <strong>1</strong>" in page.text

    asyncio.run(scenario())


def test_the_console_can_be_turned_off(shop_definitions: Path) -> None:
    http = api(assembled(shop_definitions, Switchable(), console=False))
    answer = asyncio.run(http.get("/"))
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/json"


def evaluation(slo: str, status: Status, budget: float | None, **group: str) -> Evaluation:
    return Evaluation(
        "shop", slo, 0.999, "30d", 1_800_000_000.0, status, f"{status.value} because", Origin.RULES,
        error_budget_remaining=budget, burn_rates={"1h": 2.5, "5m": None}, group=group,
    )  # fmt: skip


def test_worst_first_in_words_and_shapes_and_nothing_it_shows_can_run() -> None:
    page = render_overview(
        [
            evaluation("fine", Status.OK, 0.9),
            evaluation("burning", Status.CRITICAL, 0.2, path="<script>alert(1)</script>"),
            evaluation("blind", Status.NO_DATA, None),
        ]
    )
    order = [page.index(f"<td>{name}") for name in ("blind", "burning", "fine")]
    assert order == sorted(order)  # no data first, then least budget left
    assert "? no data" in page and "▲ critical" in page and "● ok" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "1h: 2.50x" in page and "5m: —" in page
    assert "99.9% <span" in page  # the objective as people write it
    assert "2 need a look" in page  # the title says so too


def many(count: int) -> list[Evaluation]:
    """`count` SLOs over three services, one in ten burning."""
    return [
        Evaluation(
            f"svc{i % 3}",
            f"slo{i:04d}",
            0.999,
            "30d",
            1_800_000_000.0,
            Status.CRITICAL if i % 10 == 0 else Status.OK,
            "burning fast" if i % 10 == 0 else "fine",
            Origin.RULES,
            error_budget_remaining=i / count,
        )
        for i in range(count)
    ]


def rows(page: str) -> list[str]:
    return re.findall(r"<td>(slo\d{4})", page)


def test_filters_and_search_narrow_the_table_and_pages_keep_them() -> None:
    everything = many(250)
    first = render_overview(everything)
    assert len(rows(first)) == PAGE_ROWS and "Page 1 of 3" in first
    assert '<a href="?page=2" rel="next">' in first
    last = render_overview(everything, asked=Overview(page=99))  # past the end: the last page
    assert "Page 3 of 3" in last and len(rows(last)) == 50
    assert len(set(rows(first)) | set(rows(render_overview(everything, asked=Overview(page=2))))
               | set(rows(last))) == 250  # fmt: skip
    burning = render_overview(everything, asked=Overview(status=Status.CRITICAL))
    assert len(rows(burning)) == 25 and "25 of 250 SLOs" in burning
    one = render_overview(everything, asked=Overview(service="svc1", search="BURNING fast"))
    assert rows(one) and all(int(name[3:]) % 3 == 1 and int(name[3:]) % 10 == 0
                             for name in rows(one))  # fmt: skip
    pages = render_overview(everything, asked=Overview(service="svc0", page=1))
    assert "Page 1 of 1" not in pages and len(rows(pages)) == 84  # 250 / 3, one page
    none = render_overview(everything, asked=Overview(search="nothing like it"))
    assert "No SLO matches these filters" in none and "0 of 250 SLOs" in none
    paged = render_overview(many(500), asked=Overview(status=Status.OK, search="fine"))
    assert '<a href="?status=ok&amp;q=fine&amp;page=2" rel="next">' in paged


def test_teams_come_from_the_definitions_labels(shop_definitions: Path) -> None:
    assembly = assembled(shop_definitions, Switchable())
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        web = await http.get("/", params={"team": "web"})
        other = await http.get("/", params={"team": "payments"})
        assert rows_named(web.text) == ["availability"] and rows_named(other.text) == []
        assert "<option selected>web</option>" in web.text

    asyncio.run(scenario())


def rows_named(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1]
    return re.findall(r"</td>\n  <td>([a-z-]+)</td>", body)


def test_hostile_filters_are_refused_with_json_or_shown_inert(shop_definitions: Path) -> None:
    assembly = assembled(shop_definitions, Switchable())
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        for path, params in [
            ("/", {"q": "x" * 300}),
            ("/", {"status": "fine"}),
            ("/", {"page": "two"}),
            ("/gate", {"verdict": "maybe"}),
            ("/v1/gate/decisions", {"limit": "100000"}),
            ("/v1/actions", {"service": "s" * 300}),
        ]:
            refused = await http.get(path, params=params)
            assert refused.status_code == 422, (path, params)
            assert refused.headers["content-type"] == "application/json"
        shown = await http.get("/", params={"q": '"><script>alert(1)</script>', "page": "-3"})
        assert shown.status_code == 200 and "<script>alert(1)" not in shown.text
        assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in shown.text

    asyncio.run(scenario())


class Regressed(Counting):
    """The shop's canary fails one request in twenty; the baseline none."""

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        answer = await super().query_range(expr, start, end, step)
        return [
            (labels, [(t, 5.0) for t, _ in points])
            if labels["sloguard_part"].endswith("/canary/errors")
            else (labels, points)
            for labels, points in answer
        ]


def test_a_gate_decision_shows_on_the_gate_page_with_its_checks_and_comparison(
    shop_definitions: Path,
) -> None:
    clock = Clock()
    http, _ = app_for(shop_definitions / "shop.yaml", Regressed(), clock=clock)
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
        assert "higher than baseline" in page and "mann-whitney-u" in page
        assert "<code>{rollouts_pod_template_hash=&#34;new&#34;}</code>" in page
        assert 'data-series="canary"' in page and 'data-series="baseline"' in page
        assert 'role="img" aria-label="Error ratio per interval: canary mean 5%' in page

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
        assert "(held 3 times in a row)" in page and "cooldown &lt;b&gt;5m&lt;/b&gt;" in page
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


def test_a_guarded_console_asks_for_the_gate_s_token(shop_definitions: Path) -> None:
    auth = GateAuthSettings(token="s3cret")
    guarded = api(assembled(shop_definitions, Switchable(), gate_auth=auth, guard_reads=True))
    open_console = api(assembled(shop_definitions, Switchable(), gate_auth=auth))
    token = {"Authorization": "Bearer s3cret"}

    async def scenario() -> None:
        for path in ("/", "/gate", "/actions", "/v1/slos", "/v1/gate/decisions", "/v1/actions"):
            refused = await guarded.get(path)
            assert refused.status_code == 401 and refused.json()["detail"], path
            assert refused.headers["www-authenticate"] == "Bearer"
            assert (await guarded.get(path, headers=token)).status_code in (200, 503), path
            assert (await open_console.get(path)).status_code in (200, 503), path
        for path in ("/healthz", "/metrics"):  # probes and scrapes carry no token
            assert (await guarded.get(path)).status_code == 200
        document = (await guarded.get("/openapi.json")).json()
        assert document["paths"]["/v1/actions"]["get"]["security"] == [{"bearer": []}]
        assert (
            "security"
            not in (await open_console.get("/openapi.json")).json()["paths"]["/v1/actions"]["get"]
        )

    asyncio.run(scenario())


def test_guarded_without_the_gate_s_auth_is_refused_at_start(shop_definitions: Path) -> None:
    code, _, said = run_cli(
        "run", str(shop_definitions), "--prometheus", "http://127.0.0.1:9", "--console", "guarded"
    )
    assert code == 2 and "--console guarded needs the gate's auth" in said


def test_an_empty_filter_is_no_filter(shop_definitions: Path) -> None:
    """What a form submits for a filter left at "all"."""
    assembly = assembled(shop_definitions, Switchable())
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        page = await http.get("/?q=&service=&team=&status=")
        assert page.status_code == 200 and rows_named(page.text) == ["availability"]
        assert (await http.get("/gate?service=&verdict=")).status_code == 200
        assert (await http.get("/v1/gate/decisions?verdict=")).json() == []

    asyncio.run(scenario())


def test_times_to_come_are_said_as_people_say_them() -> None:
    said = [roughly(s) for s in (1, 45 * 60, 119 * 60, 6 * 3600, 30 * 3600, 54 * 3600,
                                 70 * 86400 - 60, 9 * 86400)]  # fmt: skip
    assert said == ["1m", "45m", "119m", "6h", "30h", "2d 6h", "70d", "9d"]
