"""Which series belong to the canary or the baseline: label matchers, checked, then injected
into every vector selector of an SLI query through the PromQL parser, never by pasting text.

promql-parser prints string values as it holds them, unescaped (`"a\\.b"` parses to `a\\.b`
and prints back as `"a\\.b"`, which Prometheus rejects), so every string is escaped before
printing and the printed query is parsed again and compared, so a printer that changes its
mind fails loudly instead of querying something else.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import promql_parser as pp

from sloguard.errors import RequestError
from sloguard.spec.base import LABEL_NAME_PATTERN

MAX_MATCHERS = 16
MAX_VALUE_LENGTH = 256
MAX_SELECTOR_LENGTH = 2048
_LABEL_NAME = re.compile(LABEL_NAME_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON may carry one; UTF-8 cannot
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
# MatchOp values are not hashable: keyed by their text.
_MATCH_OPS = {"=": pp.MatchOp.Equal, "!=": pp.MatchOp.NotEqual, "=~": pp.MatchOp.Re}
_MATCH_OPS["!~"] = pp.MatchOp.NotRe
_OPS = {str(op): text for text, op in _MATCH_OPS.items()}


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher: `name op "value"` with op one of `=`, `!=`, `=~`, `!~`."""

    name: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value, ensure_ascii=False)}"


@dataclass(frozen=True, slots=True)
class Selector:
    """The matchers choosing one version's series (e.g. `rollouts_pod_template_hash="abc"`)."""

    matchers: tuple[Matcher, ...]

    def __str__(self) -> str:
        return "{" + ",".join(map(str, self.matchers)) + "}"


def selector(spec: str | Mapping[str, str], what: str = "selector") -> Selector:
    """A checked selector from PromQL text (`{a="x",b=~"y.*"}`) or a map of equalities.

    Raises RequestError naming `what` (e.g. `canary`) and the problem."""
    if isinstance(spec, str):
        matchers = _parsed(spec, what)
    else:
        matchers = [Matcher(str(name), "=", value) for name, value in spec.items()]
    if not matchers:
        raise RequestError(f"{what}: at least one label matcher is needed")
    if len(matchers) > MAX_MATCHERS:
        raise RequestError(f"{what}: at most {MAX_MATCHERS} label matchers")
    for matcher in matchers:
        _check(matcher, what)
    return Selector(tuple(matchers))


@functools.lru_cache(maxsize=4096)
def inject(query: str, chosen: Selector) -> str:
    """`query` with the matchers of `chosen` added to every vector selector.

    Cached: the parser compiles every regular expression it meets (a tenth of a millisecond
    for `code=~"5.."`), while Argo asks about the same selectors at every poll. The printed
    query is parsed again and must hold exactly the strings intended."""
    template = _template(query)
    escaped = [_escaped(pp.Matcher(_MATCH_OPS[m.op], m.name, m.value)) for m in chosen.matchers]
    added = [str(m) for m in escaped]
    expected: list[str] = []
    for strings in template.strings:
        expected.extend([strings] if isinstance(strings, str) else [*strings, *added])
    with template.lock:
        for node, own in template.selectors:
            node.matchers = pp.Matchers(own + escaped)
        text = str(template.tree)
    if list(_strings(pp.parse(text))) != expected:
        raise RuntimeError(f"promql-parser printed {query!r} as {text!r}, changing its strings")
    return text


@dataclass(frozen=True)
class _Template:
    """A query parsed once and printed again for each selector (its trees cannot be copied):
    its vector selectors with their own matchers escaped, and the strings it holds in order
    (a selector's matchers, or a literal), before escaping."""

    tree: object
    selectors: list[tuple[pp.VectorSelector, list[pp.Matcher]]]
    strings: list[str | list[str]]
    lock: threading.Lock


@functools.lru_cache(maxsize=256)
def _template(query: str) -> _Template:
    tree = pp.parse(query)
    selectors = []
    strings: list[str | list[str]] = []
    for node in _nodes(tree):
        if isinstance(node, pp.VectorSelector):
            own = [_escaped(m) for m in node.matchers.matchers]
            selectors.append((node, own))
            strings.append([str(m) for m in own])
        elif isinstance(node, pp.StringLiteral):
            strings.append(node.val)
            node.val = _escape(node.val)
    return _Template(tree, selectors, strings, threading.Lock())


@functools.lru_cache(maxsize=1024)
def used_labels(query: str) -> frozenset[str]:
    """Every label a query matches on, aggregates by or without, joins on or ignores, or
    names in `label_replace`/`label_join`: labels a caller's matcher must not touch, since
    adding one there changes what the query counts (`code="200"` empties the bad events)."""
    labels: set[str] = set()
    for node in _nodes(pp.parse(query)):
        if isinstance(node, pp.VectorSelector):
            labels.update(m.name for m in node.matchers.matchers)
        elif isinstance(node, pp.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)
        elif isinstance(node, pp.BinaryExpr) and node.modifier is not None:
            modifier = node.modifier
            if modifier.matching is not None:
                labels.update(modifier.matching.labels)
            labels.update(modifier.group_labels or ())
        elif isinstance(node, pp.Call) and node.func.name in ("label_replace", "label_join"):
            # label_replace(v, dst, replacement, src, regex); label_join(v, dst, sep, src...)
            sources = node.args[3:4] if node.func.name == "label_replace" else node.args[3:]
            named = [node.args[1], *sources]
            labels.update(a.val for a in named if isinstance(a, pp.StringLiteral))
    labels.discard("__name__")
    return frozenset(labels)


