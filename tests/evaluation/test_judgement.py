"""The pure judgement: readings in, budget, burn rates, tiers, time left and status out."""

from __future__ import annotations

from pathlib import Path

import pytest

from sloguard.burnrate import alert_windows
from sloguard.evaluation.judgement import judge
from sloguard.evaluation.model import Origin, Reading, Status
from sloguard.spec.model import SLO
from tests.support.repo import load_text

WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]


@pytest.fixture
def slo(tmp_path: Path) -> SLO:
    loaded = load_text(
        tmp_path,
        """
        service: shop
        slos:
          - name: availability
            objective: 99.9
            sli:
              events:
                errors: sum(rate(e[{{window}}]))
                total: sum(rate(t[{{window}}]))
            alerting:
              min_events: 100
        """,
    )
    return loaded.services[0].slos[0]


def readings(burns: dict[str, float], whole: float, events: float = 1e6) -> dict[str, Reading]:
    """Readings with the given burn rates (budget 0.001) and SLO-window error ratio."""
    found = {w: Reading(burns.get(w, 0.0) * 0.001, events) for w in WINDOWS}
    found["30d"] = Reading(whole, events)
    return found


def test_healthy_traffic_is_ok(slo: SLO) -> None:
    e = judge("shop", slo, readings({w: 0.5 for w in WINDOWS}, 0.0004), 100.0, Origin.RULES)
    assert (e.status, e.page, e.ticket) == (Status.OK, False, False)
    assert e.sli == pytest.approx(0.9996) and e.error_budget_remaining == pytest.approx(0.6)
    assert e.reason == "60.0% of the error budget left"
    # 60% left at a 0.5x burn over 1h: 0.6 x 30 days / 0.5 = 36 days.
    assert e.exhausted_in_seconds == pytest.approx(0.6 * 30 * 86400 / 0.5)
    assert list(e.burn_rates) == WINDOWS and e.burn_rates["1h"] == pytest.approx(0.5)


def test_a_fast_burn_is_critical(slo: SLO) -> None:
    e = judge("shop", slo, readings({"5m": 20, "1h": 15}, 0.0002), 0, Origin.RAW)
    assert (e.status, e.page) == (Status.CRITICAL, True)
    assert e.reason == "burning 15.0x over 1h and 20.0x over 5m (the page threshold is 14.4x)"


def test_a_slow_burn_is_a_warning(slo: SLO) -> None:
    e = judge("shop", slo, readings({"3d": 1.5, "6h": 1.2}, 0.0002), 0, Origin.RAW)
    assert (e.status, e.page, e.ticket) == (Status.WARNING, False, True)


def test_a_long_burn_without_a_short_one_is_over(slo: SLO) -> None:
    e = judge("shop", slo, readings({"1h": 30, "5m": 0.1}, 0.0002), 0, Origin.RAW)
    assert e.status is Status.OK


def test_a_spent_budget_is_exhausted_before_anything_else(slo: SLO) -> None:
    e = judge("shop", slo, readings({"5m": 20, "1h": 15}, 0.0015), 0, Origin.RAW)
    assert e.status is Status.EXHAUSTED and e.error_budget_remaining == pytest.approx(-0.5)
    assert e.exhausted_in_seconds == 0.0


def test_the_guard_keeps_thin_traffic_from_paging(slo: SLO) -> None:
    thin = readings({"5m": 20, "1h": 15}, 0.0002)
    thin["5m"] = Reading(0.02, 50)  # 50 events in 5m, under the 100 the definition requires
    assert judge("shop", slo, thin, 0, Origin.RAW).page is False


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"30d": None}, "no samples over the 30d window"),
        ({"30d": Reading(None, None)}, "no samples over the 30d window"),
        ({"30d": Reading(0.0, 0)}, "no events over the 30d window"),
        ({"30d": Reading(0.0, 99)}, "99 events over the 30d window, fewer than the 100"),
        ({"2h": None, "6h": Reading(None, 5)}, "no samples over 2h, 6h"),
    ],
)
def test_missing_data_is_never_health(
    slo: SLO, change: dict[str, Reading | None], reason: str
) -> None:
    found = readings({}, 0.0)
    for window, reading in change.items():
        if reading is None:
            del found[window]
        else:
            found[window] = reading
    e = judge("shop", slo, found, 0, Origin.RAW)
    assert e.status is Status.NO_DATA and e.reason.startswith(reason)
    assert e.page is None and e.ticket is None


def test_windows_follow_the_slo_window(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        service: s
        slos:
          - name: four-weeks
            objective: 99
            window: 28d
            sli: {raw: {error_ratio: "avg_over_time(x[{{window}}])"}}
        """,
    )
    assert alert_windows(loaded.services[0].slos[0]) == [
        "5m",
        "28m",
        "56m",
        "1h52m",
        "5h36m",
        "22h24m",
        "2d19h12m",
    ]
