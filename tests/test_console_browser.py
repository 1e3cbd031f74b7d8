"""The console in Debian's Chromium, over the live demo's data (a real Prometheus, synthetic
traffic, the agent and its gate as `sloguard demo` runs them): the overview shows every SLO
with the budget and status `/v1/slos` reports, its filters and search narrow it, its live part
refreshes in place; the gate's decisions on the demo's canaries show on `/gate` with their
checks and charts; no page logs an error or has a serious accessibility violation (axe-core).
With SLOGUARD_UPDATE_PICTURES=1 the screenshots become the docs'."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import Visit, browsing, picture
from tests.support.demo import assert_stopped, demo_command
from tests.support.repo import REPO

pytestmark = pytest.mark.integration  # starts real processes or servers

CONSOLE = re.compile(r"Prometheus (http://127\.0\.0\.1:\d+) · console (http://127\.0\.0\.1:\d+/)")
EVALUATED = re.compile(r"Evaluated (\S+)\.")
TABLE = (
    "() => [...document.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.innerText))"
)


@pytest.fixture
def demo() -> Iterator[tuple[str, str]]:
    """`sloguard demo`'s console URL and its Prometheus's, once the checkout SLOs have data and
    the gate has compared a canary with stable."""
    process = subprocess.Popen(
        demo_command(240, 3), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    said = ""
    try:
        assert process.stdout is not None
        url = prometheus = ""
        for line in process.stdout:
            said += line
            found = CONSOLE.search(line)
            if found:
                prometheus, url = found.groups()
                break
        assert url, "the demo never named its console"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # as a person would wait
            slos = httpx.get(f"{url}v1/slos", timeout=5).json()
            ready = [s for s in slos if s["service"] == "checkout" and s["status"] != "no_data"]
            decisions = httpx.get(f"{url}v1/gate/decisions", timeout=5).json()
            compared = [
                c
                for d in decisions
                for slo in d["decision"]["slos"]
                for c in slo["checks"]
                if c["name"] == "comparison" and "likelihood_ratio" in c["values"]
            ]
            if len(ready) == 2 and compared:
                break
            time.sleep(1)
        else:
            pytest.fail(f"no checkout data or no comparison in 90 s: {slos}")
        yield url, prometheus
    finally:
        process.terminate()  # SIGTERM stops it as Ctrl-C does
        said += process.communicate(timeout=30)[0]
    assert_stopped(said)


def shown_with_its_evaluation(visit: Visit, url: str) -> tuple[list[list[str]], list[Any]]:
    """The overview's rows and the `/v1/slos` of the same evaluation (the demo evaluates every
    3 s: read both until they were made from one)."""
    for _ in range(10):
        visit.page.goto(url)
        caption = visit.page.locator("caption").inner_text()
        slos = httpx.get(f"{url}v1/slos", timeout=5).json()
        found = EVALUATED.search(caption)
        assert found, caption
        if max(s["at"] for s in slos) == found.group(1):
            return visit.page.evaluate(TABLE), slos
    pytest.fail("the page and /v1/slos never showed the same evaluation")


@pytest.mark.timeout(300)
def test_the_console_in_a_browser_over_the_demo(demo: tuple[str, str], tmp_path: Path) -> None:
    """One demo for all of it (it takes a minute to have a comparison to show)."""
    console, prometheus = demo
    the_overview_shows_what_the_api_reports_and_narrows(console, tmp_path)
    the_overview_refreshes_in_place(console)
    the_gate_page_shows_the_decisions_with_their_checks(console, tmp_path)
    the_slo_page_draws_what_prometheus_recorded(console, prometheus, tmp_path)


def the_overview_shows_what_the_api_reports_and_narrows(demo: str, tmp_path: Path) -> None:
    with browsing(1200, 640) as visit:
        page = visit.page
        shown, slos = shown_with_its_evaluation(visit, demo)
        rows = [r for r in shown if not r[2].startswith("↳")]  # groups needing a look: own rows
        assert len(rows) == len(slos)
        for slo in slos:
            [row] = [
                r
                for r in rows
                if r[1].split()[0] == slo["service"] and r[2].split()[0] == slo["slo"]
            ]
            assert row[0].endswith(slo["status"].replace("_", " ")), (slo, row)
            budget = slo["error_budget_remaining"]
            assert (f"{budget:.1%}" if budget is not None else "unknown") in row[5], (slo, row)
        assert visit.accessibility_problems() == []

        # By keyboard alone: past the navigation to the content, then to the filters.
        focused = "() => document.activeElement.textContent.trim()"
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "Skip to the content"
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.name") == "q"

        page.select_option("select[name=service]", "checkout")
        with page.expect_navigation():
            page.click("form.filters button[type=submit]")
        checkout = page.evaluate(TABLE)
        assert {r[1].split()[0] for r in checkout} == {"checkout"} and len(checkout) == 2
        assert "service=checkout" in page.url
        page.fill("input[name=q]", "LATENCY")
        with page.expect_navigation():
            page.keyboard.press("Enter")  # as people submit a search
        assert [r[2].split()[0] for r in page.evaluate(TABLE)] == ["latency"]
        page.goto(demo)
        # The budget over the window is read in the background, at most once a minute (again
        # after 10 s while Prometheus has none): wait for it as a person would, reloading.
        deadline = time.monotonic() + 90
        while '<svg class="spark"' not in httpx.get(demo, timeout=5).text:
            assert time.monotonic() < deadline, "no sparkline in 90 s"
            time.sleep(2)
        page.reload()
        assert page.locator("svg.spark polyline").count() >= 1
        picture(page, "console-overview.png", tmp_path)
        with page.expect_navigation():
            page.click(".counts a:has-text('ok')")
        statuses = {r[0] for r in page.evaluate(TABLE)}
        assert statuses <= {"● ok", "No SLO matches these filters."}, statuses
        assert visit.errors == []


def the_overview_refreshes_in_place(demo: str) -> None:
    with browsing() as visit:
        page = visit.page
        page.clock.install()  # the page's timers under the test's hand; its requests real
        page.goto(demo)
        before = page.locator("caption").inner_text()
        page.evaluate("() => { window.sameDocument = true; }")
        page.focus("input[name=q]")
        page.keyboard.type("check")
        time.sleep(4)  # the demo evaluates every 3 s
        page.clock.run_for(16_000)  # the refresh is due
        page.wait_for_function("() => document.documentElement.dataset.refreshed")
        assert page.locator("caption").inner_text() != before  # a newer evaluation shown
        assert page.evaluate("() => window.sameDocument") is True  # not reloaded
        assert page.input_value("input[name=q]") == "check"  # what was being typed stays
        assert page.evaluate("() => document.activeElement.name") == "q"
        assert visit.errors == []


def the_gate_page_shows_the_decisions_with_their_checks(demo: str, tmp_path: Path) -> None:
    with browsing(1200, 900) as visit:
        page = visit.page
        # A rollout's analysis asks over HTTP, as Argo Rollouts would (about a version the
        # demo does not run: a decision of its own, not one of the demo's counted again).
        asked = {
            "service": "checkout",
            "slos": ["latency"],
            "canary": {"version": "from-a-rollout"},
            "baseline": {"version": "stable"},
        }
        answered = httpx.post(f"{demo}v1/analysis", json=asked, timeout=10).json()
        page.goto(f"{demo}gate?service=checkout")
        mine = page.locator("article.decision", has_text='{version="from-a-rollout"}')
        assert mine.count() == 1, answered
        decided = answered["evaluatedAt"][:19].replace("T", " ")
        assert f"Decided {decided} UTC" in mine.inner_text()
        assert mine.locator("tbody tr").count() == sum(len(s["checks"]) for s in answered["slos"])
        articles = page.locator("article.decision")
        assert articles.count() >= 1
        kept = httpx.get(f"{demo}v1/gate/decisions", params={"limit": 1000}, timeout=5).json()
        made = {(d["canary"], d["decision"]["verdict"]) for d in kept}
        for i in range(articles.count()):
            article = articles.nth(i)
            heading = article.locator("h2").inner_text()
            verdict = heading.split()[1].rstrip(":")
            canary = article.locator("code").first.inner_text()
            assert (canary, verdict) in made, heading  # the same verdict may be newer now
            checks = article.locator("tbody tr").count()
            # missing data is one check; a comparison comes after data, budget, burn rate, …
            assert checks >= (4 if article.locator("circle.estimate").count() else 1), heading
        compared = page.locator('svg polyline[data-series="baseline"]')
        assert compared.count() >= 1
        assert int(compared.first.get_attribute("data-points") or 0) > 0
        evidence = page.locator("svg circle.estimate[data-evidence]")
        assert evidence.count() >= 1  # the comparison drawn: its evidence against the bound
        assert visit.accessibility_problems() == []
        picture(page, "console-gate.png", tmp_path)
        assert visit.errors == []


def the_slo_page_draws_what_prometheus_recorded(demo: str, prometheus: str, tmp_path: Path) -> None:
    with browsing(1200, 900) as visit:
        page = visit.page
        page.goto(f"{demo}slos/checkout/availability?range=1h")
        for series in ("SLI", "budget left", "events/s", "5m"):
            line = page.locator(f'svg polyline[data-series="{series}"]')
            assert int(line.get_attribute("data-points") or 0) > 0, series
        # The page and the JSON share one reading; it is what Prometheus itself answers.
        seen = httpx.get(f"{demo}v1/slos/checkout/availability/history?range=1h", timeout=5).json()
        [budget] = seen["series"]["budget"]
        direct = httpx.get(
            f"{prometheus}/api/v1/query_range",
            params={
                "query": 'slo:error_budget_remaining:ratio{service="checkout",slo="availability"}',
                "start": seen["start"],
                "end": seen["end"],
                "step": seen["step"],
            },
            timeout=5,
        ).json()["data"]["result"]
        [recorded] = direct
        assert [(t, float(v)) for t, v in recorded["values"]] == [
            tuple(p) for p in budget["points"]
        ]
        drawn = page.locator('svg polyline[data-series="budget left"]').get_attribute("data-last")
        assert drawn == f"{budget['points'][-1][1]:.6g}"
        assert "checkout.yaml" in page.inner_text("main")  # where the definition came from
        assert "http_requests_total" in page.inner_text("pre.definition")
        assert visit.accessibility_problems() == []
        picture(page, "console-slo.png", tmp_path)
        assert visit.errors == []