@functools.lru_cache(maxsize=1024)
def exists_without_series(query: str) -> bool:
    """Whether `query` has a value even where none of its vector selectors matches a series:
    a constant, `vector(...)`, `absent(...)`, `time()`, `scalar(...)`, or such a branch of
    an `or`. Injecting a selector cannot reach those."""
    return _fills(pp.parse(query))


# Functions with a value whatever their vector argument holds (or without one).
_FILLING = frozenset({"vector", "absent", "absent_over_time", "time", "pi", "scalar"})


def _fills(node: object) -> bool:
    if isinstance(node, pp.VectorSelector | pp.MatrixSelector):
        return False
    if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        return True
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return _fills(node.expr)
    if isinstance(node, pp.AggregateExpr):
        return _fills(node.expr)
    if isinstance(node, pp.Call):
        if node.func.name in _FILLING:
            return True
        vectors = [a for a in node.args if not isinstance(a, pp.NumberLiteral | pp.StringLiteral)]
        return any(_fills(a) for a in vectors) if vectors else True
    if isinstance(node, pp.BinaryExpr):
        op = str(node.op).lower()
        if op == "or":
            return _fills(node.lhs) or _fills(node.rhs)
        if op == "unless":
            return _fills(node.lhs)
        return _fills(node.lhs) and _fills(node.rhs)  # `and`, arithmetic, comparisons
    return True  # anything else: assume the worst


@functools.lru_cache(maxsize=1024)
def matches_empty(matcher: Matcher) -> bool:
    """Whether `matcher` also selects series that lack its label (their value is "").

    Decided by the PromQL parser, which refuses a selector whose every matcher matches the
    empty string, with Prometheus's regular expressions (RE2): Python's differ (`x{,1}`
    repeats for Python and is literal text for RE2; `\\B` matches "" only for RE2)."""
    if matcher.op in ("=", "!="):
        return (matcher.value == "") == (matcher.op == "=")
    try:
        pp.parse(f"{{{matcher}}}")
    except ValueError:
        return True
    return False


def _parsed(text: str, what: str) -> list[Matcher]:
    if len(text) > MAX_SELECTOR_LENGTH:
        raise RequestError(f"{what}: longer than {MAX_SELECTOR_LENGTH} characters")
    try:
        expr = pp.parse(text)
    except ValueError as exc:
        raise RequestError(f"{what}: not a PromQL selector: {exc}") from None
    if (
        not isinstance(expr, pp.VectorSelector)
        or expr.name
        or expr.offset is not None
        or expr.at is not None
        or expr.matchers.or_matchers
    ):
        raise RequestError(f'{what}: expected label matchers only, like {{app="checkout"}}')
    return [Matcher(m.name, _OPS[str(m.op)], m.value) for m in expr.matchers.matchers]


def _check(matcher: Matcher, what: str) -> None:
    where = f"{what}: label {matcher.name!r}"
    if not _LABEL_NAME.match(matcher.name) or matcher.name.startswith("__"):
        raise RequestError(f"{where}: not a label name a selector may use")
    if len(matcher.value) > MAX_VALUE_LENGTH:
        raise RequestError(f"{where}: value longer than {MAX_VALUE_LENGTH} characters")
    if _CONTROL.search(matcher.value):
        raise RequestError(f"{where}: value holds control characters")
    if _SURROGATE.search(matcher.value):
        raise RequestError(f"{where}: value holds a lone surrogate (not text)")
    if matcher.op in ("=~", "!~"):
        try:
            re.compile(matcher.value)
        except re.error as exc:
            raise RequestError(f"{where}: invalid regular expression: {exc}") from None


def _nodes(expr: object) -> Iterator[object]:
    """Every node of a parsed expression, reached through attributes: promql-parser's `walk`
    hands out copies, attribute access the nodes themselves."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, pp.AggregateExpr):
            stack.extend(n for n in (node.expr, node.param) if n is not None)
        elif isinstance(node, pp.BinaryExpr):
            stack.extend((node.lhs, node.rhs))
        elif isinstance(node, pp.Call):
            stack.extend(node.args)
        elif isinstance(node, pp.MatrixSelector):
            stack.append(node.vector_selector)
        elif isinstance(node, pp.ParenExpr | pp.SubqueryExpr | pp.UnaryExpr):
            stack.append(node.expr)


def _strings(expr: object) -> Iterator[str]:
    """Every string a query holds, in order: matchers and literals."""
    for node in _nodes(expr):
        if isinstance(node, pp.VectorSelector):
            yield from (str(_escaped(m)) for m in node.matchers.matchers)
        elif isinstance(node, pp.StringLiteral):
            yield node.val


def _escape(value: str) -> str:
    if not _NEEDS_ESCAPE.search(value):
        return value
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _escaped(matcher: pp.Matcher) -> pp.Matcher:
    return pp.Matcher(matcher.op, matcher.name, _escape(matcher.value))
