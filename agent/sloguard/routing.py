"""Alertmanager routing from the definitions (pure): each SLO's page and ticket go to the
receivers its `oncall` names, grouped by service and SLO, and a firing page holds back the
ticket of the same SLO.

Routes match `sloguard_severity`, which every generated alert carries and no definition can
override, and `service` (and `slo` where a service's SLOs go to different receivers). The
subtree goes under the user's own root route; receivers and their secrets stay in the user's
configuration, which only has to define the receivers named here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sloguard import yamltext
from sloguard.promql import ALERT_SEVERITY_LABEL
from sloguard.spec.counters import quoted
from sloguard.spec.model import OnCall, Receiver, ServiceSLOs, Severity

Json = dict[str, Any]
GROUP_BY = ["service", "slo"]
# The receiver of the `full` configuration's root route: what nothing else catches.
UNROUTED = "sloguard-unrouted"


class AlertmanagerFormat(StrEnum):
    FRAGMENT = "fragment"  # to merge into an existing configuration
    FULL = "full"  # a whole configuration, its receivers to fill in


@dataclass(frozen=True)
class Timing:
    group_wait: str
    group_interval: str
    repeat_interval: str


# A page is told at once and repeated hourly; a ticket can wait and is repeated daily.
DEFAULT_TIMING = {
    Severity.PAGE: Timing("30s", "5m", "1h"),
    Severity.TICKET: Timing("5m", "30m", "24h"),
}

INHIBIT_RULES: list[Json] = [
    {
        "source_matchers": [f"{ALERT_SEVERITY_LABEL}={quoted(Severity.PAGE.value)}"],
        "target_matchers": [f"{ALERT_SEVERITY_LABEL}={quoted(Severity.TICKET.value)}"],
        "equal": ["service", "slo"],
    }
]


def subtree(services: list[ServiceSLOs]) -> Json:
    """The route to put under the root route's `routes`: every sloguard alert, one child route
    per service (or SLO) and severity with a receiver."""
    severities = "|".join(s.value for s in Severity)
    return {
        "matchers": [f"{ALERT_SEVERITY_LABEL}=~{quoted(severities)}"],
        "group_by": GROUP_BY,
        "routes": [route for spec in services for route in _service_routes(spec)],
    }


def receivers(services: list[ServiceSLOs]) -> list[str]:
    """Every receiver the routes name, each once, sorted."""
    names = {
        receiver.receiver
        for spec in services
        for oncall in _oncalls(spec).values()
        if oncall is not None
        for severity in Severity
        if (receiver := oncall.receiver(severity)) is not None
    }
    return sorted(names)


def fragment(services: list[ServiceSLOs]) -> Json:
    """What to merge into an existing configuration: the subtree (first under `route.routes`)
    and the inhibition (beside the configuration's own)."""
    return {"routes": [subtree(services)], "inhibit_rules": INHIBIT_RULES}


def full(services: list[ServiceSLOs]) -> Json:
    """A whole configuration: the subtree under a root route, and a receiver of each name with
    nothing configured (fill in Slack, PagerDuty, ... before use)."""
    return {
        "route": {"receiver": UNROUTED, "group_by": GROUP_BY, "routes": [subtree(services)]},
        "receivers": [{"name": name} for name in [UNROUTED, *receivers(services)]],
        "inhibit_rules": INHIBIT_RULES,
    }


def _oncalls(spec: ServiceSLOs) -> dict[str, OnCall | None]:
    """Each SLO's on-call: its own over the service's."""
    return {
        slo.name: slo.oncall.over(spec.oncall) if slo.oncall else spec.oncall for slo in spec.slos
    }


def _service_routes(spec: ServiceSLOs) -> list[Json]:
    oncalls = _oncalls(spec)
    distinct = {oncall for oncall in oncalls.values()}
    if len(distinct) == 1:  # one on-call for the whole service: one route per severity
        [oncall] = distinct
        return _routes(oncall, {"service": spec.service})
    return [
        route
        for slo, oncall in oncalls.items()
        for route in _routes(oncall, {"service": spec.service, "slo": slo})
    ]


def _routes(oncall: OnCall | None, labels: dict[str, str]) -> list[Json]:
    if oncall is None:
        return []
    found = []
    for severity in Severity:
        receiver = oncall.receiver(severity)
        if receiver is not None:
            found.append(_route(receiver, severity, labels))
    return found


def _route(receiver: Receiver, severity: Severity, labels: dict[str, str]) -> Json:
    default = DEFAULT_TIMING[severity]
    matchers = [f"{name}={quoted(value)}" for name, value in labels.items()]
    return {
        "receiver": receiver.receiver,
        "matchers": [*matchers, f"{ALERT_SEVERITY_LABEL}={quoted(severity.value)}"],
        "group_wait": receiver.group_wait or default.group_wait,
        "group_interval": receiver.group_interval or default.group_interval,
        "repeat_interval": receiver.repeat_interval or default.repeat_interval,
    }


def alertmanager_file(
    services: list[ServiceSLOs], sources: Mapping[str, list[str]], fmt: AlertmanagerFormat
) -> str:
    """The text of `--alertmanager-out`: the document, after a header saying where it came from
    and how to use it. (Not the rule files' "Generated by" mark: pruning an output directory
    must never take this file for one of its own.)"""
    files = sorted({file for names in sources.values() for file in names})
    names = ", ".join(receivers(services)) or "(none: no definition has `oncall`)"
    header = [
        f"# Alertmanager routing for sloguard's alerts, written from {', '.join(files)}.",
        "# Do not edit: change the definitions' `oncall` and run `sloguard generate`.",
    ]
    if fmt is AlertmanagerFormat.FRAGMENT:
        header += [
            "# Merge into your configuration: the entry of `routes` first under `route.routes`,",
            "# the `inhibit_rules` beside yours. Your configuration defines the receivers:",
            f"# {names}.",
        ]
        document = fragment(services)
    else:
        header.append(f"# Fill in the receivers ({names}) before use.")
        document = full(services)
    return "\n".join(header) + "\n" + yamltext.dump(document)
