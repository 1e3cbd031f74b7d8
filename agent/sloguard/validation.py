"""Definitions to validated models, collecting every problem across every file.

Beyond the model's own field checks: PromQL syntax (a real parser), `{{window}}` where a range is
needed, reserved labels, tiers that can never fire (factor x budget >= 1), alert windows that do
not fit the SLO window, and the same SLO defined twice.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import promql_parser
from pydantic import ValidationError

from sloguard.burnrate import BASE_WINDOW_SECONDS, tiers_for
from sloguard.errors import SpecProblem
from sloguard.promql import (
    ALERT_SEVERITY_LABEL,
    BASE_WINDOW,
    INFO_LABELS,
    drops_labels,
    grouping_labels,
    render_window,
)
from sloguard.spec.actions import Actions
from sloguard.spec.base import WINDOW_PLACEHOLDER
from sloguard.spec.documents import KeyPath
from sloguard.spec.durations import parse_seconds
from sloguard.spec.model import SLO, OnCall, ServiceSLOs, Severity, json_schema
from sloguard.spec.sources import Definition
from sloguard.spec.templates import template_problem

# Far deeper than any real SLI (a dozen levels), far shallower than Python's recursion limit.
MAX_QUERY_DEPTH = 64
RESERVED_LABELS = frozenset({"service", "slo", "severity", ALERT_SEVERITY_LABEL, *INFO_LABELS})


@dataclass(frozen=True)
class Validated:
    """A definition that passed every check, with the source it came from."""

    spec: ServiceSLOs
    source: Definition


def validate(definitions: list[Definition]) -> tuple[list[Validated], list[SpecProblem]]:
    """The definitions that are valid, and every problem of those that are not."""
    valid: list[Validated] = []
    problems: list[SpecProblem] = []
    for definition in definitions:
        try:
            spec = ServiceSLOs.model_validate(definition.data)
        except ValidationError as exc:
            problems.extend(_from_pydantic(definition, exc))
            problems.extend(_check_sound_slos(definition, exc))
            continue
        found = [
            _problem(definition, spec.service, path, message)
            for path, message in check_service(spec)
        ]
        problems.extend(found)
        if not found:
            valid.append(Validated(spec, definition))
    problems.extend(_duplicates(valid))
    duplicated = {(p.service, p.slo) for p in problems if p.message.startswith("duplicate")}
    valid = [
        v for v in valid if not any((v.spec.service, s.name) in duplicated for s in v.spec.slos)
    ]
    return valid, problems


def _check_sound_slos(definition: Definition, exc: ValidationError) -> Iterator[SpecProblem]:
    """Cross-field checks of the SLOs the model accepted, when a sibling made the file fail:
    one broken SLO must not hide the problems of the others."""
    broken = {e["loc"][1] for e in exc.errors() if e["loc"][:1] == ("slos",) and len(e["loc"]) > 1}
    slos = definition.data.get("slos")
    if not isinstance(slos, list):
        return
    for i, data in enumerate(slos):
        if i in broken:
            continue
        try:
            slo = SLO.model_validate(data)
        except ValidationError:
            continue
        for path, message in check_slo(slo, ("slos", i)):
            yield _problem(definition, definition.service or "?", path, message)


def check_service(spec: ServiceSLOs) -> Iterator[tuple[KeyPath, str]]:
    """(native path, message) for every cross-field problem of one service."""
    for key in sorted(RESERVED_LABELS & spec.labels.keys()):
        yield ("labels", key), f"label {key!r} is reserved: sloguard sets it"
    for key in _unnameable(spec.labels):
        yield ("labels", key), _UNNAMEABLE.format(key=key)
    for key, value in spec.labels.items():
        problem = template_problem(value)
        if problem:
            yield ("labels", key), f"{problem} (the label goes on every alert)"
    names: set[str] = set()
    for i, slo in enumerate(spec.slos):
        at: KeyPath = ("slos", i)
        if slo.name in names:
            yield (*at, "name"), f"duplicate SLO {slo.name!r} in service {spec.service!r}"
        names.add(slo.name)
        yield from check_slo(slo, at)
    if spec.actions is not None:
        yield from _check_actions(spec.actions, names)
    yield from _check_quiet(spec)


def _check_quiet(spec: ServiceSLOs) -> Iterator[tuple[KeyPath, str]]:
    """Quiet periods mute the routes to receivers: with none to mute they would do nothing."""
    message = (
        "maintenance has nothing to mute: name a `page` or `ticket` receiver beside it, "
        "whose notifications it holds back"
    )
    effective = [slo.oncall.over(spec.oncall) if slo.oncall else spec.oncall for slo in spec.slos]

    def receives(oncall: OnCall | None) -> bool:
        return oncall is not None and any(oncall.receiver(s) for s in Severity)

    if spec.oncall and spec.oncall.maintenance and not any(map(receives, effective)):
        yield ("oncall", "maintenance"), message
    for i, (slo, oncall) in enumerate(zip(spec.slos, effective, strict=True)):
        if slo.oncall and slo.oncall.maintenance and not receives(oncall):
            yield ("slos", i, "oncall", "maintenance"), message


def _check_actions(actions: Actions, slos: set[str]) -> Iterator[tuple[KeyPath, str]]:
    for i, name in enumerate(actions.slos):
        if name not in slos:
            yield ("actions", "slos", i), f"no SLO named {name!r} in this service"
    if actions.scale is not None:
        problem = _promql_problem(actions.scale.saturation)
        if problem:
            yield ("actions", "scale", "saturation"), problem


def _promql_problem(query: str) -> str | None:
    """What the real parser finds wrong with `query`, if anything; and a query nested deeper
    than MAX_QUERY_DEPTH, which the code walking its syntax tree (rates, the gate's selectors)
    could not follow."""
    try:
        parsed = promql_parser.parse(query)
    except ValueError as exc:
        return f"invalid PromQL: {exc}"
    depth = _depth(parsed)
    if depth > MAX_QUERY_DEPTH:
        return f"the query is nested {depth} levels deep; at most {MAX_QUERY_DEPTH} are read"
    return None


def _depth(expr: object) -> int:
    """How deep the syntax tree goes (a loop, not recursion: the tree may be thousands deep)."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = [getattr(node, name, None) for name in ("expr", "lhs", "rhs", "param")]
        children += list(getattr(node, "args", None) or ())
        stack += [(c, depth + 1) for c in children if type(c).__module__ == "promql_parser"]
    return deepest


# Label names PromQL cannot write in `ignoring(...)`, where the rules name every label they set:
# `inf` and `nan` read as numbers, `without` as the keyword, in any case (promtool refuses them).
_UNNAMEABLE = "label {key!r} cannot be named in PromQL's ignoring(...), which the rules need"


def _unnameable(labels: Mapping[str, str]) -> list[str]:
    return sorted(k for k in labels if k.lower() in ("inf", "nan", "without"))


def check_slo(slo: SLO, at: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """(native path, message) for every cross-field problem of one SLO at `at`."""
    for key in sorted(RESERVED_LABELS & slo.labels.keys()):
        yield (*at, "labels", key), f"label {key!r} is reserved: sloguard sets it"
    for key in _unnameable(slo.labels):
        yield (*at, "labels", key), _UNNAMEABLE.format(key=key)
    yield from _check_sli(slo, at)
    yield from _check_alerting(slo, at)


def _check_sli(slo: SLO, at: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    sli = slo.sli
    queries: list[tuple[KeyPath, str, bool]] = []
    if sli.events:
        for key in ("errors", "good", "total"):
            query = getattr(sli.events, key)
            if query is not None:
                queries.append(((*at, "sli", "events", key), query, True))
        other = sli.events.errors or sli.events.good
        if other is not None and other.strip() == sli.events.total.strip():
            yield (*at, "sli", "events", "total"), "total must differ from errors/good"
        if other is not None and set(grouping_labels(other)) != set(
            grouping_labels(sli.events.total)
        ):
            yield (
                (*at, "sli", "events", "total"),
                f"errors/good group by ({', '.join(grouping_labels(other))}) but total by "
                f"({', '.join(grouping_labels(sli.events.total))}): no series would divide",
            )
    if sli.raw:
        queries.append(((*at, "sli", "raw", "error_ratio"), sli.raw.error_ratio, False))
    if slo.alerting.min_events and not sli.counts_events:
        counted = "a raw ratio" if sli.raw else "events that are not per-second rates"
        yield (
            (*at, "alerting", "min_events"),
            f"min_events needs an SLI whose total is a per-second rate: {counted} has no "
            "event count",
        )
    for path, query, needs_window in queries:
        if needs_window and not WINDOW_PLACEHOLDER.search(query):
            yield path, "must contain {{window}} as the range of its rates, e.g. [{{window}}]"
            continue
        problem = _promql_problem(render_window(query, BASE_WINDOW))
        if problem:
            yield path, problem
            continue
        for label in sorted(RESERVED_LABELS.intersection(grouping_labels(query))):
            yield path, f"grouping by {label!r} clashes with the label sloguard sets"
        if drops_labels(query):
            yield (
                path,
                "`without (...)` keeps labels sloguard cannot name, so its alerts, routes and "
                "dashboards could not tell the series apart: write `sum by (...)` with the "
                "labels to keep, or `sum(...)` for one series",
            )
    if sli.latency and sli.latency.threshold_seconds <= 0:
        yield (*at, "sli", "latency", "threshold"), "threshold must be positive"


def _check_alerting(slo: SLO, at: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    budget = slo.error_budget
    if not any(t.severity is Severity.PAGE for t in tiers_for(slo)):
        yield (
            (*at, "alerting", "windows") if slo.alerting.windows else (*at, "objective"),
            f"no page tier can fire at objective {slo.objective}%: the slowest default one "
            "burns 6x, which needs an error ratio over 100%; set `alerting.windows` with a "
            "page tier whose factor x error budget stays below 1",
        )
    for j, tier in enumerate(tiers_for(slo)):
        where: KeyPath = (
            (*at, "alerting", "windows", j) if slo.alerting.windows else (*at, "objective")
        )
        needed = tier.factor * float(budget)
        if needed >= 1:
            yield (
                where,
                (
                    f"the {tier.severity} tier {tier.factor:g}x over {tier.long}/{tier.short} can "
                    f"never fire: it needs an error ratio of {needed:.3g} (over 100%) at objective "
                    f"{slo.objective}%; lower the factor or raise the objective"
                ),
            )
        if slo.alerting.windows:
            short, long = parse_seconds(tier.short), parse_seconds(tier.long)
            if short < BASE_WINDOW_SECONDS:
                yield (*where, "short"), "the short window must be at least 5m"
            if short >= long:
                yield (*where, "short"), "the short window must be shorter than the long one"
            if long > slo.window_seconds:
                yield (*where, "long"), "the long window must not exceed the SLO window"
            if short % 60 or long % 60:
                yield where, "alert windows must be whole minutes"
    yield from _check_templates(slo, at)
    reserved = {"service", "slo", ALERT_SEVERITY_LABEL}
    for key in sorted(reserved & slo.alerting.labels.keys()):
        yield (*at, "alerting", "labels", key), f"label {key!r} is reserved: sloguard sets it"
    for route in ("page", "ticket"):
        labels = getattr(slo.alerting, route).labels
        for key in sorted(reserved & labels.keys()):
            yield (
                (*at, "alerting", route, "labels", key),
                f"label {key!r} is reserved: sloguard sets it",
            )


def _check_templates(slo: SLO, at: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Alert labels and annotations are Prometheus templates: one it cannot parse fails the
    whole rule group. The SLO's labels go on its alerts too."""
    alerting = slo.alerting
    texts: list[tuple[KeyPath, str | None]] = [
        ((*at, "alerting", "runbook"), alerting.runbook),
        ((*at, "alerting", "dashboard"), alerting.dashboard),
        *(((*at, "labels", key), value) for key, value in slo.labels.items()),
    ]
    for where, holder in (
        ((), alerting),
        (("page",), alerting.page),
        (("ticket",), alerting.ticket),
    ):
        for kind in ("labels", "annotations"):
            for key, value in getattr(holder, kind).items():
                texts.append(((*at, "alerting", *where, kind, key), value))
    for path, text in texts:
        problem = template_problem(text) if text is not None else None
        if problem:
            yield path, problem


def _duplicates(valid: list[Validated]) -> Iterator[SpecProblem]:
    seen: dict[tuple[str, str], Validated] = {}
    for item in valid:
        for i, slo in enumerate(item.spec.slos):
            key = (item.spec.service, slo.name)
            if key in seen:
                first = seen[key].source
                file, line, field = item.source.locate(("slos", i, "name"))
                yield SpecProblem(
                    file,
                    line,
                    key[0],
                    key[1],
                    field,
                    f"duplicate SLO: also defined in {first.file}",
                )
            else:
                seen[key] = item


def _from_pydantic(definition: Definition, exc: ValidationError) -> Iterator[SpecProblem]:
    for error in exc.errors():
        path: KeyPath = tuple(error["loc"])
        slo = None
        if len(path) >= 2 and path[0] == "slos" and isinstance(path[1], int):
            slo = definition.slo_name(path[1])
        message = error["msg"].removeprefix("Value error, ")
        if path[-1:] == ("[key]",):  # a name in a map (labels, annotations), not its value
            path = path[:-1]
            message = f"{path[-1]!r} is not a valid name: {message}"
        if error["type"] == "extra_forbidden":
            message = "unknown field" + _did_you_mean(str(path[-1]))
        elif error["type"] == "missing":
            message = "required field is missing"
        file, line, field = definition.locate(path)
        yield SpecProblem(file, line, definition.service, slo, field or None, message)


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, _field_names(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@functools.cache
def _field_names() -> tuple[str, ...]:
    schema = json_schema()
    names = set(schema["properties"])
    for definition in schema["$defs"].values():
        names.update(definition.get("properties", {}))
    return tuple(sorted(names))


def _problem(definition: Definition, service: str, path: KeyPath, message: str) -> SpecProblem:
    index = path[1] if len(path) >= 2 and path[0] == "slos" else None
    slo = definition.slo_name(index) if isinstance(index, int) else None
    file, line, field = definition.locate(path)
    return SpecProblem(file, line, service, slo, field or None, message)
