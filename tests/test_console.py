"""The console's overview (`GET /`), in-process: every SLO the agent evaluated, worst first,
its status in words and shape, what callers and Prometheus put in it escaped; off with
`--console off`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.server.console import render_overview
from tests.support.agent import api, assembled
from tests.support.fakes import Switchable


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
        assert f"<td>{slo['service']}</td>" in row.group(1) and slo["slo"] in row.group(1)
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
