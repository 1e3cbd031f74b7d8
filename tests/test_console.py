"""The console in-process: the overview (`GET /`) of every SLO the agent evaluated, worst first,
its status in words and shape, filtered and paged; the gate's recent decisions (`/gate`) and the
audit trail (`/actions`) over the JSON routes that serve the same; what callers and Prometheus
put in any of it escaped; off with `--console off`."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from sloguard.assembly import GateAuthSettings
from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.loading import load
from sloguard.server.console import (
    PAGE_ROWS,
    Overview,
    redacted,
    redacted_text,
    redacted_yaml,
    render_overview,
    roughly,
)
from tests.support.agent import api, assembled
from tests.support.fakes import Switchable
from tests.support.repo import FIXTURES
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
    order = [page.index(f">{name}</a>") for name in ("blind", "burning", "fine")]
    assert order == sorted(order)  # no data first, then least budget left
    assert "? no data" in page and "▲ critical" in page and "● ok" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
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
    return re.findall(r">(slo\d{4})</a>", page)


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
    return re.findall(r'<a href="/slos/[^"]+">([a-z-]+)</a>', body)


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


def test_a_guarded_console_asks_for_the_gate_s_token(shop_definitions: Path) -> None:
    auth = GateAuthSettings(token="s3cret")
    guarded = api(assembled(shop_definitions, Switchable(), gate_auth=auth, guard_reads=True))
    open_console = api(assembled(shop_definitions, Switchable(), gate_auth=auth))
    token = {"Authorization": "Bearer s3cret"}

    async def scenario() -> None:
        for path in ("/", "/gate", "/actions", "/v1/slos", "/v1/gate/decisions", "/v1/actions",
                     "/slos/shop/availability", "/v1/slos/shop/availability/history"):  # fmt: skip
            refused = await guarded.get(path)
            assert refused.status_code == 401 and refused.json()["detail"], path
            assert refused.headers["www-authenticate"] == "Bearer"
            assert (await guarded.get(path, headers=token)).status_code != 401, path
            assert (await open_console.get(path)).status_code != 401, path
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


class Recorded(Switchable):
    """Answers range queries like a Prometheus with the shop's rules recording for a day: the
    budget falling from 100% to 60%, the page alert firing for the last ten minutes."""

    def __init__(self) -> None:
        super().__init__()
        self.ranges: list[str] = []

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        self.ranges.append(expr)
        await super().query_range(expr, start, end, step)  # fails when down
        times = [start + i * step for i in range(int((end - start) // step) + 1)]
        ids = {"service": "shop", "slo": "availability"}
        if "ALERTS{" in expr:
            labels = {**ids, "alertname": "SLOErrorBudgetBurn", "sloguard_severity": "page"}
            return [(labels, [(t, 1.0) for t in times if t > end - 600])]
        if "error_budget_remaining" in expr:
            return [(ids, [(t, 1 - 0.4 * i / len(times)) for i, t in enumerate(times)])]
        if "slo:burn_rate" in expr:
            return [({**ids, "__name__": f"slo:burn_rate:{w}"}, [(t, 2.0) for t in times])
                    for w in ("5m", "1h")]  # fmt: skip
        if "slo:sli_errors" in expr:
            return [(ids, [(t, 0.998) for t in times])]
        return [(ids, [(t, 100.0) for t in times])]  # traffic


SECRET_RUNBOOK = "https://ops:hunter2@runbooks.example.com/shop?token=abc123&page=2"


def test_an_slo_s_page_draws_its_window_its_alerts_and_its_definition(tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    shop = (FIXTURES / "native" / "shop.yaml").read_text()
    (defs / "shop.yaml").write_text(
        shop.replace("https://runbooks.example.com/shop", SECRET_RUNBOOK, 1)
    )
    source = Recorded()
    assembly = assembled(defs, source)
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        overview = (await http.get("/")).text
        assert '<a href="/slos/shop/availability">availability</a>' in overview
        spark = re.search(r'<svg class="spark".*?data-points="(\d+)"', overview)
        assert spark and int(spark.group(1)) > 0  # the budget over the window, beside it
        assert 'aria-label="error budget left over the window: 100% to 6' in overview
        page = await http.get("/slos/shop/availability")
        assert page.status_code == 200
        text = page.text
        for series in ("SLI", "budget left", "5m", "1h", "events/s"):
            assert f'data-series="{series}"' in text, series
        assert 'data-last="0.6' in text  # the budget's newest value, as Prometheus answered
        assert 'class="level"' in text and "page 14.4x" in text  # the tiers' thresholds
        assert "<strong>still firing</strong>" in text and "SLOErrorBudgetBurn" in text
        assert "● ok" in text and "75.0%" in text  # where it stands now, as /v1/slos says
        assert "hunter2" not in text and "abc123" not in text
        assert "https://REDACTED@runbooks.example.com/shop?token=REDACTED&amp;page=2" in text
        assert f"<h3><code>{defs / 'shop.yaml'}</code></h3>" in text
        assert "service: shop\nlabels:\n  team: web" in text  # the file as written
        history = (await http.get("/v1/slos/shop/availability/history")).json()
        assert history["firing"][0]["ongoing"] is True
        assert history["series"]["budget"][0]["points"][-1][1] == pytest.approx(0.6, abs=0.01)
        # one for the overview's sparklines; one reading shared by the page and the route
        assert len(source.ranges) == 1 + 5
        recent = (await http.get("/v1/slos/shop/availability/history?range=1h")).json()
        assert recent["end"] - recent["start"] == 3600 and recent["step"] == 15
        assert 'href="?range=1h"' in text and 'aria-current="true">the last 1h' not in text
        assert (await http.get("/slos/shop/availability?range=2h")).status_code == 422
        missing = await http.get("/slos/shop/nope")
        assert missing.status_code == 404 and "no SLO named 'nope'" in missing.json()["detail"]
        assert (await http.get("/v1/slos/nobody/x/history")).status_code == 404

    asyncio.run(scenario())


def test_an_slo_s_page_says_what_prometheus_could_not_give(shop_definitions: Path) -> None:
    source = Recorded()
    assembly = assembled(shop_definitions, source)
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        source.down = True
        page = (await http.get("/slos/shop/availability")).text
        assert page.count("not read (Prometheus: cannot reach Prometheus") == 5
        assert "nothing was read for this chart" in page
        assert "None known: the alerts could not be read" in page

    asyncio.run(scenario())


def test_only_web_links_are_links_and_secret_fields_are_redacted() -> None:
    assert redacted({"api_key": "k", "url": "http://a:b@h/p?sig=1&x=2", "n": [{"password": "p"}]}) == {
        "api_key": "REDACTED", "url": "http://REDACTED@h/p?sig=REDACTED&x=2",
        "n": [{"password": "REDACTED"}],
    }  # fmt: skip


class Stalled(Switchable):
    """A Prometheus that answers instant queries but never range queries."""

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        await asyncio.sleep(3600)
        return []


def test_a_slow_prometheus_leaves_out_the_sparklines_and_holds_nothing_up(
    shop_definitions: Path,
) -> None:
    assembly = assembled(shop_definitions, Stalled())
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        page = await asyncio.wait_for(http.get("/"), timeout=20)  # not the hour
        assert page.status_code == 200 and rows_named(page.text) == ["availability"]
        assert '<svg class="spark"' not in page.text

    asyncio.run(scenario())


def test_burn_rates_are_shown_by_alert_tier_and_a_burning_tier_marked(
    shop_definitions: Path,
) -> None:
    services = load([shop_definitions]).services
    burning = Evaluation(
        "shop", "availability", 0.999, "30d", 1_800_000_000.0, Status.CRITICAL, "burning",
        Origin.RULES, sli=0.9981, error_budget_remaining=0.5,
        burn_rates={"5m": 20.0, "1h": 15.0, "30m": 2.0, "6h": None},
        others=(
            *(evaluation("availability", Status.WARNING, 0.6, path=f"/w{i}") for i in range(6)),
            evaluation("availability", Status.OK, 0.9, path="/fine"),
        ),
        group={"path": "/a"},
    )  # fmt: skip
    page = render_overview([burning], services)
    assert (
        '<li class="burning"><strong>▲ </strong>page &gt;14.4x: 1h 15.00x, 5m 20.00x</li>' in page
    )
    assert "<li>page &gt;6x: 6h —, 30m 2.00x</li>" in page
    assert '<td class="number">99.810%</td>' in page  # the SLI over the window
    # the per-label SLO's other groups that need a look are rows of their own, after its worst,
    # the worst five; the rest, and those that are fine, on its page
    assert page.count('<span aria-hidden="true">↳ </span>') == 5
    assert page.index("path=/a") < page.index("path=/w0") and "path=/w5" not in page
    assert "path=/fine" not in page and '2 more groups (<a href="?groups=all">' in page
    every = render_overview([burning], services, Overview(groups=True))
    assert every.count('<span aria-hidden="true">↳ </span>') == 7 and "path=/fine" in every
    assert page.count('<svg class="spark"') == 0  # no trends given
    assert "6 of 6 rows (1 SLOs and their groups)" in page


class Garbled(Recorded):
    """A Prometheus answering NaN, infinity and timestamps that are no times."""

    async def query(self, expr: str, at: float) -> Sequence[tuple[dict[str, str], float]]:
        answer = await super().query(expr, at)
        if expr.startswith("{__name__"):
            return [(labels, math.nan if labels["__name__"].endswith(":1h") else value)
                    for labels, value in answer]  # fmt: skip
        return answer

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        answer = await super().query_range(expr, start, end, step)
        hostile = [(math.nan, 1.0), (math.inf, 1.0), (1e20, 1.0), (end, math.inf), (end, math.nan)]
        return [(labels, [*points, *hostile]) for labels, points in answer]


def test_numbers_that_are_no_numbers_break_no_page(shop_definitions: Path) -> None:
    assembly = assembled(shop_definitions, Garbled())
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        for path in ("/", "/v1/slos", "/slos/shop/availability",
                     "/v1/slos/shop/availability/history"):  # fmt: skip
            answer = await http.get(path)
            assert answer.status_code == 200, path
            assert "nan" not in answer.text.lower().replace("nanosecond", ""), path
            assert "inf," not in answer.text and "Infinity" not in answer.text, path
        history = (await http.get("/v1/slos/shop/availability/history")).json()
        assert history["firing"][-1]["end"] == history["end"]  # no period out to year 5138

    asyncio.run(scenario())


def test_credentials_are_redacted_wherever_they_are_written() -> None:
    assert redacted_text("see https://ops:pw@h/x and //u:p@h2/y") == (
        "see https://REDACTED@h/x and //REDACTED@h2/y"
    )
    assert redacted_text("https://h/p?a=1&jwt=x&pwd=y&author=me#access_token=z") == (
        "https://h/p?a=1&jwt=REDACTED&pwd=REDACTED&author=me#access_token=REDACTED"
    )
    assert redacted_text("https://h/p?b=%26c%3D2") == "https://h/p?b=%26c%3D2"  # as written
    assert redacted({"password": ["x"], "monkey": "banana", "X-Auth-Token": {"v": 1}}) == {
        "password": "REDACTED", "monkey": "banana", "X-Auth-Token": "REDACTED",
    }  # fmt: skip


class Slow(Recorded):
    """Range queries that take a while, counted while in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = self.most = 0

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().query_range(expr, start, end, step)
        finally:
            self.in_flight -= 1


