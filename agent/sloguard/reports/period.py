"""The time a report covers: a calendar month or ISO week, or any span, in UTC, cut into the
5-minute slots every figure is summed from (the SLIs' recorded rate window, so slots tile time)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sloguard.burnrate import BASE_WINDOW_SECONDS
from sloguard.spec.model import Calendar

SLOT = BASE_WINDOW_SECONDS
DAY = 86400
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True)
class Period:
    """[start, end) in Unix seconds, both on a slot boundary; `calendar` when it is a whole
    calendar month or week (what a calendar-window SLO's budget resets with)."""

    name: str
    start: float
    end: float
    calendar: Calendar | None = None

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def slots(self, until: float | None = None) -> list[float]:
        """The end of every slot in the period (up to `until`, when the period is not over)."""
        last = self.end if until is None else min(self.end, _floor(until))
        return [float(t) for t in range(int(self.start) + SLOT, int(last) + 1, SLOT)]

    def days(self) -> list[tuple[float, float]]:
        """The period cut at UTC midnights: [start, end) of each day (the first and last may be
        part days when the period starts or ends within one)."""
        cuts = [self.start]
        midnight = (self.start // DAY + 1) * DAY
        while midnight < self.end:
            cuts.append(float(midnight))
            midnight += DAY
        cuts.append(self.end)
        return list(itertools.pairwise(cuts))


def named(text: str) -> Period:
    """`2026-11` (a month) or `2026-W47` (an ISO week), in UTC."""
    if match := _MONTH.fullmatch(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"{text!r}: there is no month {month}")
        first = datetime(year, month, 1, tzinfo=UTC)
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return Period(text, first.timestamp(), following.timestamp(), Calendar.MONTH)
    if match := _WEEK.fullmatch(text):
        try:
            monday = datetime.fromisocalendar(int(match[1]), int(match[2]), 1).replace(tzinfo=UTC)
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from None
        following = monday + timedelta(days=7)
        return Period(text, monday.timestamp(), following.timestamp(), Calendar.WEEK)
    raise ValueError(f"{text!r} is neither a month (2026-11) nor an ISO week (2026-W47)")


def between(start: datetime, end: datetime) -> Period:
    """Any span: its ends are moved back to a 5-minute boundary."""
    first, last = _floor(start.timestamp()), _floor(end.timestamp())
    if last <= first:
        raise ValueError("the period must end at least 5 minutes after it starts")
    name = f"{_iso(first)}..{_iso(last)}"
    return Period(name, first, last)


def containing(at: float, calendar: Calendar) -> Period:
    """The calendar month or week `at` falls in."""
    moment = datetime.fromtimestamp(at, UTC)
    if calendar is Calendar.MONTH:
        return named(f"{moment.year:04d}-{moment.month:02d}")
    year, week, _ = moment.isocalendar()
    return named(f"{year:04d}-W{week:02d}")


def before(period: Period) -> Period:
    """The calendar period just before `period` (a month or week)."""
    if period.calendar is None:
        raise ValueError("only a calendar month or week has a previous one")
    return containing(period.start - 1, period.calendar)


def slot_of(at: float) -> float:
    """The end of the slot `at` falls in (slots are (end - 5m, end])."""
    return float(-(-at // SLOT) * SLOT)


def utc(at: float) -> datetime:
    """A Unix time as a UTC datetime, as reports write times."""
    return datetime.fromtimestamp(at, UTC)


def _floor(at: float) -> float:
    return float(int(at // SLOT) * SLOT)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%MZ")
