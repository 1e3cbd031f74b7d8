from decimal import Decimal

import promql_parser
import pytest

from sloguard import promql
from sloguard.spec.model import SLI, Calendar
from sloguard.spec.promtext import le_pattern, number

EVENTS = SLI.model_validate(
    {
        "events": {
            "errors": 'sum(rate(e{code=~"5.."}[{{window}}]))',
            "total": "sum(rate(t[{{ window }}]))",
        }
    }
)
GOOD = SLI.model_validate(
    {"events": {"good": "sum(rate(g[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}}
)
RAW = SLI.model_validate({"raw": {"error_ratio": "avg_over_time(x[{{window}}])"}})
LATENCY = SLI.model_validate(
    {"latency": {"metric": "http_seconds", "selector": {"job": "a"}, "threshold": "1s"}}
)
IDS = {"service": "s", "slo": "o"}
IDS_SELECTOR = 'service="s",slo="o"'


def test_label_values_are_quoted_so_they_cannot_inject_promql() -> None:
    hostile = 'x"} or vector(1) #'
    parsed = promql_parser.parse(f"m{promql.selector({'slo': hostile})}")
    assert type(parsed).__name__ == "VectorSelector"
    assert [(m.name, m.value) for m in parsed.matchers.matchers] == [("slo", hostile)]


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("0.001"), "0.001"), (0.999, "0.999"), (14.4, "14.4"), (1.0, "1"), (300.0, "300")],
)
def test_numbers_are_written_as_decimals(value: Decimal | float, text: str) -> None:
    assert number(value) == text


def test_le_matches_whole_seconds_however_they_are_printed() -> None:
    assert le_pattern(1.0) == "1(\\\\.0)?"
    assert le_pattern(0.3) == "0\\\\.3"


@pytest.mark.parametrize("sli", [EVENTS, GOOD, RAW, LATENCY])
@pytest.mark.parametrize("window", ["5m", "30m", "1h", "6h", "3d"])
def test_every_expression_parses(sli: SLI, window: str) -> None:
    errors, total = promql.sli_rates(sli, window)
    for expr in (
        errors,
        total,
        promql.burn_rate(sli, IDS, window, Decimal("0.001")),
        promql.budget_remaining(IDS, Decimal("0.001")),
        promql.tier_condition(IDS, window, "5m", 14.4, 10),
    ):
        promql_parser.parse(expr)


def test_windows_up_to_an_hour_read_the_sli_itself_and_longer_ones_the_records() -> None:
    short = promql.error_ratio(EVENTS, IDS, "1h")
    assert 'increase(e{code=~"5.."}[1h]) / 3600' in short and "avg_over_time" not in short
    long = promql.error_ratio(EVENTS, IDS, "6h")
    assert f"avg_over_time({promql.ERRORS}" in long and "rate(e" not in long
    for days, span in (("1d", "23h45m"), ("3d", "2d23h45m"), ("30d", "29d23h45m")):
        # The 30m averages, half their span short, and the newest events they leave out.
        ratio = promql.error_ratio(EVENTS, IDS, days)
        assert f"sum_over_time({promql.ERRORS_COARSE}{{{IDS_SELECTOR}}}[{span}])" in ratio
        assert f"{promql.ERRORS_UNCOUNTED}{{{IDS_SELECTOR}}}" in ratio
    uncounted = promql.uncounted_events(promql.ERRORS_COARSE, promql.ERRORS, IDS)
    for fresh in ("10m", "20m", "30m"):
        assert f"avg_over_time({promql.ERRORS}{{{IDS_SELECTOR}}}[{fresh}])" in uncounted
    # The month's budget reads the window's sums of the averages alone, as last recorded.
    budget = promql.budget_remaining(IDS, Decimal("0.001"))
    for metric in (promql.ERRORS_WINDOW_SUM, promql.TOTAL_WINDOW_SUM):
        assert f"last_over_time({metric}{{{IDS_SELECTOR}}}[30m])" in budget
    # Without sums there is no budget, never a full one: the fallback is the sums' own.
    assert "rate5m" not in budget
    assert "uncounted" not in budget and "[30d]" not in budget
    assert promql.window_sum(promql.ERRORS_COARSE, IDS, 30 * 86400) == (
        f"sum_over_time({promql.ERRORS_COARSE}{{{IDS_SELECTOR}}}[30d]) * 600"
    )


@pytest.mark.parametrize(("window", "lag"), [("5m", 0), ("1h", 0), ("6h", 150), ("1d", 150)])
def test_smoothing_lag_grows_with_what_a_window_averages(window: str, lag: float) -> None:
    assert promql.smoothing_lag_seconds(window) == lag


