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

from sloguard import promql, yamltext
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


def routes(services: list[ServiceSLOs]) -> list[Json]:
    """The routes to put first under the root route's `routes`: one per service (or SLO) and
    severity with a receiver. An alert none of them names (a service without `oncall`, the
    agent's own) goes on to the routes after them, as before."""
    group_by = _group_by(services)
    return [
        {**route, "group_by": group_by}
        for spec in services
        for scope, oncall in _scopes(spec)
        for route in _routes(oncall, scope)
    ]


def inhibit_rules(services: list[ServiceSLOs]) -> list[Json]:
    """A firing page holds back the ticket of the same SLO (and label values of a per-label SLO),
    wherever the page reaches someone: a team with only a ticket receiver still gets its ticket."""
    equal = _group_by(services)
    return [
        {
            "source_matchers": [*_matchers(scope), _severity(Severity.PAGE)],
            "target_matchers": [_severity(Severity.TICKET)],
            "equal": equal,
        }
        for spec in services
        for scope, oncall in _scopes(spec)
        if oncall is not None and oncall.page is not None
    ]


def receivers(services: list[ServiceSLOs]) -> list[str]:
    """Every receiver the routes name, each once, sorted."""
    names = {
        receiver.receiver
        for spec in services
        for _, oncall in _scopes(spec)
        if oncall is not None
        for severity in Severity
        if (receiver := oncall.receiver(severity)) is not None
    }
    return sorted(names)


def fragment(services: list[ServiceSLOs]) -> Json:
    """What to merge into an existing configuration: the routes (first under `route.routes`)
    and the inhibition (beside the configuration's own)."""
    return {"routes": routes(services), "inhibit_rules": inhibit_rules(services)}


def full(services: list[ServiceSLOs]) -> Json:
    """A whole configuration to start from: the routes under a root route whose receiver takes
    everything else, and a receiver of each name with nothing configured yet."""
    names = [UNROUTED, *(n for n in receivers(services) if n != UNROUTED)]
    return {
        "route": {
            "receiver": UNROUTED,
            "group_by": _group_by(services),
            "routes": routes(services),
        },
        "receivers": [{"name": name} for name in names],
        "inhibit_rules": inhibit_rules(services),
    }


def _group_by(services: list[ServiceSLOs]) -> list[str]:
    """`service`, `slo` and the labels of every per-label SLO: an absent label groups as empty,
    so one list serves every alert."""
    grouped = {
        label for spec in services for slo in spec.slos for label in promql.slo_grouping(slo)
    }
    return [*GROUP_BY, *sorted(grouped - set(GROUP_BY))]


def _scopes(spec: ServiceSLOs) -> list[tuple[dict[str, str], OnCall | None]]:
    """(labels, on-call) for the service as a whole when its SLOs share one, else per SLO, then
    the service's own for its alerts that name no SLO."""
    service = {"service": spec.service}
    oncalls = {
        slo.name: slo.oncall.over(spec.oncall) if slo.oncall else spec.oncall for slo in spec.slos
    }
    if len({_receivers(oncall) for oncall in oncalls.values()}) == 1:
        return [(service, next(iter(oncalls.values())))]
    scopes = [({**service, "slo": slo}, oncall) for slo, oncall in oncalls.items()]
    return [*scopes, (service, spec.oncall)]


def _receivers(oncall: OnCall | None) -> tuple[Receiver | None, ...]:
    return tuple(None if oncall is None else oncall.receiver(s) for s in Severity)


def _routes(oncall: OnCall | None, scope: dict[str, str]) -> list[Json]:
    if oncall is None:
        return []
    found = []
    for severity in Severity:
        receiver = oncall.receiver(severity)
        if receiver is not None:
            found.append(_route(receiver, severity, scope))
    return found


def _route(receiver: Receiver, severity: Severity, scope: dict[str, str]) -> Json:
    default = DEFAULT_TIMING[severity]
    return {
        "receiver": receiver.receiver,
        "matchers": [*_matchers(scope), _severity(severity)],
        "group_wait": receiver.group_wait or default.group_wait,
        "group_interval": receiver.group_interval or default.group_interval,
        "repeat_interval": receiver.repeat_interval or default.repeat_interval,
    }


def _matchers(scope: dict[str, str]) -> list[str]:
    return [f"{name}={quoted(value)}" for name, value in scope.items()]


def _severity(severity: Severity) -> str:
    return f"{ALERT_SEVERITY_LABEL}={quoted(severity.value)}"


def alertmanager_file(
    services: list[ServiceSLOs], sources: Mapping[str, list[str]], fmt: AlertmanagerFormat
) -> str:
    """The text of `--alertmanager-out`: the document after a header saying where it came from
    and how to use it (no "Generated by" mark: pruning an output directory must never take
    this file for one of its own)."""
    files = sorted({file for names in sources.values() for file in names})
    named = receivers(services)
    header = [HEADER, f"# From {', '.join(map(_printable, files))}."]
    if fmt is AlertmanagerFormat.FRAGMENT:
        header += [
            "# Do not edit: change the definitions' `oncall`, then run `sloguard generate "
            "--alertmanager-out FILE`.",
            "# Merge into your configuration: the `routes` first under `route.routes`, the",
            "# `inhibit_rules` beside yours. Your configuration defines these receivers:",
            f"# {', '.join(map(_printable, named)) or '(none: no definition has `oncall`)'}.",
        ]
        document = fragment(services)
    else:
        header += [
            "# A configuration to start from, yours once written: fill in the receivers.",
            f"# {UNROUTED} gets every alert no route names (the agent's own, services without",
            "# `oncall`): give it somewhere to send them too.",
        ]
        document = full(services)
    return "\n".join(header) + "\n" + yamltext.dump(document)


# The first line of every file `--alertmanager-out` writes: how sloguard knows it wrote one.
HEADER = "# Alertmanager routing for sloguard's alerts, written by sloguard."


def written_by_sloguard(text: str) -> bool:
    return text.startswith(HEADER + "\n")


def _printable(text: str) -> str:
    """A name as a comment can hold it: anything unprintable escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
