"""Alertmanager routing from the definitions' `oncall` (pure): one route per service and
severity when its SLOs share their on-call, per SLO (then the service's own) when they do not,
the severities' timing defaults, and the inhibition of a ticket while its SLO pages someone."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sloguard.routing import (
    UNROUTED,
    AlertmanagerFormat,
    alertmanager_file,
    fragment,
    full,
    inhibit_rules,
    receivers,
    routes,
    written_by_sloguard,
)
from sloguard.spec.model import ServiceSLOs
from tests.support.validation import only_problem

SLI = {"events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}}
GROUPED = {
    "events": {
        "errors": "sum by (route) (rate(e[{{window}}]))",
        "total": "sum by (route) (rate(t[{{window}}]))",
    }
}


def service(name: str, oncall: Any = None, sli: Any = SLI, **slo_oncall: Any) -> ServiceSLOs:
    slos = [
        {"name": slo, "objective": 99.9, "sli": sli, **({"oncall": on} if on != "-" else {})}
        for slo, on in (slo_oncall or {"availability": "-"}).items()
    ]
    return ServiceSLOs.model_validate(
        {"service": name, "slos": slos, **({"oncall": oncall} if oncall else {})}
    )


def test_a_service_with_one_on_call_gets_a_route_per_severity() -> None:
    shop = service("shop", {"page": "shop-pager", "ticket": "shop-jira"}, a="-", b="-")
    assert routes([shop]) == [
        {
            "receiver": "shop-pager",
            "matchers": ['service="shop"', 'sloguard_severity="page"'],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "1h",
            "group_by": ["service", "slo"],
        },
        {
            "receiver": "shop-jira",
            "matchers": ['service="shop"', 'sloguard_severity="ticket"'],
            "group_wait": "5m",
            "group_interval": "30m",
            "repeat_interval": "24h",
            "group_by": ["service", "slo"],
        },
    ]


def test_a_name_and_a_receiver_of_that_name_are_one_on_call() -> None:
    shop = service("shop", {"page": "p"}, a={"page": {"receiver": "p"}}, b="-")
    assert [r["matchers"] for r in routes([shop])] == [
        ['service="shop"', 'sloguard_severity="page"']
    ]


def test_an_slo_with_its_own_on_call_splits_the_service_by_slo_then_the_service() -> None:
    shop = service(
        "shop",
        {"page": "shop-pager", "ticket": {"receiver": "shop-jira", "repeat_interval": "12h"}},
        availability="-",
        latency={"ticket": "perf-team"},
        batch={"page": None},  # taken out of the service's paging
    )
    found = [(r["matchers"][:-1], r["matchers"][-1], r["receiver"]) for r in routes([shop])]
    assert found == [
        (['service="shop"', 'slo="availability"'], 'sloguard_severity="page"', "shop-pager"),
        (['service="shop"', 'slo="availability"'], 'sloguard_severity="ticket"', "shop-jira"),
        (['service="shop"', 'slo="latency"'], 'sloguard_severity="page"', "shop-pager"),
        (['service="shop"', 'slo="latency"'], 'sloguard_severity="ticket"', "perf-team"),
        (['service="shop"', 'slo="batch"'], 'sloguard_severity="ticket"', "shop-jira"),
        # alerts of the service that name no SLO: the service's own
        (['service="shop"'], 'sloguard_severity="page"', "shop-pager"),
        (['service="shop"'], 'sloguard_severity="ticket"', "shop-jira"),
    ]
    assert {r["repeat_interval"] for r in routes([shop]) if r["receiver"] == "shop-jira"} == {"12h"}


def test_without_on_call_a_service_has_no_route_and_its_alerts_go_on() -> None:
    quiet = service("quiet")
    paged = service("paged", {"page": "pager"})
    assert [r["receiver"] for r in routes([quiet, paged])] == ["pager"]
    assert receivers([quiet, paged]) == ["pager"]


def test_only_a_page_that_reaches_someone_holds_a_ticket_back() -> None:
    paged = service("paged", {"page": "pager", "ticket": "jira"})
    tickets_only = service("reports", {"ticket": "reports-jira"})
    assert inhibit_rules([paged, tickets_only]) == [
        {
            "source_matchers": ['service="paged"', 'sloguard_severity="page"'],
            "target_matchers": ['sloguard_severity="ticket"'],
            "equal": ["service", "slo"],
        }
    ]


def test_per_label_slos_group_and_inhibit_by_their_labels() -> None:
    shop = service("shop", {"page": "pager", "ticket": "jira"}, sli=GROUPED)
    assert routes([shop])[0]["group_by"] == ["service", "slo", "route"]
    assert inhibit_rules([shop])[0]["equal"] == ["service", "slo", "route"]


def test_the_fragment_and_the_full_configuration() -> None:
    shop = service("shop", {"page": "shop-pager", "ticket": "shop-jira"})
    assert fragment([shop]) == {"routes": routes([shop]), "inhibit_rules": inhibit_rules([shop])}
    config = full([shop])
    assert config["route"]["receiver"] == UNROUTED
    assert [r["name"] for r in config["receivers"]] == [UNROUTED, "shop-jira", "shop-pager"]
    named = full([service("x", {"page": UNROUTED})])
    assert [r["name"] for r in named["receivers"]] == [UNROUTED]  # no duplicate


def test_the_file_says_where_it_came_from_and_reads_back_as_written() -> None:
    shop = service("shop", {"page": 'pager "#1": nights', "ticket": "jira"})
    sources = {"shop": ["slo-definitions/shop.yaml", "x\nreceivers: [{name: evil}]\n#.yaml"]}
    for fmt, document in ((AlertmanagerFormat.FRAGMENT, fragment), (AlertmanagerFormat.FULL, full)):
        text = alertmanager_file([shop], sources, fmt)
        assert written_by_sloguard(text)
        assert "Generated by sloguard" not in text  # output pruning must never take it
        assert yaml.safe_load(text) == document([shop])  # the odd file name stays a comment


@pytest.mark.parametrize(
    ("receiver", "problem"),
    [
        ("", "oncall.page"),
        (" lead", "oncall.page"),
        ("a\u2028b", "oncall.page"),
        ("a\x85b", "oncall.page"),
        ("x" * 129, "oncall.page"),
    ],
)
def test_a_receiver_name_alertmanager_or_a_comment_would_mangle_is_refused(
    receiver: str, problem: str
) -> None:
    text = f"""\
service: api
oncall: {{page: {yaml.safe_dump(receiver).splitlines()[0]}}}
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(e[{{{{window}}}}]))
        total: sum(rate(t[{{{{window}}}}]))
"""
    assert problem in only_problem(text).field


def test_timings_are_written_as_alertmanager_reads_them() -> None:
    shop = service(
        "shop", {"page": {"receiver": "p", "group_wait": "30m1h", "repeat_interval": "90m"}}
    )
    [route] = routes([shop])
    assert (route["group_wait"], route["repeat_interval"]) == ("1h30m", "1h30m")
    with pytest.raises(ValueError, match="whole seconds"):
        service("shop", {"page": {"receiver": "p", "group_wait": "500ms"}})
