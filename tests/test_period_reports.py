"""The running agent's reports (`PeriodReports`, `/reports`): the current and previous period's
report read when asked, one read at a time and kept only for its 5-minute slot; each finished
period written once, after it settles, not while part of it cannot be read (for a day), never
again once there; and the HTTP answers, errors included, in JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sloguard import reporting
from sloguard.actions.runtime import ActionSettings
from sloguard.errors import SourceUnavailable, UnknownTarget
from sloguard.loading import load
from sloguard.reporting import (
    GRACE_SECONDS,
    RETRY_SECONDS,
    SETTLE_SECONDS,
    PeriodReports,
    ReportSettings,
    stem,
)
from sloguard.reports.period import before, containing, named
from sloguard.spec.model import Calendar, Definitions
from sloguard.telemetry.metrics import ReportMetrics
from tests.support.agent import api, assembled
from tests.support.fakes import Clock
from tests.support.repo import REPO

pytestmark = pytest.mark.unit

NOVEMBER = named("2026-11")
Series = list[tuple[dict[str, str], list[tuple[float, float]]]]


class Prometheus:
    """Answers every report query with nothing, counting them; queries holding one of
    `failing` fail as a Prometheus that is down does; `gate` holds every answer until set."""

    def __init__(self, failing: Sequence[str] = ()) -> None:
        self.asked: list[str] = []
        self.failing = list(failing)
        self.gate = asyncio.Event()
        self.gate.set()

    async def _answer(self, expr: str) -> list[object]:
        self.asked.append(expr)
        await self.gate.wait()
        if any(part in expr for part in self.failing):
            raise SourceUnavailable("cannot reach Prometheus: ConnectError: refused", "connection")
        return []

    async def query(self, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        await self._answer(expr)
        return []

    async def query_range(self, expr: str, start: float, end: float, step: float) -> Series:
        await self._answer(expr)
        return []

    async def samples(self, expr: str, at: float) -> Series:
        await self._answer(expr)
        return []


def reports(
    shop: Path, source: Prometheus, clock: Clock, out: Path | None = None
) -> tuple[PeriodReports, CollectorRegistry]:
    registry = CollectorRegistry()
    definitions = Definitions(1, tuple(load([shop]).services))
    found = PeriodReports(
        source,
        lambda: definitions,
        ReportSettings(Calendar.MONTH, out),
        ReportMetrics(registry).written,
        clock=clock,
    )
    return found, registry


def written(registry: CollectorRegistry, result: str) -> float:
    return registry.get_sample_value("sloguard_reports_written_total", {"result": result}) or 0


def test_the_periods_are_the_calendar_ones_around_now(shop_definitions: Path) -> None:
    found, _ = reports(shop_definitions, Prometheus(), Clock(NOVEMBER.start + 3600))
    assert found.period("current").name == "2026-11"
    assert found.period("previous").name == "2026-10"
    weekly = PeriodReports(
        Prometheus(), lambda: Definitions(0, ()), ReportSettings(Calendar.WEEK),
        ReportMetrics(CollectorRegistry()).written, clock=Clock(NOVEMBER.start),
    )  # fmt: skip
    assert weekly.period("previous").name == before(containing(NOVEMBER.start, Calendar.WEEK)).name


def test_a_report_is_kept_for_its_slot_and_read_again_after(shop_definitions: Path) -> None:
    clock, source = Clock(NOVEMBER.start + 86_400 + 60), Prometheus()
    found, _ = reports(shop_definitions, source, clock)

    async def scenario() -> None:
        first = await found.report("current")
        asked = len(source.asked)
        assert asked >= 3  # events, window budgets, alerts, counters: a few, not one per SLO
        clock.now += 200  # the same 5-minute slot: the same report, nothing asked
        assert await found.report("current") is first
        assert len(source.asked) == asked
        clock.now += 100  # the next slot: read again, never the old one as current
        again = await found.report("current")
        assert again is not first and again.generated > first.generated
        assert len(source.asked) == 2 * asked

    asyncio.run(scenario())


def test_callers_at_once_share_one_read(shop_definitions: Path) -> None:
    clock, source = Clock(NOVEMBER.start + 86_400), Prometheus()
    found, _ = reports(shop_definitions, source, clock)

    async def scenario() -> None:
        source.gate.clear()
        callers = [asyncio.create_task(found.report("previous")) for _ in range(20)]
        await asyncio.sleep(0.05)
        assert len(source.asked) == 1  # the first caller's first query; the rest wait
        source.gate.set()
        answers = await asyncio.gather(*callers)
        assert all(a is answers[0] for a in answers)
        one = len(source.asked)
        await found.report("previous")
        assert len(source.asked) == one

    asyncio.run(scenario())


def test_a_report_missing_a_part_is_not_kept(shop_definitions: Path) -> None:
    clock, source = Clock(NOVEMBER.start + 86_400), Prometheus(failing=["ALERTS"])
    found, _ = reports(shop_definitions, source, clock)

    async def scenario() -> None:
        first = await found.report("current")
        assert first.problems and any("alerts" in p for p in first.problems)
        asked = len(source.asked)
        await found.report("current")
        assert len(source.asked) == 2 * asked

    asyncio.run(scenario())


def test_callers_waiting_on_a_read_that_fails_share_its_failure(
    shop_definitions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reporting, "READ_SECONDS", 0.2)
    clock, source = Clock(NOVEMBER.start + 86_400), Prometheus()
    found, _ = reports(shop_definitions, source, clock)

    async def scenario() -> None:
        source.gate.clear()  # a Prometheus that never answers
        callers = [asyncio.create_task(found.report("current")) for _ in range(8)]
        done = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 2)
        assert all(isinstance(d, SourceUnavailable) for d in done)
        assert len(source.asked) == 1  # one read for all eight, not one after another
        with pytest.raises(UnknownTarget):  # refused before anything is read
            await found.document("current", "html", "nope")
        assert len(source.asked) == 1

    asyncio.run(scenario())


def test_a_period_that_just_began_is_an_empty_report_not_an_error(
    shop_definitions: Path,
) -> None:
    source = Prometheus()
    found, _ = reports(shop_definitions, source, Clock(NOVEMBER.start + 10))
    report = asyncio.run(found.report("current"))
    assert report.period.name == "2026-11" and report.problems == []
    assert [f.status for s in report.services for f in s.slos] == ["no_data"]
    assert source.asked == []  # nothing to ask for yet
    assert "2026-11" in asyncio.run(found.document("current", "html"))


def test_one_service_and_every_format(shop_definitions: Path) -> None:
    found, _ = reports(shop_definitions, Prometheus(), Clock(NOVEMBER.start + 86_400))

    async def scenario() -> None:
        whole = json.loads(await found.document("previous", "json"))
        assert whole["period"]["name"] == "2026-10" and whole["period"]["complete"] is True
        assert [s["service"] for s in whole["services"]] == ["shop"]
        one = json.loads(await found.document("previous", "json", "shop"))
        assert one["title"].endswith(": shop")
        assert (await found.document("previous", "html")).lstrip().startswith("<!DOCTYPE html>")
        assert "availability" in await found.document("previous", "markdown")
        with pytest.raises(UnknownTarget, match="no service 'nope'"):
            await found.document("previous", "html", "nope")

    asyncio.run(scenario())


def test_a_finished_period_is_written_once_after_it_settles(
    shop_definitions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    clock, source = Clock(NOVEMBER.end + SETTLE_SECONDS - 60), Prometheus()
    found, registry = reports(shop_definitions, source, clock, out)

    async def scenario() -> None:
        # Ten minutes after November ended, October is the last settled month: written at
        # start (it was missing); November waits until it settles.
        wait = await found._write_due()
        assert sorted(p.name for p in out.iterdir()) == sorted(
            f"{stem('2026-10')}{part}.{ext}"
            for part in ("", "-shop")
            for ext in ("json", "html", "md")
        )
        assert wait == pytest.approx(60)
        clock.now += 60
        await found._write_due()
        assert (out / f"{stem('2026-11')}.json").is_file()
        report = json.loads((out / f"{stem('2026-11')}.json").read_text())
        assert report["period"]["name"] == "2026-11" and report["period"]["complete"] is True
        asked = len(source.asked)
        await found._write_due()  # already there: nothing read, nothing written again
        assert len(source.asked) == asked and written(registry, "written") == 2

    asyncio.run(scenario())


def test_a_report_missing_a_part_is_retried_then_written_naming_it(
    shop_definitions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    clock = Clock(NOVEMBER.end + SETTLE_SECONDS)
    found, registry = reports(shop_definitions, Prometheus(failing=["ALERTS"]), clock, out)

    async def scenario() -> None:
        assert await found._write_due() == RETRY_SECONDS
        assert not (out / f"{stem('2026-11')}.json").exists()
        assert written(registry, "incomplete") == 1
        clock.now += GRACE_SECONDS  # a day after the first try: written, saying what is missing
        await found._write_due()
        report = json.loads((out / f"{stem('2026-11')}.json").read_text())
        assert any("alerts" in p for p in report["problems"])
        assert written(registry, "written") == 1

    asyncio.run(scenario())


def test_a_late_start_with_prometheus_down_waits_a_day_before_writing_what_it_has(
    shop_definitions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    clock = Clock(NOVEMBER.end + 3 * 86_400)  # started days after November ended
    found, registry = reports(shop_definitions, Prometheus(failing=["slo"]), clock, out)
    assert asyncio.run(found._write_due()) == RETRY_SECONDS
    assert not out.exists() or list(out.iterdir()) == []
    assert written(registry, "incomplete") == 1


def test_a_write_that_fails_halfway_leaves_no_whole_set_and_is_done_again(
    shop_definitions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    (out / f"{stem('2026-11')}.md").mkdir(parents=True)  # in the way of one document
    clock = Clock(NOVEMBER.end + SETTLE_SECONDS)
    found, registry = reports(shop_definitions, Prometheus(), clock, out)
    assert asyncio.run(found._write_due()) == RETRY_SECONDS
    assert written(registry, "failed") == 1
    assert not (out / f"{stem('2026-11')}.json").exists()  # the marker of a whole set
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    (out / f"{stem('2026-11')}.md").rmdir()
    asyncio.run(found._write_due())
    names = {p.name for p in out.iterdir()}
    assert {f"{stem('2026-11')}.{ext}" for ext in ("json", "html", "md")} <= names


def test_the_schedule_survives_what_it_did_not_expect(
    shop_definitions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    gate_log = tmp_path / "gate.log"
    gate_log.write_text("[" * 30_000 + "\n")  # nested past Python's recursion limit
    clock = Clock(NOVEMBER.end + SETTLE_SECONDS)
    registry = CollectorRegistry()
    definitions = Definitions(1, tuple(load([shop_definitions]).services))
    found = PeriodReports(
        Prometheus(), lambda: definitions, ReportSettings(Calendar.MONTH, out),
        ReportMetrics(registry).written, gate_log=gate_log, clock=clock,
    )  # fmt: skip
    failures, write = iter([RuntimeError("a bug")]), reporting.write

    def flaky(*args: object) -> list[Path]:
        for failure in failures:
            raise failure
        return write(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(reporting, "write", flaky)
    monkeypatch.setattr(reporting, "RETRY_SECONDS", 0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(found.run(stop))
        for _ in range(500):
            if (out / f"{stem('2026-11')}.json").exists():
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert written(registry, "failed") == 1 and written(registry, "written") == 1


def test_prometheus_down_writes_nothing_and_is_counted(
    shop_definitions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    clock = Clock(NOVEMBER.end + SETTLE_SECONDS)
    found, registry = reports(shop_definitions, Prometheus(failing=["slo"]), clock, out)
    (out / "notes.txt").parent.mkdir()
    (out / "notes.txt").write_text("kept")

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(found.run(stop))
        while written(registry, "incomplete") + written(registry, "failed") == 0:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_the_agent_serves_reports_and_says_when_it_cannot(
    shop_definitions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(NOVEMBER.start + 86_400)
    source = Prometheus()
    assembly = assembled(shop_definitions, source, clock=clock)
    assembly.agent.reload()
    http = api(assembly)

    async def scenario() -> None:
        page = await http.get("/reports")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert 'href="/reports/previous?service=shop"' in page.text and "2026-10" in page.text
        assert '<a href="/reports" aria-current="page">Reports</a>' in page.text
        assert 'href="/reports">Reports</a>' in (await http.get("/gate")).text
        html = await http.get("/reports/current")
        assert html.headers["content-type"] == "text/html; charset=utf-8"
        assert "2026-11" in html.text
        answer = await http.get("/reports/previous", params={"format": "json"})
        assert answer.json()["period"]["name"] == "2026-10"
        markdown = await http.get("/reports/previous", params={"format": "markdown"})
        assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
        for path, params, status in [
            ("/reports/previous", {"service": "nope"}, 404),
            ("/reports/yesterday", {}, 422),
            ("/reports/current", {"format": "pdf"}, 422),
            ("/reports/current", {"service": "x" * 300}, 422),
        ]:
            refused = await http.get(path, params=params)
            assert refused.status_code == status, (path, params)
            assert refused.headers["content-type"] == "application/json"
        monkeypatch.setattr(reporting, "READ_SECONDS", 0.05)
        source.gate.clear()  # a Prometheus that does not answer in time
        clock.now += 600  # the next slot reads again
        down = await http.get("/reports/current")
        assert down.status_code == 503 and "took over 0.05s" in down.json()["detail"]
        source.gate.set()

    asyncio.run(scenario())


def test_the_counters_reports_read_start_at_zero_for_what_is_defined(tmp_path: Path) -> None:
    """A counter child that appears at 1 has no earlier sample for `increase()` to grow from:
    what the definitions name is exported at 0 as soon as they load (and on reloads)."""
    definitions = tmp_path / "defs"
    definitions.mkdir()
    (definitions / "checkout.yaml").write_text(
        (REPO / "slo-definitions" / "checkout.yaml").read_text()
    )
    assembly = assembled(definitions, Prometheus(), actions=ActionSettings())
    registry = assembly.registry
    assert (
        registry.get_sample_value(
            "sloguard_gate_decisions_total", {"service": "checkout", "verdict": "pass"}
        )
        is None
    )
    assembly.agent.reload()
    slos = [slo.name for slo in assembly.agent.services[0].slos]
    for verdict in ("pass", "fail", "inconclusive"):
        labels = {"service": "checkout", "verdict": verdict}
        assert registry.get_sample_value("sloguard_gate_decisions_total", labels) == 0
        for slo in slos:
            labels = {"service": "checkout", "slo": slo, "verdict": verdict}
            assert registry.get_sample_value("sloguard_gate_slo_verdicts_total", labels) == 0
    # checkout may undo its Deployment and scale it, both as dry runs.
    for action in ("undo", "scale_up", "give_back"):
        for result in ("done", "held", "conflict", "failed"):
            labels = {"service": "checkout", "action": action, "mode": "dry-run", "result": result}
            assert registry.get_sample_value("sloguard_actions_total", labels) == 0
    labels = {"service": "checkout", "action": "abort", "mode": "dry-run", "result": "done"}
    assert registry.get_sample_value("sloguard_actions_total", labels) is None