def test_missing_good_events_count_as_all_bad() -> None:
    errors, total = promql.sli_rates(GOOD)
    assert errors == f"({total}) - ((sum((increase(g[5m]) / 300))) or (0 * ({total})))"


def test_latency_counts_requests_above_the_threshold_bucket() -> None:
    errors, total = promql.sli_rates(LATENCY)
    assert total == 'sum((increase(http_seconds_count{job="a"}[5m]) / 300))'
    assert errors == (
        total + ' - sum((increase(http_seconds_bucket{job="a",le=~"1(\\\\.0)?"}[5m]) / 300))'
    )


def test_the_low_traffic_guard_counts_events_over_the_short_window() -> None:
    assert promql.enough_events(IDS, "5m", 20) == (
        f'{promql.TOTAL}{{service="s",slo="o"}} * 300 >= 20'
    )
    assert promql.enough_events(IDS, "30m", 20).startswith(f"avg_over_time({promql.TOTAL}")


@pytest.mark.parametrize(
    ("calendar", "longest", "period"),
    [
        (Calendar.MONTH, "[31d:1h]", "month(vector(time() - 1))"),
        (Calendar.WEEK, "[7d:1h]", "floor((vector(time() - 1) - 345600) / 604800)"),
    ],
)
def test_calendar_budgets_count_from_the_start_of_the_period(
    calendar: Calendar, longest: str, period: str
) -> None:
    expr = promql.budget_remaining(IDS, Decimal("0.001"), calendar)
    promql_parser.parse(expr)
    assert expr.count(longest) == 2
    assert expr.count(period) == 2
    assert "@ end()" in expr
    assert "rate(e" not in expr  # reads the recorded averages, never the raw counters


def test_rates_over_a_window_are_read_as_the_events_counted_over_it() -> None:
    query = (
        'sum(rate(e{code=~"5.."}[30d])) / sum(rate (t[30d])) + sum(irate(t[30d]))'
        " + sum(rate(\n  t{path=~\"/a/(b|c)]\",q='it\\'s'}[ 30d ] ))"
        ' + sum(increase(t{path=~".*rate(y[30d]).*"}[30d]))'
    )
    found = promql.counted(query, "30d")
    assert found == (
        'sum((increase(e{code=~"5.."}[30d]) / 2592000)) / sum((increase(t[30d]) / 2592000))'
        " + sum(irate(t[30d]))"
        " + sum((increase(t{path=~\"/a/(b|c)]\",q='it\\'s'}[30d]) / 2592000))"
        ' + sum(increase(t{path=~".*rate(y[30d]).*"}[30d]))'
    )
    promql_parser.parse(found)
    # A rate that cannot be read so leaves the query, and its SLI's other query, as written.
    for other in ("sum(rate(t[1h]))", "sum(rate(t[30d:1m]))", "sum(rate(t[30d] offset 1h))"):
        assert promql.counted(f"sum(rate(e[30d])) / {other}", "30d") is None
    odd = SLI.model_validate(
        {"events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[1h]))"}}
    )
    assert promql.sli_rates(odd, "30d", fill=False) == ("sum(rate(e[30d]))", "sum(rate(t[1h]))")
    readings = promql.raw_readings(EVENTS, {"window": "30d"})
    assert "rate(" not in readings and readings.count("/ 2592000") == 2


@pytest.mark.timeout(30)  # quadratic scanning of a 1 MiB definition would take hours
@pytest.mark.parametrize(
    "hostile",
    [
        "rate(" + " " * 1_000_000 + "x",
        'rate(x{a="' + "a" * 1_000_000,
        "rate(x{a=" + '"\\' * 500_000,
        "'\\'" * 300_000,
        "sum(" + "rate(x " * 150_000 + ")",
    ],
    ids=["spaces", "unclosed-quote", "escaped-quotes", "single-quotes", "open-rates"],
)
def test_counting_a_hostile_query_costs_linear_time(hostile: str) -> None:
    found = promql.counted.__wrapped__(hostile, "5m")
    # None of them has a rate that can be rewritten; the one without a rate is left as it is.
    assert found is None if "rate(" in hostile else found == hostile


def test_a_shard_s_long_list_of_services_is_not_kept_in_the_selector_cache() -> None:
    names = [f"service-{i:04d}" for i in range(300)]
    before = promql._selector.cache_info().currsize
    events = promql.recorded_events(["5m", "30m", "6h"], names)
    assert promql.one_of("service", names) in events  # every selector names them all
    assert promql._selector.cache_info().currsize == before  # each reload would leave MBs
    promql.selector({"slo": "a"}, 'le="0.3"')
    assert promql._selector.cache_info().currsize <= before + 1  # short ones still are
