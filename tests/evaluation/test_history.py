"""An SLO's history (pure): the range that shows its window, the queries of each kind, and the
answers shaped into bounded series and firing periods."""

from __future__ import annotations

from sloguard.evaluation.history import (
    MAX_PERIODS,
    MAX_SERIES,
    POINTS,
    firing,
    history,
    queries,
    span,
    trend_span,
    trends,
)
from sloguard.spec.model import SLO, ServiceSLOs

AT = 1_800_000_123.0


def slo(window: str = "30d", total: str = 'sum(rate(x_total{job="a"}[{{window}}]))') -> SLO:
    return SLO.model_validate(
        {
            "name": "availability",
            "objective": 99.9,
            "window": window,
            "sli": {"events": {"errors": total.replace("x_total", "x_errors"), "total": total}},
        }
    )


def test_the_range_shows_the_window_in_at_most_a_chart_s_points() -> None:
    for window, step in [("30d", 10800), ("7d", 2520), ("1d", 360), ("month", 10800)]:
        start, end, taken = span(slo(window), AT)
        assert taken == step and end == AT and (end - start) / taken <= POINTS
        assert end - start == slo(window).window_seconds
    assert span(slo("30d"), AT, 3600) == (AT - 3600, AT, 15)  # the recent past, asked for


def test_each_kind_reads_the_recorded_series_of_this_slo_only() -> None:
    spec = ServiceSLOs(service="shop", labels={"team": "web"}, slos=[slo()])
    asked = queries(spec, slo())
    assert set(asked) == {"sli", "budget", "burn_rate", "traffic", "alerts"}
    for expr in asked.values():
        assert 'service="shop"' in expr and 'slo="availability"' in expr
    # a handful of series however many groups: the worst at each time, the whole traffic
    assert asked["alerts"] == (
        "max by (alertname, sloguard_severity) "
        '(ALERTS{service="shop",slo="availability",alertstate="firing"})'
    )
    # as the SLO was defined at each time (tests/test_relabelled.py runs them)
    assert asked["burn_rate"] == (
        'max by (__name__) (({service="shop",slo="availability",__name__=~"slo:burn_rate:.+"}) '
        'and on(service, slo, team) sloguard_slo_info{service="shop",slo="availability"})'
    )
    assert asked["budget"].startswith("min(") and asked["traffic"].startswith("sum(")


def test_firing_periods_are_runs_of_samples_and_an_ongoing_one_ends_now() -> None:
    step = 60.0
    alerts = [
        ({"alertname": "SLOErrorBudgetBurn", "sloguard_severity": "page"},
         [(t, 1.0) for t in [600, 660, 720, 900, 960]]),  # a missed sample is not a gap...
        ({"alertname": "SLOErrorBudgetBurn", "sloguard_severity": "ticket", "path": "/x"},
         [(t, 1.0) for t in [300, 1140, 1200]]),
    ]  # fmt: skip
    found = firing(alerts, ("path",), step, 1200.0)
    assert [(f.severity, f.start, f.end, f.ongoing, f.group) for f in found] == [
        ("ticket", 300, 300, False, {"path": "/x"}),
        ("page", 600, 720, False, {}),
        ("page", 900, 960, False, {}),
        ("ticket", 1140, 1200, True, {"path": "/x"}),
    ]


def test_groups_beyond_a_chart_are_counted_and_not_finite_values_dropped() -> None:
    grouped = slo(total='sum by (path) (rate(x_total{job="a"}[{{window}}]))')
    budget = [
        ({"__name__": "slo:error_budget_remaining:ratio", "service": "shop",
          "slo": "availability", "path": f"/{i:02d}", "team": "web"},
         [(AT - 60, 0.5), (AT, float("nan"))])
        for i in range(MAX_SERIES + 3)
    ]  # fmt: skip
    burn = [({"__name__": "slo:burn_rate:1h", "path": "/a"}, [(AT, 2.0)])]
    seen = history("shop", grouped, AT, {"budget": budget, "burn_rate": burn}, {"sli": "down"})
    assert len(seen.series["budget"]) == MAX_SERIES and seen.left_out == {"budget": 3}
    assert seen.series["budget"][0].labels == {"path": "/00"}  # the group, nothing else
    assert seen.series["budget"][0].points == [(AT - 60, 0.5)]
    assert seen.series["burn_rate"][0].labels == {"path": "/a", "window": "1h"}
    assert seen.series["sli"] == [] and seen.missing == {"sli": "down"}
    assert [(t.severity, t.factor) for t in seen.thresholds][:2] == [("page", 14.4), ("page", 6)]
    month = history("shop", slo("month"), AT, {}, {})
    assert month.window_start > month.start  # the calendar month began within the range


def test_every_slo_s_trend_comes_from_one_query_over_the_longest_window() -> None:
    services = [
        ServiceSLOs.model_validate({"service": "shop", "slos": [
            slo("30d").model_dump(), {**slo("7d").model_dump(), "name": "weekly"}]}),
    ]  # fmt: skip
    start, end, step = trend_span(services, AT)
    assert (start, end) == (AT - 30 * 86400, AT) and step == 86400
    day = 86400.0
    answer = [
        ({"service": "shop", "slo": "availability", "path": "/a"},
         [(AT - 20 * day, 0.9), (AT, 0.8)]),
        ({"service": "shop", "slo": "availability", "path": "/b"},
         [(AT - 20 * day, 0.95), (AT, 0.5)]),
        ({"service": "shop", "slo": "weekly"}, [(AT - 20 * day, 0.1), (AT - day, float("nan")),
                                                (AT, 0.7)]),
        ({"service": "other", "slo": "x"}, [(AT, 0.1)]),
    ]  # fmt: skip
    assert trends(services, answer, AT) == {
        ("shop", "availability"): [(AT - 20 * day, 0.9), (AT, 0.5)],  # the worst group
        ("shop", "weekly"): [(AT, 0.7)],  # its own 7d window only
    }


def test_only_the_newest_firing_periods_are_kept_and_the_rest_counted() -> None:
    start, end, step = span(slo(), AT)
    flapping = [(start + i * 2 * step, 1.0) for i in range(int((end - start) / step / 2))]
    alerts = [({"alertname": "SLOErrorBudgetBurn", "sloguard_severity": "ticket"}, flapping)]
    seen = history("shop", slo(), AT, {"alerts": alerts}, {})
    assert len(seen.firing) == MAX_PERIODS and seen.left_out == {"alerts": len(flapping) - 100}
    assert seen.firing[-1].start == flapping[-1][0]  # the newest kept