def test_however_many_look_the_console_holds_two_queries_at_once(
    shop_definitions: Path,
) -> None:
    source = Slow()
    assembly = assembled(shop_definitions, source)
    http = api(assembly)

    async def scenario() -> None:
        await assembly.agent.cycle()
        asked = [f"/slos/shop/availability?range={r}" for r in ("window", "1h", "6h", "1d", "7d")]
        answers = await asyncio.gather(*(http.get(path) for path in asked))
        assert all(a.status_code == 200 and "not read" not in a.text for a in answers)
        assert len(source.ranges) == 25 and source.most == 2

    asyncio.run(scenario())


def test_a_definition_file_is_shown_as_written_with_its_secrets_redacted() -> None:
    written = "\n".join([
        "service: shop  # the shop's API",
        "webhook: https://hooks.example.com/T0?sig=abc",
        "api_key: s3cret",
        "client_secret: |",
        "  line one",
        "  line two",
        "runbook: https://ops:pw@runbooks.example.com/x?page=2",
        "description: author of the monkey business",
    ])  # fmt: skip
    assert redacted_yaml(written).splitlines() == [
        "service: shop  # the shop's API",
        "webhook: REDACTED",
        "api_key: REDACTED",
        "client_secret: REDACTED",
        "  REDACTED",
        "  REDACTED",
        "runbook: https://REDACTED@runbooks.example.com/x?page=2",
        "description: author of the monkey business",
    ]
