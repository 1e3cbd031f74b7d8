"""Recurring quiet periods (maintenance, deploy windows): when an SLO's tickets wait, written
as Alertmanager's time intervals read them."""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, Field

from sloguard.spec.base import Strict

# In Alertmanager's order: its weeks begin on Sunday, so a range never runs past Saturday.
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_DAY = "|".join(WEEKDAYS)
_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d"
_TIMES = re.compile(rf"({_CLOCK})-({_CLOCK}|24:00)")


def _weekdays(value: str) -> str:
    first, _, last = value.partition(":")
    if last and WEEKDAYS.index(first) > WEEKDAYS.index(last):
        raise ValueError(
            f"{value!r} runs backwards: Alertmanager's weeks begin on Sunday, so a range ends by "
            "Saturday (write `saturday` and `sunday` apart, or `sunday:saturday` for every day)"
        )
    return value


def _times(value: str) -> str:
    match = _TIMES.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a time range like 02:00-04:00 (24-hour clock)")
    start, end = match.groups()
    if start >= end:
        raise ValueError(
            f"{value!r} ends before it starts: a period past midnight is two ranges "
            "(22:00-24:00 and 00:00-02:00)"
        )
    return value


def _location(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone name such as Europe/Berlin") from exc
    return value


Weekdays = Annotated[
    str,
    Field(pattern=rf"^({_DAY})(:({_DAY}))?$"),
    AfterValidator(_weekdays),
]
Times = Annotated[str, AfterValidator(_times)]
Location = Annotated[str, AfterValidator(_location)]


class QuietPeriod(Strict):
    """A recurring period when the SLO's tickets wait (and its pages too, with `pages: true`):
    an Alertmanager time interval the ticket route mutes."""

    weekdays: tuple[Weekdays, ...] = Field(
        (), description="Days or ranges, e.g. `saturday`, `monday:friday` (default: every day)."
    )
    times: tuple[Times, ...] = Field(
        (), description="Times of day, e.g. `02:00-04:00` (default: all day)."
    )
    location: Location = Field("UTC", description="Time zone of `times`, e.g. `Europe/Berlin`.")
    pages: bool = Field(False, description="Hold back pages too (by default a page still pages).")

    def start_end(self) -> list[tuple[str, str]]:
        return [(t.split("-")[0], t.split("-")[1]) for t in self.times]
