import pytest

from sloguard.burnrate import WORKBOOK_TIERS, budget_spent, tiers_for
from sloguard.spec.model import SLO

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
