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
from datetime import datetime
from enum import StrEnum
from typing import Any

from sloguard import promql, yamltext
from sloguard.errors import OutputError, printable
from sloguard.promql import ALERT_SEVERITY_LABEL
from sloguard.spec.counters import quoted
from sloguard.spec.model import OnCall, Receiver, ServiceSLOs, Severity
from sloguard.spec.quiet import QuietPeriod

Json = dict[str, Any]
GROUP_BY = ["service", "slo"]
# The receiver of the `full` configuration's root route: what nothing else catches.
UNROUTED = "sloguard-unrouted"
# The notification templates (alertmanager/sloguard.tmpl), as the `full` configuration loads them.
TEMPLATES = "sloguard.tmpl"


class AlertmanagerFormat(StrEnum):
    FRAGMENT = "fragment"  # to merge into an existing configuration
    FULL = "full"  # a whole configuration, its receivers to fill in
    OPERATOR = "operator"  # prometheus-operator's AlertmanagerConfig object


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


@dataclass(frozen=True)
class _Leg:
    """One route: the alerts of `scope` (a service, or one SLO) at `severity` to `receiver`."""

    scope: dict[str, str]
    severity: Severity
    receiver: Receiver
    quiet: tuple[QuietPeriod, ...]  # the periods that mute it (none: never muted)

    @property
    def timing(self) -> Timing:
        default = DEFAULT_TIMING[self.severity]
        return Timing(
            self.receiver.group_wait or default.group_wait,
            self.receiver.group_interval or default.group_interval,
            self.receiver.repeat_interval or default.repeat_interval,
        )

    @property
    def quiet_name(self) -> str:
        named = [value for value in self.scope.values() if value]
        return "/".join(["sloguard-quiet", *named, self.severity.value])


def _legs(services: list[ServiceSLOs]) -> list[_Leg]:
    return [
        _Leg(scope, severity, receiver, _quiet(oncall, severity))
        for spec in services
        for scope, oncall in _scopes(spec)
        if oncall is not None
        for severity in Severity
        if (receiver := oncall.receiver(severity)) is not None
    ]


def routes(services: list[ServiceSLOs]) -> list[Json]:
    """The routes to put first under the root route's `routes`: one per service (or SLO) and
    severity with a receiver. An alert none of them names (a service without `oncall`, the
    agent's own) goes on to the routes after them, as before."""
    group_by = _group_by(services)
    found = []
    for leg in _legs(services):
        timing = leg.timing
        route: Json = {
            "receiver": leg.receiver.receiver,
            "matchers": [*_matchers(leg.scope), _severity(leg.severity)],
            "group_wait": timing.group_wait,
            "group_interval": timing.group_interval,
            "repeat_interval": timing.repeat_interval,
        }
        if leg.quiet:
            route["mute_time_intervals"] = [leg.quiet_name]
        found.append({**route, "group_by": group_by})
    return found


def time_intervals(services: list[ServiceSLOs]) -> list[Json]:
    """The quiet periods of the definitions' `maintenance`, one time interval per route they
    mute (tickets always, pages where a period says `pages: true`)."""
    return [
        {"name": leg.quiet_name, "time_intervals": [_time_interval(p) for p in leg.quiet]}
        for leg in _legs(services)
        if leg.quiet
    ]


def inhibit_rules(services: list[ServiceSLOs]) -> list[Json]:
    """A firing page holds back the ticket of the same SLO (and label values of a per-label SLO),
    wherever the page reaches someone: a team with only a ticket receiver still gets its ticket."""
    equal = _group_by(services)
    return [
        {
            "source_matchers": [*_matchers(leg.scope), _severity(Severity.PAGE)],
            "target_matchers": [_severity(Severity.TICKET)],
            "equal": equal,
        }
        for leg in _legs(services)
        if leg.severity is Severity.PAGE
    ]


def receivers(services: list[ServiceSLOs]) -> list[str]:
    """Every receiver the routes name, each once, sorted."""
    return sorted({leg.receiver.receiver for leg in _legs(services)})


def fragment(services: list[ServiceSLOs]) -> Json:
    """What to merge into an existing configuration: the routes (first under `route.routes`),
    the inhibition and the quiet periods (beside the configuration's own)."""
    return {
        "routes": routes(services),
        "inhibit_rules": inhibit_rules(services),
        "time_intervals": time_intervals(services),
    }


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
        "time_intervals": time_intervals(services),
        # Alertmanager reads it beside this file: copy alertmanager/sloguard.tmpl there.
        "templates": [TEMPLATES],
    }


