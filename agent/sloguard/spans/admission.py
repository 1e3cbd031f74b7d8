"""Which counter series of the trace SLIs are kept: room reserved per SLI, series unseen for
long forgotten, and versions the gate asks about preferred over the rest.

A fixed cap taken first come, first served let junk versions fill it for good, so a real
canary's spans were refused until a restart. Here each SLI has `per_sli` series of its own;
a full SLI makes room by forgetting its longest-unseen series when that one has been quiet
for `reuse_seconds`, or at once for a version the gate was asked about; and any series unseen
for `idle_seconds` is forgotten (a counter that stops may go: `rate()` reads a counter that
comes back as a reset). Pure: the time is a parameter.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Set

from sloguard.spans.counting import Series


class SeriesTable:
    """The series kept, per SLI in the order they were last seen."""

    def __init__(self, per_sli: int, idle_seconds: float, reuse_seconds: float) -> None:
        self.per_sli = per_sli
        self.idle_seconds = idle_seconds
        self.reuse_seconds = reuse_seconds
        self._seen: dict[str, OrderedDict[Series, float]] = {}

    def __len__(self) -> int:
        return sum(len(kept) for kept in self._seen.values())

    def admit(
        self, series: Series, now: float, wanted: Set[str] = frozenset()
    ) -> tuple[bool, list[Series]]:
        """Whether `series` may be counted, and the series forgotten to make room for it."""
        kept = self._seen.setdefault(series.sli, OrderedDict())
        if series in kept:
            kept[series] = now
            kept.move_to_end(series)
            return True, []
        if len(kept) < self.per_sli:
            kept[series] = now
            return True, []
        forgotten = self._room(kept, now, series.version in wanted, wanted)
        if forgotten is None:
            return False, []
        kept[series] = now
        return True, [forgotten]

    def expire(self, now: float) -> list[Series]:
        """Forget every series unseen for `idle_seconds`; the ones forgotten."""
        forgotten = []
        for kept in self._seen.values():
            while kept:
                oldest, seen = next(iter(kept.items()))
                if now - seen < self.idle_seconds:
                    break
                del kept[oldest]
                forgotten.append(oldest)
        return forgotten

    def _room(
        self, kept: OrderedDict[Series, float], now: float, preferred: bool, wanted: Set[str]
    ) -> Series | None:
        oldest, seen = next(iter(kept.items()))
        if now - seen >= self.reuse_seconds:
            del kept[oldest]
            return oldest
        if preferred:
            for candidate in kept:  # the longest-unseen series of a version nobody asked about
                if candidate.version not in wanted:
                    del kept[candidate]
                    return candidate
        return None
