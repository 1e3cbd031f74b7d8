"""Counters as people write them in OpenSLO and Pyrra files, read as rates over `{{window}}`."""

import re

import promql_parser
import pytest

from sloguard.spec.counters import NotACounter, counter_rates, per_second

W = "[{{window}}]"


@pytest.mark.parametrize(
    ("written", "rates"),
    [
        ('http_requests_total{job="x"}', f'sum(rate(http_requests_total{{job="x"}}{W}))'),
        (
            'sum(http_requests_total{job="x",code!~"5.."})',
            f'sum(rate(http_requests_total{{job="x",code!~"5.."}}{W}))',
        ),
        (
            "sum by (route) (http_requests_total)",
            f"sum by (route)(rate(http_requests_total{W}))",
        ),
        (
            'sum(payments_total{result="error"}) + sum(payments_total{result="timeout"})',
            f'sum(rate(payments_total{{result="error"}}{W})) + '
            f'sum(rate(payments_total{{result="timeout"}}{W}))',
        ),
        ("sum(a) - 0.5 * sum(b)", f"sum(rate(a{W})) - 0.5 * sum(rate(b{W}))"),
        ("(sum(a))", f"(sum(rate(a{W})))"),
        ("a unless b", f"sum(rate(a{W})) unless sum(rate(b{W}))"),
        (
            'http_requests_total{code=~"5.."} + http_timeouts_total',
            f'sum(rate(http_requests_total{{code=~"5.."}}{W})) + sum(rate(http_timeouts_total{W}))',
        ),
        ("-a_total * 16", f"-sum(rate(a_total{W})) * 16"),
        ('x{a=~"5\\\\d\\\\d"}', f'sum(rate(x{{a=~"5\\\\d\\\\d"}}{W}))'),
        ("x offset 1m", f"sum(rate(x{W} offset 1m))"),
        (
            'label_replace(sum(x), "a", "$1", "b", "(.+)\\\\.y")',
            f'label_replace(sum(rate(x{W})), "a", "$1", "b", "(.+)\\\\.y")',
        ),
    ],
)
def test_every_counter_selector_becomes_its_rate_and_the_rest_stays(
    written: str, rates: str
) -> None:
    assert counter_rates(written) == rates
    promql_parser.parse(rates.replace("{{window}}", "5m"))
    assert per_second(rates.replace("{{window}}", "5m"))


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("sum(rate(x[5m]))", "x[5m] already has a range"),
        ("sum(increase(x[1h]))", "x[1h] already has a range"),
        ("max_over_time(x[5m:1m])", "x[5m:1m] is a subquery"),
        ("sum(x", "invalid PromQL"),
        ("a_total * on(x) group_left(y) b_info", "vector matching"),
        ("limitk(2, a_total)", "limitk() is an experimental PromQL aggregation"),
        ("info(a_total)", "info() is an experimental PromQL function"),
    ],
)
def test_what_cannot_be_a_rate_is_refused_with_the_reason(written: str, reason: str) -> None:
    with pytest.raises(NotACounter, match=re.escape(reason)):
        counter_rates(written)


@pytest.mark.parametrize(
    ("query", "rate"),
    [
        ("sum(rate(x[5m]))", True),
        ("sum(irate(x[5m])) or vector(0)", True),
        ("histogram_count(sum(rate(x[5m])))", True),
        ("sum(increase(x[5m]))", False),
        ("sum(count_over_time(x[5m]))", False),
        ("count(up == 0)", False),
        ("sum(rate(x[5m])) + sum(y)", False),
        ("sum(rate(x[5m:1m]))", False),
        ("vector(1)", False),
    ],
)
def test_only_queries_of_per_second_rates_count_events(query: str, rate: bool) -> None:
    assert per_second(query) is rate


def test_a_query_nested_too_deeply_is_refused_not_a_crash() -> None:
    deep = "(" * 3000 + "x" + ")" * 3000
    with pytest.raises(NotACounter, match="nested too deeply"):
        counter_rates(deep)
    assert per_second(deep.replace("x", "rate(x[5m])")) is False
