"""How reports say figures in words: durations, counts, verdicts and the headline."""

from __future__ import annotations

import pytest

from sloguard.reports import words
from sloguard.reports.build import build
from sloguard.reports.model import Decided
from tests.support.reports import PERIOD, SHOP, inputs, traffic

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (None, "—"),
        (29, "0 min"),
        (600, "10 min"),
        (3600, "1 h"),
        (3600 + 25 * 60, "1 h 25 min"),
        (47 * 3600, "47 h"),
        (60 * 3600, "2.5 days"),
    ],
)
def test_durations(seconds: float | None, said: str) -> None:
    assert words.duration(seconds) == said


def test_counts_ratios_and_shares() -> None:
    assert [words.counted(n, "ticket") for n in (0, 1, 2)] == ["0 tickets", "1 ticket", "2 tickets"]
    assert words.ratio(0.99952345) == "99.9523%" and words.ratio(None) == "—"
    assert words.share(-0.2) == "-20.0%" and words.events(1234567.4) == "1,234,567"


def test_verdicts_and_the_headline() -> None:
    assert words.verdicts(build(inputs()).services[0].delivery) == "not known (no gate log given)"
    decisions = [
        Decided(PERIOD.start + 60, "shop", "v2", None, "pass", ""),
        Decided(PERIOD.start + 7200, "shop", "v3", None, "fail", ""),
        Decided(PERIOD.start + 9000, "shop", "v4", None, "pass", ""),
    ]
    report = build(inputs(decisions=decisions, actions=[]))
    assert words.verdicts(report.services[0].delivery) == "3 (1 fail, 2 pass)"
    assert words.verdicts(build(inputs(decisions=[])).services[0].delivery) == "0"
    assert words.headline(report) == "1 of 1 objectives held."
    missed = build(inputs(traffic={SHOP.key: traffic({s: 1e3 for s in PERIOD.slots()[:24]})}))
    assert words.headline(missed) == "0 of 1 objectives held; 1 missed."
    assert words.headline(build(inputs(traffic={}))) == "0 of 1 objectives held; 1 without data."
