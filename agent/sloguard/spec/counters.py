"""Queries over raw counters to per-second rates over `{{window}}`, through the PromQL AST (pure).

OpenSLO's `counter: true` (and Pyrra's metrics) name counters as they are, usually aggregated:
`sum(http_requests_total{code!~"5.."})`, `sum by (route) (...)`, sometimes with arithmetic.
Every vector selector inside becomes `rate(<selector>[{{window}}])`; the aggregations, functions
and arithmetic around it stay as written. A selector outside any aggregation is summed, so
`a + b` adds two totals (rather than matching series whose labels never meet) and one SLO has
one series. What cannot be made a rate is refused with the reason: a range already written
(`rate(x[5m])`, a subquery), vector matching (`on`, `group_left`: it cannot tell a counter from
an info gauge), an experimental function.
"""

from __future__ import annotations

import functools
import json

import promql_parser as pp

WINDOW_RANGE = "[{{window}}]"
# Behind a feature flag in Prometheus 3, unknown before: rules using them fail to load.
EXPERIMENTAL_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})


class NotACounter(ValueError):
    """The query cannot be turned into rates of counters; the message says why."""


def counter_rates(query: str) -> str:
    """`query` with every counter selector read as its rate over `{{window}}`."""
    try:
        expr = pp.parse(query)
    except ValueError as exc:
        raise NotACounter(f"invalid PromQL: {exc}") from exc
    try:
        return _rewrite(expr, summed=False)
    except RecursionError as exc:  # a hostile file's thousand nested parentheses
        raise NotACounter("PromQL nested too deeply to read") from exc


def _rewrite(expr: object, summed: bool) -> str:
    """`summed`: inside an aggregation, which decides the labels; outside one a counter's rate
    is summed, so `a + b` adds two totals rather than matching series that never match."""
    if isinstance(expr, pp.VectorSelector):
        return _rate(expr) if summed else f"sum({_rate(expr)})"
    if isinstance(expr, pp.AggregateExpr):
        if str(expr.op) in EXPERIMENTAL_AGGREGATIONS:
            raise NotACounter(f"{expr.op}() is an experimental PromQL aggregation")
        # `sum by (a)(x{})`: the text before the operand is the operator, modifier and parameter.
        whole, operand = str(expr), str(expr.expr)
        return f"{whole[: len(whole) - len(operand) - 1]}{_rewrite(expr.expr, True)})"
    if isinstance(expr, pp.BinaryExpr):
        modifier = expr.modifier
        if modifier is not None and (modifier.matching is not None or modifier.group_labels):
            raise NotACounter(
                "vector matching (on, ignoring, group_left/right) is not read as counters: "
                "write the rates yourself with [{{window}}] as their range"
            )
        whole, left, right = str(expr), str(expr.lhs), str(expr.rhs)
        operator = f" {whole[len(left) : len(whole) - len(right)].strip()} "
        return f"{_rewrite(expr.lhs, summed)}{operator}{_rewrite(expr.rhs, summed)}"
    if isinstance(expr, pp.ParenExpr):
        return f"({_rewrite(expr.expr, summed)})"
    if isinstance(expr, pp.UnaryExpr):
        return f"-{_rewrite(expr.expr, summed)}"
    if isinstance(expr, pp.Call):
        if expr.func.experimental:
            raise NotACounter(f"{expr.func.name}() is an experimental PromQL function")
        args = ", ".join(_rewrite(arg, summed) for arg in expr.args)
        return f"{expr.func.name}({args})"
    if isinstance(expr, pp.MatrixSelector):
        raise NotACounter(
            f"{str(expr).replace('{}', '')} already has a range: with counter: true write the "
            "bare counter (sloguard takes its rate over each window), or write the rate "
            "yourself with [{{window}}] as its range"
        )
    if isinstance(expr, pp.SubqueryExpr):
        raise NotACounter(
            f"{str(expr).replace('{}', '')} is a subquery, which cannot be read as a counter"
        )
    if isinstance(expr, pp.StringLiteral):
        return quoted(expr.val)
    return str(expr)  # number literals


def _rate(selector: pp.VectorSelector) -> str:
    return f"rate({ranged(selector)})"


def ranged(selector: pp.VectorSelector) -> str:
    """`x{...}[{{window}}]`, an `offset` or `@` kept after the range where PromQL wants it."""
    return selector_text(selector, WINDOW_RANGE)


# MatchOp is not hashable: its members are told apart by their names.
_OPERATORS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def selector_text(
    selector: pp.VectorSelector, suffix: str = "", matchers: list[str] | None = None
) -> str:
    """PromQL for a selector (its own matchers, or `matchers`), `suffix` (a range) before any
    `offset` or `@`. Written here because the parser prints values without escaping them."""
    if selector.matchers.or_matchers:
        raise NotACounter(f"{selector} uses `or` between matchers, which sloguard cannot rewrite")
    if matchers is None:
        matchers = [
            matcher_text(m)
            for m in selector.matchers.matchers
            if not (m.name == "__name__" and selector.name)
        ]
    text = str(selector)
    moved = text[text.rindex("}") + 1 :]  # the matchers end there; only `offset`/`@` follow
    inner = f"{{{','.join(matchers)}}}" if matchers or not selector.name else ""
    return f"{selector.name or ''}{inner}{suffix}{moved}"


def matcher_text(matcher: pp.Matcher) -> str:
    """`name="value"`, the value escaped."""
    operator = _OPERATORS[str(matcher.op).rpartition(".")[2]]
    return f"{matcher.name}{operator}{quoted(matcher.value)}"


def quoted(value: str) -> str:
    """A PromQL string literal (Go's escapes, which JSON's are a subset of)."""
    return json.dumps(value, ensure_ascii=False)


RATES = frozenset({"rate", "irate"})


@functools.lru_cache(maxsize=4096)
def per_second(query: str) -> bool:
    """Whether `query` (with its range filled in) is built only from per-second rates of
    counters, so its value times a window's seconds counts the events in it. Counts over a
    window (`increase`, `count_over_time`), gauges and subqueries are not."""
    try:
        expr = pp.parse(query)
    except ValueError:
        return False
    found: list[bool] = []
    try:
        _rates(expr, found)
    except RecursionError:  # nested too deeply to tell: no event count is claimed
        return False
    return bool(found) and all(found)


def _rates(expr: object, found: list[bool]) -> None:
    """Appends, for every series the query reads, whether it is read as a rate."""
    if isinstance(expr, pp.Call):
        rate = expr.func.name in RATES
        for arg in expr.args:
            if rate and isinstance(arg, pp.MatrixSelector):
                found.append(True)
            else:
                _rates(arg, found)
    elif isinstance(expr, pp.VectorSelector | pp.MatrixSelector | pp.SubqueryExpr):
        found.append(False)
    elif isinstance(expr, pp.BinaryExpr):
        _rates(expr.lhs, found)
        _rates(expr.rhs, found)
    elif isinstance(expr, pp.AggregateExpr | pp.ParenExpr | pp.UnaryExpr):
        _rates(expr.expr, found)
