"""`sloguard report` against a real Prometheus holding 37 days of history in which the
generated rules ran (evaluated by promtool over the backfilled counters, alerts included):
every figure in the JSON equals the truth computed from the counts (tests/support/month.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sloguard import yamltext
from sloguard.actions.runtime import ActionSettings
from sloguard.cli import main
from sloguard.demo.prometheus import write_rules
from sloguard.gating import GateSettings
from sloguard.loading import load
from sloguard.reporting import SETTLE_SECONDS, ReportSettings, read, stem
from sloguard.reports.period import between, containing
from sloguard.reports.words import ratio
from sloguard.sources.prometheus import Prometheus as PrometheusSource
from sloguard.sources.prometheus import PrometheusSettings, client
from sloguard.spec.durations import format_seconds
from sloguard.spec.model import Calendar
from tests.support.agent import api, assembled
from tests.support.backfilled import prometheus_with_history
from tests.support.browser import browsing, picture
from tests.support.fakes import Clock
from tests.support.month import (
    BUDGET,
    DAY,
    DEFINITIONS,
    HOUR,
    MINUTE,
    RATES,
    SLOT,
    WINDOW,
    Month,
)
from tests.support.realprom import Prometheus

pytestmark = pytest.mark.integration  # starts real processes or servers

# (severity, [(long, short, factor)]): the definitions' tiers.
TIERS = {
    "page": [(3600, 5 * MINUTE, 14.4), (6 * 3600, 30 * MINUTE, 6.0)],
    "ticket": [(6 * 3600, 3600, 1.0)],
}


TIER_READS = ("slo:burn_rate:", "slo:tier_burn_rate:")


def read_by_report(rule: dict[str, Any]) -> bool:
    """The 5m rates, the burn rates and tiers the alerts read, and the alerts."""
    name = rule.get("record", "")
    rates = ("slo:sli_errors:rate5m", "slo:sli_total:rate5m")
    return "alert" in rule or name in rates or name.startswith(TIER_READS)


@pytest.fixture(scope="module")
def month() -> Month:
    midnight = int(time.time()) // DAY * DAY
    return Month(start=midnight - 31 * DAY, end=midnight - DAY)


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("definitions")
    for name, text in DEFINITIONS.items():
        (directory / name).write_text(text.lstrip(), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, month: Month, definitions: Path
) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("prometheus")
    # Every group on the minute, like the counters, so each window's rate is exact; only the
    # rules the alerts and the report read (promtool takes seconds per rule over 37 days).
    rules = write_rules(directory, load([definitions]), "1m")
    for path in rules:
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            group["rules"] = [r for r in group["rules"] if read_by_report(r)]
        document["groups"] = [g for g in document["groups"] if g["rules"]]
        path.write_text(yamltext.dump(document), encoding="utf-8")
    with prometheus_with_history(
        directory, month.families(), rules, month.first + 2 * 3600, month.last
    ) as prom:
        yield prom


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory, month: Month) -> tuple[Path, Path]:
    """The gate's decision log and the actions' audit log of the month."""
    directory = tmp_path_factory.mktemp("logs")
    return month.gate_log(directory / "gate.log"), month.audit_log(directory / "audit.log")


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory,
    prometheus: Prometheus,
    month: Month,
    definitions: Path,
    logs: tuple[Path, Path],
) -> Path:
    out = tmp_path_factory.mktemp("report")
    gate_log, audit_log = logs
    result = CliRunner().invoke(
        main,
        [
            "report",
            str(definitions),
            "--prometheus",
            prometheus.url,
            "--from",
            datetime.fromtimestamp(month.start, UTC).isoformat(),
            "--to",
            datetime.fromtimestamp(month.end, UTC).isoformat(),
            "--out",
            str(out),
            "--format",
            "json",
            "--format",
            "markdown",
            "--format",
            "html",
            "--format",
            "pdf",
            "--gate-log",
            str(gate_log),
            "--audit-log",
            str(audit_log),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def report(written: Path) -> dict[str, Any]:
    [path] = [
        p
        for p in written.glob("slo-report-*.json")
        if "-shop." not in p.name and "-search." not in p.name
    ]
    return dict(json.loads(path.read_text()))


def slo(report: dict[str, Any], service: str) -> dict[str, Any]:
    [found] = [s for s in report["services"] if s["service"] == service]
    return dict(found["slos"][0])


def events(month: Month, service: str, first: int, last: int) -> tuple[float, float]:
    bad, total = month.counts(service)
    return bad(last) - bad(first), total(last) - total(first)


def test_the_sli_of_the_period_is_exact(report: dict[str, Any], month: Month) -> None:
    for service in RATES:
        bad, total = events(month, service, month.start, month.end)
        figures = slo(report, service)
        assert figures["total"] == pytest.approx(total, rel=1e-9)
        assert figures["bad"] == pytest.approx(bad, rel=1e-6)
        assert figures["sli"] == pytest.approx(1 - bad / total, abs=1e-6)
        assert figures["coverage"] == 1.0
    assert slo(report, "shop")["status"] == "met"
    assert slo(report, "search")["status"] == "missed"


def test_budgets_equal_the_counts(report: dict[str, Any], month: Month) -> None:
    for service in RATES:
        bad, total = events(month, service, month.start, month.end)
        budget = slo(report, service)["budget"]
        assert budget["consumed"] == pytest.approx(bad / (BUDGET * total), abs=1e-4)
        for at, field in ((month.start, "window_start"), (month.end, "window_end")):
            window_bad, window_total = events(month, service, at - WINDOW, at)
            expected = 1 - window_bad / window_total / BUDGET
            assert budget[field] == pytest.approx(expected, abs=1e-4), (service, field)


def test_each_day_and_the_worst(report: dict[str, Any], month: Month) -> None:
    figures = slo(report, "shop")
    assert len(figures["days"]) == 30
    spent = 0.0
    _, period_total = events(month, "shop", month.start, month.end)
    for index, day in enumerate(figures["days"]):
        bad, total = events(
            month, "shop", month.start + index * DAY, month.start + (index + 1) * DAY
        )
        spent += bad
        assert day["total"] == pytest.approx(total, rel=1e-9)
        assert day["sli"] == pytest.approx(1 - bad / total, abs=1e-6)
        assert day["budget_left"] == pytest.approx(1 - spent / (BUDGET * period_total), abs=1e-4)
    worst = min(range(30), key=lambda i: figures["days"][i]["sli"])
    assert figures["worst_day"]["date"] == figures["days"][worst]["date"]
    assert worst == 12  # the five-hour slow burn


def recorded_offset(prometheus: Prometheus, service: str, window: int, at: int) -> float:
    """Seconds into the minute at which the group recording a window's burn rate runs."""
    metric = f"slo:burn_rate:{format_seconds(window)}"
    [burning] = prometheus.query(f'{metric}{{service="{service}"}}[1m]', at)
    return float(burning["values"][-1][0]) % MINUTE


