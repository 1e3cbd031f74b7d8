"""Alertmanager routing from the definitions' `oncall` (pure): one route per service and
severity when its SLOs share their on-call, per SLO (then the service's own) when they do not,
the severities' timing defaults, and the inhibition of a ticket while its SLO pages someone."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from sloguard.errors import OutputError
from sloguard.routing import (
    UNROUTED,
    AlertmanagerFormat,
    alertmanager_file,
    fragment,
    full,
    inhibit_rules,
    operator,
    receivers,
    routes,
    time_intervals,
    written_by_sloguard,
)
from sloguard.spec.counters import quoted
from sloguard.spec.model import ServiceSLOs
from tests.support.repo import FIXTURES
from tests.support.validation import only_problem

SLI = {"events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}}
GROUPED = {
    "events": {
        "errors": "sum by (route) (rate(e[{{window}}]))",
        "total": "sum by (route) (rate(t[{{window}}]))",
    }
}


def with_oncall(oncall: str) -> str:
    """A definition's text with `oncall` written as given (YAML flow style)."""
    return f"""\
service: api
oncall: {oncall}
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(e[{{{{window}}}}]))
        total: sum(rate(t[{{{{window}}}}]))
"""


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
        # alerts of the service that name no SLO (and only those: batch's page must not fall
        # through to the service's pager): the service's own
        (['service="shop"', 'slo=""'], 'sloguard_severity="page"', "shop-pager"),
        (['service="shop"', 'slo=""'], 'sloguard_severity="ticket"', "shop-jira"),
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
    assert fragment([shop]) == {
        "routes": routes([shop]),
        "inhibit_rules": inhibit_rules([shop]),
        "time_intervals": [],
    }
    config = full([shop])
    assert config["route"]["receiver"] == UNROUTED
    assert [r["name"] for r in config["receivers"]] == [UNROUTED, "shop-jira", "shop-pager"]
    assert config["templates"] == ["sloguard.tmpl"]
    named = full([service("x", {"page": UNROUTED})])
    assert [r["name"] for r in named["receivers"]] == [UNROUTED]  # no duplicate


def test_the_file_says_where_it_came_from_and_reads_back_as_written() -> None:
    shop = service("shop", {"page": 'pager "#1": nights', "ticket": "jira"})
    sources = {"shop": ["slo-definitions/shop.yaml", "x\nreceivers: [{name: evil}]\n#.yaml"]}
    documents = {
        AlertmanagerFormat.FRAGMENT: fragment,
        AlertmanagerFormat.FULL: full,
        AlertmanagerFormat.OPERATOR: operator,
    }
    for fmt, document in documents.items():
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
    page = yaml.safe_dump(receiver).splitlines()[0]
    assert problem in only_problem(with_oncall(f"{{page: {page}}}")).field


def test_timings_are_written_as_alertmanager_reads_them() -> None:
    shop = service(
        "shop", {"page": {"receiver": "p", "group_wait": "30m1h", "repeat_interval": "90m"}}
    )
    [route] = routes([shop])
    assert (route["group_wait"], route["repeat_interval"]) == ("1h30m", "1h30m")
    with pytest.raises(ValueError, match="whole seconds"):
        service("shop", {"page": {"receiver": "p", "group_wait": "500ms"}})


SATURDAY_NIGHT = {"weekdays": ["saturday"], "times": ["02:00-04:00"], "location": "Europe/Berlin"}


def test_maintenance_mutes_tickets_and_pages_only_where_a_period_says_so() -> None:
    nightly = {"weekdays": ["monday:friday"], "times": ["22:00-24:00"], "pages": True}
    oncall = {"page": "pager", "ticket": "jira", "maintenance": [SATURDAY_NIGHT, nightly]}
    page, ticket = routes([service("shop", oncall)])
    assert page["mute_time_intervals"] == ["sloguard-quiet/shop/page"]
    assert ticket["mute_time_intervals"] == ["sloguard-quiet/shop/ticket"]
    week = {"weekdays": ["monday:friday"], "times": [{"start_time": "22:00", "end_time": "24:00"}]}
    saturday = {"weekdays": ["saturday"], "times": [{"start_time": "02:00", "end_time": "04:00"}]}
    assert time_intervals([service("shop", oncall)]) == [
        {"name": "sloguard-quiet/shop/page", "time_intervals": [{**week, "location": "UTC"}]},
        {
            "name": "sloguard-quiet/shop/ticket",
            "time_intervals": [
                {**saturday, "location": "Europe/Berlin"},
                {**week, "location": "UTC"},
            ],
        },
    ]
    quiet_tickets = service("shop", {**oncall, "maintenance": [SATURDAY_NIGHT]})
    page, ticket = routes([quiet_tickets])
    assert "mute_time_intervals" not in page  # a page during maintenance still pages
    assert ticket["mute_time_intervals"] == ["sloguard-quiet/shop/ticket"]


