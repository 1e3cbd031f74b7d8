"""Fakes at sloguard's own ports (never at a library's): a metric source with canned answers,
and a clock the test moves."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sloguard.errors import SourceUnavailable
from sloguard.evaluation.readings import Sample
from sloguard.promql import PART_LABEL

# A window's total as `promql.raw_readings` tags it; recorded-events queries tag bare windows.
_RAW_TOTAL = re.compile(f'"{PART_LABEL}", "([^"/]+)/total"')


def raw_windows(expr: str) -> list[str]:
    """The windows a raw-readings query (the SLI's own rates) reads; none for any other query."""
    return _RAW_TOTAL.findall(expr)


class Switchable:
    """Answers like a Prometheus with shop's rules loaded, or fails like one that is down."""

    def __init__(self) -> None:
        self.down = False

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        if self.down:
            raise SourceUnavailable("cannot reach Prometheus: ConnectError: refused", "connection")
        ids = {"service": "shop", "slo": "availability", "team": "web"}
        if expr.startswith("{__name__"):
            return [
                ({**ids, "__name__": f"slo:burn_rate:{w}"}, 0.5)
                for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
            ]
        if expr.startswith("slo:error_budget_remaining"):
            return [(ids, 0.75)]
        if expr.startswith("slo:sli_events:window"):
            return [(ids, 1e8)]
        if PART_LABEL in expr and not raw_windows(expr):
            windows = re.findall(f'"{PART_LABEL}", "([^"]+)"', expr)
            return [({**ids, PART_LABEL: w}, 1e6) for w in windows]
        return []

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """No history recorded (or down, like `query`)."""
        await self.query("", end)
        return []

    async def samples(
        self, expr: str, at: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """No raw samples either (or down)."""
        await self.query("", at)
        return []


class Clock:
    """A clock that stands still until the test moves `now`."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