def firing(
    month: Month, service: str, severity: str, offset: float, lags: dict[int, int]
) -> list[tuple[int, int]]:
    """When the generated alert fires, from the counts, at the minute marks `t` the rules ran
    `offset` seconds after: each tier's windows as the rules compute them (up to 1h the
    counters' own rate; longer, the average of the 5m rates). A range selector at `t +
    offset` holds the counters' samples at the minutes in [t + offset - window, t]: a window
    of `window - 1m` of counts when the group runs off the minute (the same for bad and all
    events, so rate()'s extrapolation cancels in their ratio). An alert whose group runs
    before the group recording a window's burn rate in the minute reads it a minute old: the
    window's `lags` entry."""
    short = MINUTE if offset else 0
    bad, total = month.counts(service)
    minutes = range(month.first + SLOT, month.last + 1, MINUTE)
    five = SLOT - short  # what each recorded 5m rate counts
    sums = list(itertools.accumulate((bad(m) - bad(m - five) for m in minutes), initial=0.0))
    rate = RATES[service]

    def ratio(t: int, window: int) -> float:
        if window <= 3600:
            counted = window - short
            return (bad(t) - bad(t - counted)) / (total(t) - total(t - counted))
        last = (t - minutes[0]) // MINUTE
        first = last - window // MINUTE + 1  # a 5m rate a minute in the window
        return (sums[last + 1] - sums[first]) / ((last + 1 - first) * rate * five)

    def fires(t: int) -> bool:
        return any(
            ratio(t - lags[long], long) / BUDGET > factor
            and ratio(t - lags[short], short) / BUDGET > factor
            for long, short, factor in TIERS[severity]
        )

    runs: list[tuple[int, int]] = []
    first = None
    for t in range(month.start, month.end + MINUTE, MINUTE):
        if t < month.end and fires(t):
            first = t if first is None else first
        elif first is not None:
            runs.append((first, t))
            first = None
    return runs