def test_an_slo_s_maintenance_replaces_the_service_s() -> None:
    oncall = {"page": "pager", "ticket": "jira", "maintenance": [SATURDAY_NIGHT]}
    shop = service("shop", oncall, a="-", b={"maintenance": []})
    muted = {tuple(r["matchers"]): r.get("mute_time_intervals") for r in routes([shop])}
    assert muted[('service="shop"', 'slo="a"', 'sloguard_severity="ticket"')] == [
        "sloguard-quiet/shop/a/ticket"
    ]
    assert muted[('service="shop"', 'slo="b"', 'sloguard_severity="ticket"')] is None
    # Periods only for severities that reach someone.
    assert [
        i["name"] for i in time_intervals([service("x", {"maintenance": [SATURDAY_NIGHT]})])
    ] == []


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ({"times": ["04:00-02:00"]}, "ends before it starts"),
        ({"times": ["2:00-04:00"]}, "not a time range"),
        ({"times": ["02:00-24:01"]}, "not a time range"),
        ({"times": ["02:00-04:00\n"]}, "not a time range"),
        ({"weekdays": ["friday:monday"]}, "runs backwards"),
        ({"weekdays": ["monday:sunday"]}, "weeks begin on Sunday"),
        ({"weekdays": ["someday"]}, "pattern"),
        ({"location": "Mars/Olympus"}, "not a time zone"),
    ],
)
def test_a_quiet_period_alertmanager_would_misread_is_refused(
    period: dict[str, Any], message: str
) -> None:
    written = yaml.safe_dump(period, default_flow_style=True).strip()
    problem = only_problem(with_oncall(f"{{ticket: jira, maintenance: [{written}]}}"))
    assert problem.field is not None and problem.field.startswith("oncall.maintenance[0]")
    assert message in problem.message


OPERATOR_SCHEMA = yaml.safe_load(
    (FIXTURES / "prometheus-operator" / "alertmanagerconfig.schema.yaml").read_text()
)


def test_the_operator_object_holds_the_same_routing_in_the_crd_s_terms() -> None:
    oncall = {"page": "pager", "ticket": "jira", "maintenance": [{"weekdays": ["saturday"]}]}
    shop = service("shop", oncall, a="-", b={"ticket": "perf"}, sli=GROUPED)
    document = operator([shop])
    jsonschema.validate(document, OPERATOR_SCHEMA)  # what the API server would keep
    spec = document["spec"]
    assert spec["route"]["matchers"] == [
        {"name": "sloguard_severity", "value": "page|ticket", "matchType": "=~"}
    ]

    def plain(matchers: list[dict[str, str]]) -> list[str]:
        return [f"{m['name']}={quoted(m['value'])}" for m in matchers]

    # Route for route, what the fragment says in Alertmanager's own terms.
    for theirs, ours in zip(spec["route"]["routes"], routes([shop]), strict=True):
        assert (theirs["receiver"], plain(theirs["matchers"])) == (
            ours["receiver"],
            ours["matchers"],
        )
        assert (theirs["groupWait"], theirs["repeatInterval"], theirs["groupBy"]) == (
            ours["group_wait"],
            ours["repeat_interval"],
            ours["group_by"],
        )
        assert theirs.get("muteTimeIntervals") == ours.get("mute_time_intervals")
    assert [plain(r["sourceMatch"]) for r in spec["inhibitRules"]] == [
        r["source_matchers"] for r in inhibit_rules([shop])
    ]
    assert [i["name"] for i in spec["muteTimeIntervals"]] == [
        i["name"] for i in time_intervals([shop])
    ]
    assert spec["muteTimeIntervals"][0]["timeIntervals"] == [{"weekdays": ["saturday"]}]
    assert [r["name"] for r in spec["receivers"]] == [UNROUTED, "jira", "pager", "perf"]


def test_the_operator_object_refuses_a_time_zone_it_cannot_hold() -> None:
    shop = service("shop", {"ticket": "jira", "maintenance": [SATURDAY_NIGHT]})
    with pytest.raises(OutputError, match=r"Europe/Berlin.*no time zone"):
        operator([shop])


def test_maintenance_with_no_receiver_to_mute_is_an_error_not_a_silent_nothing() -> None:
    problem = only_problem(with_oncall("{maintenance: [{weekdays: [saturday]}]}"))
    assert problem.field == "oncall.maintenance" and "nothing to mute" in problem.message
