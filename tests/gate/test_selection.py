"""Canary and baseline selectors: checked, then injected into every vector selector."""

from __future__ import annotations

import promql_parser
import pytest

from sloguard import promql
from sloguard.errors import RequestError
from sloguard.gate.selection import inject, selector
from sloguard.loading import load
from tests.support.repo import REPO

CANARY = selector({"rollouts_pod_template_hash": "6d4f8c"})


def selectors(query: str) -> list[list[tuple[str, str, str]]]:
    """The matchers (name, op, value) of each vector selector as the parser reads them."""
    found: list[list[tuple[str, str, str]]] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append([(m.name, str(m.op), m.value) for m in node.matchers.matchers])

    promql_parser.walk(promql_parser.parse(query), visit)
    return found


@pytest.mark.parametrize(
    "query",
    [
        'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
        'sum by (le) (rate(h_bucket{le=~"0\\\\.3(\\\\.0)?"}[5m]))',
        'label_replace(a, "dst", "$1\\n", "src", "(.*)") + count_values("v\\\\", b)',
        "sum_over_time((c or d)[1h:1m] offset 5m) + rate(e[5m] @ 100) - -f",
        '{__name__=~"slo:.+"}  + on(x) group_left(y) g > bool 0.5',
    ],
)
def test_every_selector_gets_the_matchers_and_nothing_else_changes(query: str) -> None:
    injected = inject(query, CANARY)
    before = selectors(query)
    added = ("rollouts_pod_template_hash", "MatchOp.Equal", "6d4f8c")
    assert len(before) > 0
    assert selectors(injected) == [[*matchers, added] for matchers in before]


def test_each_selector_is_printed_alone_into_a_query_parsed_once() -> None:
    query = (
        'sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m])) + label_replace(y, "d", "a\\\\b", "", "")'
    )
    first, second = (selector({"pod": name}) for name in ("a", "b"))
    printed = [inject(query, chosen) for chosen in (first, second, first)]
    assert selectors(printed[1]) == [[*m, ("pod", "MatchOp.Equal", "b")] for m in selectors(query)]
    assert printed[0] == printed[2] != printed[1]
    inject.cache_clear()  # the first again, printed anew from the same parse
    assert inject(query, first) == printed[0]
    assert 'label_replace(y{pod="a"}, "d", "a\\\\b", "", "")' in printed[0]


def test_escapes_survive_the_round_trip() -> None:
    query = 'rate(h_bucket{le=~"0\\\\.3"}[5m])'
    injected = inject(query, selector({"v": 'a"b\\c'}))
    assert injected == 'rate(h_bucket{le=~"0\\\\.3",v="a\\"b\\\\c"}[5m])'
    assert selectors(injected) == [
        [("le", "MatchOp.Re", "0\\.3"), ("v", "MatchOp.Equal", 'a"b\\c')]
    ]


def test_every_bundled_sli_query_takes_a_selector() -> None:
    loaded = load([REPO / "slo-definitions"])
    for spec in loaded.services:
        for slo in spec.slos:
            for query in promql.sli_rates(slo.sli, "10m"):
                assert 'pod="c-1"' in inject(query, selector('{pod="c-1"}'))


def test_a_selector_may_be_written_as_promql() -> None:
    chosen = selector('{pod=~"checkout-canary-.*", version!="1.2"}')
    assert str(chosen) == '{pod=~"checkout-canary-.*",version!="1.2"}'


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ('{a="x"} or vector(1)', "expected label matchers only"),
        ('x{a="y"}', "expected label matchers only"),
        ('{a="x"} offset 5m', "expected label matchers only"),
        ('{a="x" or b="y"}', "expected label matchers only"),
        ('{a="x"}) or vector(1', "not a PromQL selector"),
        ({}, "at least one label matcher"),
        ({"__name__": "up"}, "not a label name"),
        ({"a-b": "x"}, "not a label name"),
        ({"a": "x\ny"}, "control characters"),
        ({"a": "x" * 300}, "longer than 256"),
        ('{a=~"("}', "regex"),
        ({f"l{i}": "x" for i in range(17)}, "at most 16"),
    ],
)
def test_unsafe_or_malformed_selectors_are_refused(
    spec: str | dict[str, str], message: str
) -> None:
    with pytest.raises(RequestError, match=message) as raised:
        selector(spec, "canary")
    assert str(raised.value).startswith("canary: ")


@pytest.mark.parametrize(
    "spec", [{"pod": '"} or vector(1) or {a="'}, '{pod="\\"} or vector(1) or {a=\\""}']
)
def test_an_injection_attempt_in_a_value_stays_a_value(spec: str | dict[str, str]) -> None:
    hostile = '"} or vector(1) or {a="'
    injected = inject("sum(rate(x[5m]))", selector(spec))
    tree = promql_parser.parse(injected)
    assert isinstance(tree, promql_parser.AggregateExpr)
    assert selectors(injected) == [[("pod", "MatchOp.Equal", hostile)]]