def test_incidents_are_the_alerts_the_rules_fire(
    report: dict[str, Any], month: Month, prometheus: Prometheus
) -> None:
    incidents = {
        (service, severity): [
            (
                datetime.fromisoformat(i["start"]).timestamp(),
                datetime.fromisoformat(i["end"]).timestamp(),
            )
            for i in slo(report, service)["incidents"]
            if i["severity"] == severity
        ]
        for service in RATES
        for severity in ("page", "ticket")
    }
    for (service, severity), seen in incidents.items():
        # Each group's offset into the minute, as its samples were written: an alert reads a
        # burn rate another group records a minute old when it runs earlier in the minute (the
        # page's 1h/5m tier is in its own group; its 6h/30m tier and the ticket's are not).
        windows = {w for tier in TIERS[severity] for w in tier[:2]}
        recorded = {w: recorded_offset(prometheus, service, w, month.end) for w in windows}
        offset = seen[0][0] % MINUTE if seen else recorded[3600]
        lags = {w: MINUTE if offset < at else 0 for w, at in recorded.items()}
        expected = firing(month, service, severity, offset, lags)
        assert len(seen) == len(expected), (service, severity, seen, expected)
        moved = [  # still firing at the period's end: it ends there, not at an evaluation
            (start - offset - first, end - (0 if last == month.end else offset) - last)
            for (start, end), (first, last) in zip(seen, expected, strict=True)
        ]
        # Each edge on the very evaluation the rules' arithmetic says.
        assert all(abs(a) < 1 and abs(b) < 1 for a, b in moved), (service, severity, moved)
    shop = slo(report, "shop")["incidents"]
    assert sum(1 for i in shop if i["severity"] == "page") == 2
    [ticket] = slo(report, "search")["incidents"]
    assert ticket["ongoing"] and ticket["severity"] == "ticket"


def test_an_incident_says_what_it_cost_and_how_long_the_burn_ran(
    report: dict[str, Any], month: Month
) -> None:
    figures = slo(report, "shop")
    _, period_total = events(month, "shop", month.start, month.end)
    for incident in figures["incidents"]:
        start = datetime.fromisoformat(incident["start"]).timestamp()
        end = datetime.fromisoformat(incident["end"]).timestamp()
        slots = [
            s
            for s in range(month.start + SLOT, month.end + 1, SLOT)
            if start < s and s - SLOT < end
        ]
        bad = sum(events(month, "shop", s - SLOT, s)[0] for s in slots)
        assert incident["budget_spent"] == pytest.approx(bad / (BUDGET * period_total), abs=1e-4)
    first_page = next(i for i in figures["incidents"] if i["severity"] == "page")
    began = month.at(5, 600)  # the 10% incident began here, on a slot's start
    assert datetime.fromisoformat(first_page["onset"]).timestamp() == began
    fired = datetime.fromisoformat(first_page["start"]).timestamp()
    assert first_page["detect_seconds"] == fired - began
    assert 0 < first_page["detect_seconds"] <= 12 * MINUTE


def test_delivery_counts_rollouts_failures_and_restores(
    report: dict[str, Any], month: Month
) -> None:
    [shop] = [s for s in report["services"] if s["service"] == "shop"]
    delivery = shop["delivery"]
    assert [r["canary"] for r in delivery["rollouts"]] == [
        'version="v2"',
        'version="v3"',
        'version="v4"',
    ]
    assert [r["verdict"] for r in delivery["rollouts"]] == ["pass", "fail", "pass"]
    assert [r["rolled_back"] for r in delivery["rollouts"]] == [False, True, False]
    assert delivery["change_failure_rate"] == 1 / 3
    assert [(a["action"], a["mode"]) for a in delivery["actions"]] == [
        ("scale_up", "dry-run"),
        ("undo", "enforce"),
    ]
    # Restored: the end of the first slot after the rollback burning under the ticket tier.
    rollback = month.at(20, 865)
    slot = rollback - rollback % SLOT + SLOT
    while True:
        slot += SLOT
        bad, total = events(month, "shop", slot - SLOT, slot)
        if bad / total / BUDGET <= 1.0:
            break
    assert delivery["restore_seconds"] == [slot - rollback]
    assert {c["labels"]["verdict"]: c["count"] for c in delivery["judged"]} == {
        "pass": 4,
        "inconclusive": 1,
        "fail": 1,
    }
    [search] = [s for s in report["services"] if s["service"] == "search"]
    assert search["delivery"]["change_failure_rate"] == 0.0


