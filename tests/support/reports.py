"""A week of one SLO's numbers, the input every report test starts from."""

from __future__ import annotations

from sloguard.reports.model import Inputs, Objective, Traffic
from sloguard.reports.period import named

PERIOD = named("2026-W47")  # Monday 2026-11-16 to the next Monday
SHOP = Objective("shop", "availability", 0.99, "7d", 7 * 86400, None, 1.0, "Requests", "web")


def traffic(bad_at: dict[float, float] | None = None) -> Traffic:
    """100 events per slot all week, 0 bad except where said."""
    slots = PERIOD.slots()
    return Traffic(
        bad={s: (bad_at or {}).get(s, 0.0) for s in slots}, total={s: 100.0 for s in slots}
    )


def inputs(**changes: object) -> Inputs:
    values: dict[str, object] = {
        "period": PERIOD,
        "until": PERIOD.end,
        "generated": PERIOD.end + 60,
        "objectives": [SHOP],
        "traffic": {SHOP.key: traffic()},
        "window_budget": {SHOP.key: (0.9, 0.5)},
        "alerts": {},
        "judged": {("shop", "pass"): 3.0, ("other", "fail"): 1.0},
        "acted": {},
    }
    values.update(changes)
    return Inputs(**values)  # type: ignore[arg-type]