# Time zone names that are UTC itself (the operator's time intervals know no other zone).
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"})
# The operator's API for AlertmanagerConfig objects, and the object sloguard writes.
OPERATOR_API = "monitoring.coreos.com/v1alpha1"
OPERATOR_OBJECT = "sloguard"


def operator(services: list[ServiceSLOs]) -> Json:
    """prometheus-operator's AlertmanagerConfig: the same routes under one route that takes
    sloguard's SLO alerts, receivers by name (their integrations are the user's to add, e.g.
    with a kustomize patch: the receivers list merges by name), the inhibition and the quiet
    periods. OutputError where a period names a time zone: the CRD has none."""
    legs = _legs(services)
    for leg in legs:
        zoned = sorted({p.location for p in leg.quiet if p.location not in UTC_NAMES})
        if zoned:
            where = "/".join(leg.scope.values())
            raise OutputError(
                f"--alertmanager-format operator: the maintenance of {where} "
                f"is in {', '.join(zoned)}, and an AlertmanagerConfig's time intervals have no "
                "time zone (UTC only): write the periods in UTC, or use the fragment format"
            )
    group_by = _group_by(services)
    names = [UNROUTED, *(n for n in receivers(services) if n != UNROUTED)]
    return {
        "apiVersion": OPERATOR_API,
        "kind": "AlertmanagerConfig",
        "metadata": {"name": OPERATOR_OBJECT},
        "spec": {
            "route": {
                # Alerts no child route takes (a service without `oncall`) end here. The
                # operator sets `continue: true` on this route: every alert it takes also
                # goes on to the rest of the configuration (see the docs).
                "receiver": UNROUTED,
                "groupBy": group_by,
                "matchers": [_match(ALERT_SEVERITY_LABEL, "page|ticket", "=~")],
                "routes": [_operator_route(leg, group_by) for leg in legs],
            },
            "receivers": [{"name": name} for name in names],
            "inhibitRules": [
                {
                    "sourceMatch": [
                        *(_match(k, v) for k, v in leg.scope.items()),
                        _match(ALERT_SEVERITY_LABEL, Severity.PAGE.value),
                    ],
                    "targetMatch": [_match(ALERT_SEVERITY_LABEL, Severity.TICKET.value)],
                    "equal": group_by,
                }
                for leg in legs
                if leg.severity is Severity.PAGE
            ],
            "muteTimeIntervals": [
                {
                    "name": leg.quiet_name,
                    "timeIntervals": [_time_interval(p, operator=True) for p in leg.quiet],
                }
                for leg in legs
                if leg.quiet
            ],
        },
    }


def _operator_route(leg: _Leg, group_by: list[str]) -> Json:
    timing = leg.timing
    route: Json = {
        "receiver": leg.receiver.receiver,
        "matchers": [
            *(_match(k, v) for k, v in leg.scope.items()),
            _match(ALERT_SEVERITY_LABEL, leg.severity.value),
        ],
        "groupBy": group_by,
        "groupWait": timing.group_wait,
        "groupInterval": timing.group_interval,
        "repeatInterval": timing.repeat_interval,
    }
    if leg.quiet:
        route["muteTimeIntervals"] = [leg.quiet_name]
    return route


def _match(name: str, value: str, match_type: str = "=") -> Json:
    return {"name": name, "value": value, "matchType": match_type}


def _group_by(services: list[ServiceSLOs]) -> list[str]:
    """`service`, `slo` and the labels of every per-label SLO: an absent label groups as empty,
    so one list serves every alert."""
    grouped = {
        label for spec in services for slo in spec.slos for label in promql.slo_grouping(slo)
    }
    return [*GROUP_BY, *sorted(grouped - set(GROUP_BY))]


def _scopes(spec: ServiceSLOs) -> list[tuple[dict[str, str], OnCall | None]]:
    """(labels, on-call) for the service as a whole when its SLOs share one, else per SLO, then
    the service's own for its alerts that name no SLO (`slo` empty or absent)."""
    service = {"service": spec.service}
    oncalls = {
        slo.name: slo.oncall.over(spec.oncall) if slo.oncall else spec.oncall for slo in spec.slos
    }
    if len({_routing(oncall) for oncall in oncalls.values()}) == 1:
        return [(service, next(iter(oncalls.values())))]
    scopes = [({**service, "slo": slo}, oncall) for slo, oncall in oncalls.items()]
    # `slo=""`: only alerts that name no SLO; an SLO's own severity it left out (`page: null`)
    # must not fall through to the service's receiver.
    return [*scopes, ({**service, "slo": ""}, spec.oncall)]