def test_budget_after_changes_is_told_from_the_rest(report: dict[str, Any], month: Month) -> None:
    figures = slo(report, "shop")
    _, period_total = events(month, "shop", month.start, month.end)
    began = [month.at(3, 600), month.at(20, 840), month.at(25, 540)]
    near = [
        s
        for s in range(month.start + SLOT, month.end + 1, SLOT)
        if any(c < s <= c + 3600 for c in began)
    ]
    bad = sum(events(month, "shop", s - SLOT, s)[0] for s in near)
    assert figures["after_changes"]["hours"] == pytest.approx(3.0)
    assert figures["after_changes"]["budget_spent"] == pytest.approx(
        bad / (BUDGET * period_total), abs=1e-4
    )
    assert figures["after_changes"]["per_hour"] > figures["elsewhere"]["per_hour"]


def test_compliance_and_the_queries_behind_it(report: dict[str, Any], written: Path) -> None:
    assert report["compliance"]["held"] == ["shop/availability"]
    assert report["compliance"]["missed"] == ["search/availability"]
    assert any("search/availability" in line for line in report["compliance"]["done"])
    assert report["problems"] == []
    purposes = {q["purpose"] for q in report["queries"]}
    assert {"events per 5-minute slot", "alert samples per day", "alert samples"} <= purposes
    # One document for all and one per service, in each format asked for.
    names = sorted(p.name.rsplit(".", 1)[1] for p in written.iterdir())
    assert names == ["html"] * 3 + ["json"] * 3 + ["md"] * 3 + ["pdf"] * 3
    markdown = next(written.glob("*-search.md")).read_text()
    assert "search/availability" in markdown and "shop" not in markdown.split("## Queries")[0]


def whole(written: Path, suffix: str) -> Path:
    [path] = [
        p
        for p in written.glob(f"slo-report-*{suffix}")
        if "-shop." not in p.name and "-search." not in p.name
    ]
    return path


def test_the_report_in_a_browser_draws_every_chart_with_its_data(
    report: dict[str, Any], written: Path, tmp_path: Path
) -> None:
    """Debian's Chromium opens the HTML: every chart is drawn, with the report's numbers, no
    error logged, no serious accessibility violation. With SLOGUARD_UPDATE_PICTURES=1 it is
    the docs' example."""
    with browsing(1100, 900) as visit:
        visit.page.goto(whole(written, ".html").as_uri())
        assert visit.page.title() == f"{report['title']}: {report['period']['name']}"
        drawn = visit.page.evaluate(
            """() => [...document.querySelectorAll('figure')].map(f => ({
                caption: f.querySelector('figcaption').innerText,
                width: f.querySelector('svg').getBoundingClientRect().width,
                lines: [...f.querySelectorAll('polyline.series')].map(l => ({
                    name: l.dataset.series, points: Number(l.dataset.points),
                    last: Number(l.dataset.last), length: l.getTotalLength()})),
                shaded: f.querySelectorAll('rect.span').length}))"""
        )
        # In the page's order: each service's SLO charts, then its timeline.
        for service in report["services"]:
            [figures] = service["slos"]
            budget, daily, timeline = drawn[:3]
            del drawn[:3]
            assert budget["caption"] == f"{figures['slo']}: Budget burn-down"
            assert daily["caption"] == f"{figures['slo']}: SLI per day"
            for chart in (budget, daily):
                [line] = chart["lines"]
                assert chart["width"] > 300 and line["length"] > 100, chart
                assert line["points"] == len(figures["days"]) == 30
            last = figures["days"][-1]
            assert budget["lines"][0]["last"] == pytest.approx(last["budget_left"], rel=1e-5)
            assert daily["lines"][0]["last"] == pytest.approx(last["sli"], rel=1e-5)
            assert timeline["caption"] == "Timeline"
            assert timeline["shaded"] == len(figures["incidents"])
        assert drawn == []
        assert sum(len(s["slos"][0]["incidents"]) for s in report["services"]) > 0
        assert visit.errors == []
        assert visit.accessibility_problems() == []
        picture(visit.page, "report.png", tmp_path)


