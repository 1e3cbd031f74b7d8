"""Periods: calendar months and ISO weeks in UTC, any span cut to slots, days."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sloguard.reports.period import before, between, containing, named
from sloguard.spec.model import Calendar


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_month_runs_from_its_first_midnight_to_the_next_months() -> None:
    period = named("2026-12")
    assert (period.start, period.end) == (at("2026-12-01"), at("2027-01-01"))
    assert period.calendar is Calendar.MONTH
    assert len(period.days()) == 31
    assert len(period.slots()) == 31 * 288


def test_an_iso_week_starts_on_monday() -> None:
    period = named("2026-W01")
    assert (period.start, period.end) == (at("2025-12-29"), at("2026-01-05"))


@pytest.mark.parametrize("text", ["2026-13", "2026-W54", "26-11", "november", "2026-11-01"])
def test_what_is_no_period_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=text):
        named(text)


def test_any_span_is_cut_to_slots_and_days() -> None:
    period = between(
        datetime(2026, 11, 3, 10, 7, tzinfo=UTC), datetime(2026, 11, 5, 1, 3, tzinfo=UTC)
    )
    assert period.start == at("2026-11-03T10:05") and period.end == at("2026-11-05T01:00")
    assert [d[0] for d in period.days()] == [
        at("2026-11-03T10:05"),
        at("2026-11-04"),
        at("2026-11-05"),
    ]
    assert period.slots(until=at("2026-11-03T10:17"))[-1] == at("2026-11-03T10:15")
    with pytest.raises(ValueError, match="end"):
        between(datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 3, 0, 4, tzinfo=UTC))


def test_the_previous_period_is_the_calendar_one_before() -> None:
    assert before(containing(at("2026-01-15"), Calendar.MONTH)).name == "2025-12"
    assert before(named("2026-W01")).name == "2025-W52"
    with pytest.raises(ValueError):
        before(between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)))
