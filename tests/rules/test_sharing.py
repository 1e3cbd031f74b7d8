"""Rules shared by the SLOs of a service: one rule per name, in its place in the group."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import promql_parser

from sloguard import promql
from sloguard.loading import load
from sloguard.rules.generation import RuleOptions, _Shared, _slo_rules, render_groups
from sloguard.spec.model import ServiceSLOs
from tests.support.repo import REPO

SLI = {"events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}}


def service(*slos: dict[str, Any]) -> ServiceSLOs:
    return ServiceSLOs.model_validate({"service": "shop", "labels": {"team": "web"}, "slos": slos})


def slo(name: str, objective: float, **extra: Any) -> dict[str, Any]:
    """An SLO with a label of its own, so that SLOs sharing a rule differ in their labels."""
    return {"name": name, "objective": objective, "sli": SLI, "labels": {"owner": name}, **extra}


def named(groups: list[dict[str, Any]], record: str) -> list[dict[str, Any]]:
    return [r for g in groups for r in g["rules"] if r.get("record") == record]


def test_slos_alike_share_one_rule_that_selects_them_all() -> None:
    groups = render_groups(service(slo("a", 99.9), slo("b", 99.9), slo("c", 99.9)))
    [burn] = named(groups, promql.burn_rate_metric("2h"))
    assert "labels" not in burn  # its series keep their SLO's labels, which differ
    assert 'slo=~"a|b|c"' in burn["expr"] and "0.001" in burn["expr"]
    # What reads the SLI's own queries stays the SLO's own.
    assert [r["labels"]["slo"] for r in named(groups, promql.TOTAL)] == ["a", "b", "c"]
    assert len(named(groups, promql.burn_rate_metric("1h"))) == 3


def test_slos_with_different_budgets_share_one_rule_joined_with_or() -> None:
    groups = render_groups(service(slo("a", 99.9), slo("b", 99), slo("c", 99.9)))
    [burn] = named(groups, promql.burn_rate_metric("6h"))
    parts = str(burn["expr"]).split("\nor\n")
    assert len(parts) == 2
    assert 'slo=~"a|c"' in parts[0] and parts[0].endswith("/ 0.001)")
    assert 'slo="b"' in parts[1] and parts[1].endswith("/ 0.01)")


def test_no_two_rules_of_a_file_record_one_name_with_the_same_labels() -> None:
    # promtool's lint fails such a file. A guarded SLO records its slow page tier's windows in
    # the fast group, the others in the slow one: shared once, the SLOs' own elsewhere.
    groups = render_groups(
        service(slo("a", 99.9), slo("b", 99.9, alerting={"min_events": 10}), slo("c", 99))
    )
    seen = Counter(
        (r.get("record") or r.get("alert"), tuple(sorted(r.get("labels", {}).items())))
        for g in groups
        for r in g["rules"]
    )
    assert [key for key, count in seen.items() if count > 1] == []
    in_fast = named(groups[:1], promql.burn_rate_metric("6h"))
    in_slow = named(groups[1:2], promql.burn_rate_metric("6h"))
    assert [("labels" in r) for r in in_fast] == [False]
    assert sorted(r["labels"]["slo"] for r in in_slow) == ["a", "c"]


def test_every_rule_comes_after_the_rules_of_its_group_it_reads() -> None:
    specs = [
        *load([REPO / "slo-definitions"]).services,
        service(slo("a", 99.9), slo("b", 99.9, alerting={"min_events": 10}), slo("c", 99)),
        service(slo("m", 99.9, window="month"), slo("w", 99, window="7d")),
    ]
    for spec in specs:
        for group in render_groups(spec):
            recorded: set[str] = set()
            later = {r["record"] for r in group["rules"] if "record" in r}
            for rule in group["rules"]:
                reads = set(re.findall(r"slo:[a-z_]+:[a-z0-9]+|sloguard_slo_info", rule["expr"]))
                early = (reads & later) - recorded - {rule.get("record")}
                assert not early, (group["name"], rule.get("record") or rule.get("alert"), early)
                if "record" in rule:
                    recorded.add(rule["record"])


def test_a_single_slo_reads_as_before() -> None:
    [burn] = named(render_groups(service(slo("a", 99.9))), promql.burn_rate_metric("2h"))
    assert 'slo="a"' in burn["expr"] and "=~" not in burn["expr"]
    assert "\nor\n" not in str(burn["expr"])


def test_slos_alike_read_the_same() -> None:
    # A shared rule is rendered once for the SLOs alike: what it reads besides them must be
    # all in `alike`, or one SLO would be computed with another's window or budget.
    specs = [
        *load([REPO / "slo-definitions"]).services,
        service(
            slo("a", 99.9),
            slo("b", 99, window="28d"),
            slo("c", 99.9, window="7d", alerting={"min_events": 10}),
            slo("d", 99.5, window="week"),
            slo("e", 99.5, window="month"),
            slo("f", 99.9, window="28d"),
        ),
    ]
    for spec in specs:
        left_open: promql.Labels = {"service": spec.service, "slo": promql.OneOf(())}
        read: dict[tuple[str, tuple[object, ...]], set[str]] = {}
        for one in spec.slos:
            for entries in _slo_rules(spec, one, RuleOptions()):
                for _, entry in entries:
                    if isinstance(entry, _Shared):
                        key = (entry.record, entry.alike)
                        read.setdefault(key, set()).add(entry.expr(left_open))
        assert read and all(len(exprs) == 1 for exprs in read.values()), read


def test_every_expression_parses_whatever_the_labels_hold() -> None:
    # The definition's labels are set on the series and selected by the alerts, quoted as
    # PromQL reads them back: a value outside the Basic Multilingual Plane as it is (JSON's
    # surrogate pairs are refused).
    spec = ServiceSLOs.model_validate(
        {
            "service": "shop",
            "labels": {"team": "web \U0001f525"},
            "slos": [slo("a", 99.9, labels={"owner": '"quoted" \\ \U0001f680'}), slo("b", 99)],
        }
    )
    owners = {"a": '"quoted" \\ \U0001f680', "b": ""}
    for group in render_groups(spec):
        for rule in group["rules"]:
            parsed = promql_parser.parse(rule["expr"])
            if "alert" in rule:
                selected = set(matchers(parsed))
                assert ("team", "web \U0001f525") in selected
                assert (("owner", owners[rule["labels"]["slo"]]) in selected) == (
                    rule["labels"]["slo"] == "a"
                )


def matchers(expr: object) -> Iterator[tuple[str, str]]:
    """Every label matcher's name and value in a parsed expression."""
    if isinstance(expr, promql_parser.VectorSelector):
        yield from ((m.name, m.value) for m in expr.matchers.matchers)
    for part in ("lhs", "rhs", "expr"):
        if hasattr(expr, part):
            yield from matchers(getattr(expr, part))