def test_the_pdf_has_the_reports_pages_and_words(report: dict[str, Any], written: Path) -> None:
    """The PDF Chromium printed, read back by poppler: its pages as PNG (pdftoppm), each with
    ink on it, and its text (pdftotext) holding the report's figures."""
    pdf = whole(written, ".pdf")
    pages = written.parent / "pages"
    pages.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(pdf), str(pages / "page")], check=True)
    found = sorted(pages.glob("page-*.pgm"))
    assert len(found) >= 3  # the summary, then a service a page at least
    for page in found:
        assert inked(page) > 0.005, page.name  # not a blank page
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert text.count("\f") + 1 >= len(found)
    words = " ".join(text.split())
    assert report["title"] in words and "1 of 2 objectives held; 1 missed." in words
    for service in report["services"]:
        [figures] = service["slos"]
        assert service["service"] in text
        assert ratio(figures["sli"]) in text, ratio(figures["sli"])
    assert "Queries" in text


def inked(page: Path) -> float:
    """Share of a binary PGM's pixels darker than light grey."""
    data = page.read_bytes()
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
    assert header, data[:20]
    width, height = int(header.group(1)), int(header.group(2))
    pixels = data[header.end() :]
    assert len(pixels) == width * height
    return sum(1 for v in pixels if v < 200) / (width * height)


def test_the_agent_serves_and_writes_a_weeks_report(
    prometheus: Prometheus,
    month: Month,
    definitions: Path,
    logs: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """`run --report-every week --report-dir`: /reports/previous is the last ISO week, exact
    against the counts, and the same report is written once the week has settled."""
    week = containing(month.start + 8 * DAY, Calendar.WEEK)  # wholly inside the history
    clock = Clock(week.end + SETTLE_SECONDS + 60)
    out = tmp_path / "reports"
    gate_log, audit_log = logs
    assembly = assembled(
        definitions,
        clock=clock,
        prometheus=PrometheusSettings(prometheus.url),
        gate=GateSettings(log_path=gate_log),
        actions=ActionSettings(audit_log=audit_log),
        reports=ReportSettings(Calendar.WEEK, out),
    )
    assembly.agent.reload()
    http = api(assembly)

    async def scenario() -> dict[str, Any]:
        answer = await http.get("/reports/previous", params={"format": "json"})
        served = dict(answer.json())
        current = (await http.get("/reports/current", params={"format": "json"})).json()
        assert current["period"]["complete"] is False
        stop = asyncio.Event()
        task = asyncio.create_task(assembly.reports.run(stop))
        while not (out / f"{stem(week.name)}.json").exists():
            await asyncio.sleep(0.05)
        stop.set()
        await task
        await assembly.aclose()
        return served

    served = asyncio.run(scenario())
    assert served["period"]["name"] == week.name and served["problems"] == []
    for service in RATES:
        bad, total = events(month, service, int(week.start), int(week.end))
        figures = slo(served, service)
        assert figures["total"] == pytest.approx(total, rel=1e-9)
        assert figures["sli"] == pytest.approx(1 - bad / total, abs=1e-6)
    kept = json.loads((out / f"{stem(week.name)}.json").read_text())
    assert kept["services"] == served["services"]
    assert sorted(p.suffix for p in out.iterdir()) == [".html"] * 3 + [".json"] * 3 + [".md"] * 3


def test_calendar_windows_count_their_budget_from_their_start(
    prometheus: Prometheus, month: Month, tmp_path: Path
) -> None:
    """The same SLOs with a calendar week for window (the recorded series are the same): the
    window budget at each end of a period counts from the start of the week it falls in."""
    weekly = tmp_path / "weekly"
    weekly.mkdir()
    for name, text in DEFINITIONS.items():
        (weekly / name).write_text(text.replace("window: 7d", "window: week").lstrip())
    week = containing(month.start + 8 * DAY, Calendar.WEEK)
    start = int(week.start) + 2 * DAY + 3 * HOUR  # mid-week, to the week's end
    period = between(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(week.end, UTC))
    settings = PrometheusSettings(prometheus.url)

    async def reading() -> Any:
        async with client(settings) as http:
            source = PrometheusSource(http, settings)
            return await read(source, load([weekly]).services, period, week.end + DAY)

    inputs = asyncio.run(reading())
    for service in RATES:
        at_start, at_end = inputs.window_budget[(service, "availability")]
        for budget, until in ((at_start, start), (at_end, int(week.end))):
            bad, total = events(month, service, int(week.start), until)
            assert budget == pytest.approx(1 - bad / total / BUDGET, abs=1e-4), (service, until)
    spans = {q.query for q in inputs.asked if q.purpose.startswith("events over")}
    assert any("[2d3h]" in q for q in spans) and any("[7d]" in q for q in spans)
