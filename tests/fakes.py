"""Fakes at sloguard's own ports (never at a library's): a metric source with canned answers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sloguard.errors import SourceUnavailable
from sloguard.evaluation.readings import Sample


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
        if "sloguard_part" in expr and '/total"' not in expr:
            windows = re.findall(r'"sloguard_part", "([^"]+)"', expr)
            return [({**ids, "sloguard_part": w}, 1e6) for w in windows]
        return []
