import math

import pytest

from sloguard.burnrate import (
    WORKBOOK_TIERS,
    budget_spent,
    fast_windows,
    first_alone_seconds,
    tiers_for,
)
from sloguard.spec.model import SLO, Severity, Tier

SLI = {"events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}}


def slo(window: str = "30d", **alerting: object) -> SLO:
    return SLO.model_validate(
        {"name": "a", "objective": 99.9, "window": window, "sli": SLI, "alerting": alerting}
    )


def test_a_30d_window_gets_the_workbook_tiers() -> None:
    tiers = tiers_for(slo("30d"))
    assert [(t.severity, t.long, t.short, t.factor) for t in tiers] == [
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6),
        ("ticket", "1d", "2h", 3),
        ("ticket", "3d", "6h", 1),
    ]


@pytest.mark.parametrize("window", ["30d", "28d", "4w", "90d", "month"])
def test_scaled_tiers_spend_the_workbook_share_of_budget(window: str) -> None:
    model = slo(window)
    spent = [round(budget_spent(t, model.window_seconds), 2) for t in tiers_for(model)]
    assert spent == [0.02, 0.05, 0.1, 0.1]


def test_short_windows_never_go_below_the_5m_base() -> None:
    tiers = tiers_for(slo("7d"))
    assert [t.short for t in tiers] == ["5m", "7m", "28m", "1h24m"]
    assert [t.long for t in tiers] == ["14m", "1h24m", "5h36m", "16h48m"]


def test_a_one_day_window_keeps_long_windows_twice_the_short() -> None:
    tiers = tiers_for(slo("1d"))
    assert all(t.long and t.short for t in tiers)
    assert [t.long for t in tiers][:2] == ["10m", "12m"]


def test_custom_tiers_replace_the_defaults() -> None:
    custom = [{"severity": "page", "long": "2h", "short": "10m", "factor": 10}]
    [tier] = tiers_for(slo(windows=custom))
    assert (tier.long, tier.short, tier.factor) == ("2h", "10m", 10)
    assert len(WORKBOOK_TIERS) == 4


def pages(model: SLO) -> list[Tier]:
    return [t for t in tiers_for(model) if t.severity is Severity.PAGE]


def test_the_workbook_page_tier_that_can_only_be_first_hours_into_a_burn_is_not_fast() -> None:
    model = slo("30d")
    one_hour, six_hours = pages(model)
    # At every burn of 14.4x or more the 1h/5m tier fires first; below it, the 6h/30m tier
    # needs 6h * 6 / 14.4 = 2.5 hours. A full outage (1000x at 99.9%) trips 1h/5m in 52s.
    assert first_alone_seconds(six_hours, pages(model), 0.001) == pytest.approx(6 * 3600 * 6 / 14.4)
    assert first_alone_seconds(one_hour, pages(model), 0.001) == pytest.approx(3600 * 14.4 / 1000)
    assert fast_windows(model) == ["5m", "1h"]


def test_a_page_tier_that_can_be_first_within_the_hour_stays_fast() -> None:
    custom = [
        {"severity": "page", "long": "1h", "short": "5m", "factor": 14.4},
        # Fires first above 100x (5m * 100 < 1h * 14.4), leaving 1h/5m first from 14.4x to
        # 100x: 1h * 14.4 / 100, under 9 minutes in.
        {"severity": "page", "long": "5m", "short": "1m", "factor": 100},
    ]
    model = slo(windows=custom)
    assert first_alone_seconds(pages(model)[0], pages(model), 0.001) == pytest.approx(
        3600 * 14.4 / 100
    )
    assert fast_windows(model) == ["1m", "5m", "1h"]


def test_a_tier_another_always_beats_is_never_first() -> None:
    custom = [
        {"severity": "page", "long": "1h", "short": "5m", "factor": 14.4},
        {"severity": "page", "long": "2h", "short": "10m", "factor": 20},
    ]
    model = slo(windows=custom)
    assert math.isinf(first_alone_seconds(pages(model)[1], pages(model), 0.001))
    assert fast_windows(model) == ["5m", "1h"]


def test_a_low_objective_whose_page_needs_hours_records_no_burn_rate_fast() -> None:
    # At 90% the 14.4x tier cannot fire (it would need 144% errors); the 6x tier alone needs
    # 6h * 6 / 10 = 3.6 hours of a full outage.
    model = SLO.model_validate({"name": "a", "objective": 90, "window": "30d", "sli": SLI})
    [six_hours] = pages(model)
    assert first_alone_seconds(six_hours, [six_hours], 0.1) == pytest.approx(6 * 3600 * 6 / 10)
    assert fast_windows(model) == []


def test_with_a_low_traffic_guard_every_page_tier_is_fast() -> None:
    # On thin traffic the guard holds back the 1h/5m tier (its 5m window holds the fewest
    # events) while the 6h/30m tier pages an outage within minutes.
    assert fast_windows(slo(min_events=100)) == ["5m", "30m", "1h", "6h"]
