"""A report from numbers: SLI from event sums, budgets, days, incidents, delivery, documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sloguard.reports.build import build, for_service
from sloguard.reports.figures import firing
from sloguard.reports.html import html
from sloguard.reports.markdown import markdown
from sloguard.reports.model import Acted, Decided, Objective, Traffic
from tests.support.reports import PERIOD, SHOP, inputs, traffic


def test_the_sli_is_a_ratio_of_event_sums_not_an_average_of_ratios() -> None:
    slots = PERIOD.slots()
    busy = Traffic(
        bad={s: (10.0 if i == 0 else 0.0) for i, s in enumerate(slots)},
        total={s: (1000.0 if i == 0 else 1.0) for i, s in enumerate(slots)},
    )
    [figures] = build(inputs(traffic={SHOP.key: busy})).services[0].slos
    total = 1000 + len(slots) - 1
    assert figures.sli == 1 - 10 / total  # an average of ratios would say 1 - 0.01 / 2016
    assert figures.budget.consumed == pytest.approx(10 / (0.01 * total))
    assert figures.status == "met"


def test_a_missed_objective_its_worst_day_and_the_burn_down() -> None:
    wednesday = PERIOD.start + 2 * 86400 + 3600
    bad = {s: 60.0 for s in PERIOD.slots() if wednesday < s <= wednesday + 3 * 3600}
    [figures] = build(inputs(traffic={SHOP.key: traffic(bad)})).services[0].slos
    assert figures.status == "missed"  # 36 slots of 60 bad: 2,160 > 1% of 201,600
    assert figures.worst_day is not None and figures.worst_day.date == "2026-11-18"
    lefts = [d.budget_left for d in figures.days]
    assert lefts[:2] == [1.0, 1.0] and lefts[2] == lefts[-1] == figures.budget.left
    assert (figures.budget.window_start, figures.budget.window_end) == (0.9, 0.5)


def test_missing_slots_are_no_data_never_good() -> None:
    empty = Traffic(bad={}, total={})
    [figures] = build(inputs(traffic={SHOP.key: empty})).services[0].slos
    assert figures.status == "no_data" and figures.sli is None and figures.coverage == 0
    half = Traffic(bad={}, total={s: 1.0 for s in PERIOD.slots()[::2]})
    [figures] = build(inputs(traffic={SHOP.key: half})).services[0].slos
    assert figures.coverage == 0.5


def test_alert_samples_become_incidents_with_their_cost_and_onset() -> None:
    assert firing([]) == []
    assert firing([100.0]) == [(100.0, 130.0)]
    assert firing([0, 30, 60, 300, 330]) == [(0, 90), (300, 360)]
    burning_from = PERIOD.start + 3600
    bad = {s: 50.0 for s in PERIOD.slots() if burning_from < s <= burning_from + 1800}
    fired = burning_from + 600 + 7
    samples = [fired + 30 * i for i in range(40)]
    report = build(
        inputs(traffic={SHOP.key: traffic(bad)}, alerts={("shop", "availability", "page"): samples})
    )
    [incident] = report.services[0].slos[0].incidents
    assert incident.severity == "page" and not incident.ongoing
    assert incident.start.timestamp() == fired and incident.seconds == 40 * 30
    assert incident.onset is not None and incident.onset.timestamp() == burning_from
    assert incident.detect_seconds == 607
    assert incident.bad == 50 * 4  # the bad slots it overlaps: those ending 01:15 to 01:30


def test_delivery_counts_rollouts_by_their_last_verdict_and_rollbacks() -> None:
    def at(hours: float) -> float:
        return PERIOD.start + hours * 3600

    decisions = [
        Decided(at(1), "shop", "v2", None, "inconclusive", ""),
        Decided(at(1.2), "shop", "v2", None, "pass", ""),
        Decided(at(5), "shop", "v3", None, "pass", ""),
        Decided(at(9), "shop", "v4", None, "fail", ""),
    ]
    bad = {s: 100.0 for s in PERIOD.slots() if at(5) < s <= at(6)}
    actions = [
        Acted(at(5.5), "a1", "shop", "undo", "enforce", "done", "rolled back", "burn"),
        Acted(at(7), "a2", "shop", "undo", "dry-run", "done", "would roll back", "burn"),
    ]
    report = build(inputs(traffic={SHOP.key: traffic(bad)}, decisions=decisions, actions=actions))
    delivery = report.services[0].delivery
    assert delivery.rollouts is not None
    assert [(r.canary, r.verdict, r.rolled_back) for r in delivery.rollouts] == [
        ("v2", "pass", False),
        ("v3", "pass", True),
        ("v4", "fail", False),
    ]
    assert delivery.change_failure_rate == 2 / 3
    assert delivery.restore_seconds == [at(6) + 300 - at(5.5)]
    assert [c.count for c in delivery.judged] == [3.0]  # only the service's own
    figures = report.services[0].slos[0]
    assert figures.after_changes.hours == 3.0 and figures.after_changes.bad == 100.0 * 12


def test_without_logs_the_figures_they_give_are_unknown_not_zero() -> None:
    delivery = build(inputs()).services[0].delivery
    assert delivery.rollouts is None and delivery.actions is None
    assert delivery.change_failure_rate is None
    assert "not known" in markdown(build(inputs()))


def test_documents_escape_what_definitions_and_logs_say() -> None:
    hostile = Objective(
        "shop", "availability", 0.99, "7d", 7 * 86400, None, 1.0, "<script>x</script> | y"
    )
    actions = [
        Acted(PERIOD.start + 60, "a", "shop", "scale_up", "dry-run", "done", "<img src=x>", "")
    ]
    forged = "pass\n\n<script>alert(1)</script> | x |\n# Forged heading"
    decisions = [Decided(PERIOD.start + 60, "shop", "v2", None, forged, "")]
    report = build(
        inputs(
            objectives=[hostile],
            actions=actions,
            decisions=decisions,
            judged={("shop", forged): 1.0},
        )
    )
    page = html(report)
    assert "<script>x" not in page and "<img src=x>" not in page and "<script>alert" not in page
    assert page.count("<svg") == 3  # burn-down, SLI per day, timeline
    text = markdown(report)
    assert "<script>" not in text and "\\| y" in text
    assert not any(line.lstrip().startswith("# Forged") for line in text.splitlines())
    assert for_service(report, "nobody").services == []
    assert datetime.fromisoformat(report.model_dump(mode="json")["period"]["start"]) == datetime(
        2026, 11, 16, tzinfo=UTC
    )


def test_compliance_says_what_was_done_about_a_missed_objective() -> None:
    bad = {s: 1000.0 for s in PERIOD.slots()[:24]}
    decisions = [Decided(PERIOD.start + 60, "shop", "v2", None, "fail", "burning")]
    report = build(inputs(traffic={SHOP.key: traffic(bad)}, decisions=decisions, actions=[]))
    assert report.compliance.missed == ["shop/availability"]
    assert report.compliance.done == [
        "shop/availability: 0 pages and 0 tickets fired",
        "shop: the gate failed 1 of 1 rollout; 0 rolled back",
        "shop: actions enforced: none",
    ]