def _routing(oncall: OnCall | None) -> tuple[object, ...]:
    """What decides an SLO's routes: its receivers and quiet periods."""
    if oncall is None:
        return ()
    return (*(oncall.receiver(s) for s in Severity), oncall.maintenance)


def _quiet(oncall: OnCall, severity: Severity) -> tuple[QuietPeriod, ...]:
    """The periods that mute `severity`: all of them mute tickets, pages only with `pages`."""
    periods = oncall.maintenance or ()
    return tuple(p for p in periods if severity is Severity.TICKET or p.pages)


def _time_interval(period: QuietPeriod, operator: bool = False) -> Json:
    """A period as Alertmanager's `time_intervals` entry, or in the AlertmanagerConfig CRD's
    terms (camelCase, and no time zone: `operator` refuses periods with another)."""
    start, end = ("startTime", "endTime") if operator else ("start_time", "end_time")
    interval: Json = {}
    if period.weekdays:
        interval["weekdays"] = list(period.weekdays)
    if period.times:
        interval["times"] = [{start: a, end: b} for a, b in period.start_end()]
    if not operator:
        interval["location"] = period.location
    return interval


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
    header = [HEADER, f"# From {', '.join(map(printable, files))}."]
    if fmt is AlertmanagerFormat.FRAGMENT:
        header += [
            "# Do not edit: change the definitions' `oncall`, then run `sloguard generate "
            "--alertmanager-out FILE`.",
            "# Merge into your configuration: the `routes` first under `route.routes`, the",
            "# `inhibit_rules` and `time_intervals` beside yours. Your configuration defines",
            "# these receivers (alertmanager/sloguard.tmpl has templates for them):",
            f"# {', '.join(map(printable, named)) or '(none: no definition has `oncall`)'}.",
        ]
        document = fragment(services)
    elif fmt is AlertmanagerFormat.OPERATOR:
        header += [
            "# Do not edit: change the definitions' `oncall`, then run `sloguard generate "
            "--alertmanager-out FILE`.",
            "# kubectl apply -n NAMESPACE, with the receivers' integrations (Secrets in that",
            "# namespace) added by a patch that keeps them apart, e.g. kustomize. The operator",
            "# matches only alerts labelled with that namespace unless the Alertmanager has",
            "# alertmanagerConfigMatcherStrategy: {type: None}. Receivers named:",
            f"# {', '.join(map(printable, named)) or '(none: no definition has `oncall`)'}.",
        ]
        document = operator(services)
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


def silence(
    service: str, slo: str | None, starts: datetime, ends: datetime, reason: str, author: str
) -> Json:
    """An Alertmanager silence (v2 API) of a service's SLO alerts, or of one SLO's: matches
    `sloguard_severity` too, so alerts sloguard did not generate stay loud."""
    scope = {"service": service, **({"slo": slo} if slo else {})}
    matchers = [
        {"name": name, "value": value, "isRegex": False, "isEqual": True}
        for name, value in scope.items()
    ]
    matchers.append({"name": ALERT_SEVERITY_LABEL, "value": ".+", "isRegex": True, "isEqual": True})
    return {
        "matchers": matchers,
        "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat(),
        "createdBy": author,
        "comment": reason,
    }


def silenced_scope(found: Json) -> dict[str, str] | None:
    """The service (and SLO) a silence made by `silence` holds back; None for any other (or
    for a shape Alertmanager would not answer)."""
    matchers = found.get("matchers")
    if not isinstance(matchers, list):
        return None
    named = [m for m in matchers if isinstance(m, dict) and isinstance(m.get("name"), str)]
    plain = {
        m["name"]: m.get("value")
        for m in named
        if m.get("isRegex") is False and m.get("isEqual", True) is True
    }
    ours = any(m["name"] == ALERT_SEVERITY_LABEL for m in named)
    service = plain.get("service")
    if not ours or not isinstance(service, str):
        return None
    slo = plain.get("slo")
    return {"service": service, **({"slo": slo} if isinstance(slo, str) else {})}
