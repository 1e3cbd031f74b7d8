"""Pyrra `pyrra.dev/v1alpha1` `ServiceLevelObjective` objects to native data.

Pyrra's metrics are counter (or gauge) selectors; each becomes its rate over `{{window}}`, summed
`by` the `grouping` labels, which makes the SLO a per-label one. The indicators:
- `ratio`: errors (or success) over total, as events;
- `latency`: the success `_bucket{le=...}` and total `_count` of a classic histogram: a native
  `latency` SLI when the two select the same equality-matched series, else events (total minus
  success) with `le` matched however Prometheus prints it;
- `latencyNative`: a native histogram's count minus the share below `latency`, as events;
- `bool_gauge`: a 0/1 gauge's samples, as events counted from samples (not per-second rates).

The SLO is `metadata.name`; its service the `pyrra.dev/service` label, else the namespace, else
the SLO's own name. `pyrra.dev/` labels become SLO labels and `pyrra.dev/` annotations alert
annotations, prefix stripped, as Pyrra does; the namespace and all labels go on the
PrometheusRule `--format operator` writes. Pyrra's alert severities (`critical` for the fast
tiers, `warning` for the slow ones, or `alerting.severities`) stay on the alerts' `severity`
label, so routes written for Pyrra keep working; the tiers are sloguard's.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import promql_parser as pp

from sloguard.spec.base import LABEL_NAME_PATTERN
from sloguard.spec.counters import NotACounter, counter_rates, matcher_text, ranged, selector_text
from sloguard.spec.documents import Document, KeyPath
from sloguard.spec.durations import parse_seconds
from sloguard.spec.promtext import le_pattern, number
from sloguard.spec.sources import Definition, FieldError, Fields, kubernetes_object

PREFIX = "pyrra.dev/"
PYRRA_ALERT = "ErrorBudgetBurn"  # Pyrra's alert name when none is given: routes may match it
_SPEC_KEYS = {"description", "target", "window", "indicator", "alerting"}
_IGNORED_SPEC_KEYS = {
    "partial_response_strategy": "a Thanos Ruler setting",
    "performanceOverAccuracy": "sloguard's recording rules are its own",
    "ruleOutput": "sloguard writes one rule file per service",
}
_INDICATORS = ("ratio", "latency", "latencyNative", "bool_gauge")
_INDICATOR_KEYS = {
    "ratio": {"errors", "success", "total", "grouping"},
    "latency": {"success", "total", "grouping"},
    "latencyNative": {"total", "latency", "grouping"},
    "bool_gauge": {"metric", "grouping"},
}
LABEL_NAME = re.compile(LABEL_NAME_PATTERN)
PROMETHEUS_FLOAT = re.compile(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?")
_ALERTING_KEYS = {
    "name",
    "disabled",
    "burnrates",
    "absent",
    "absentName",
    "severities",
    "labels",
    "annotations",
    "burnRateType",
}
# Pyrra's tiers by speed, and the sloguard alert each falls in.
_SEVERITIES = {
    "fastBurn": "page",
    "mediumBurn": "page",
    "slowBurn": "ticket",
    "longTermBurn": "ticket",
}
_DEFAULT_SEVERITY = {"page": "critical", "ticket": "warning"}


def from_pyrra(file: str, document: Document) -> Definition:
    """Native data for one Pyrra ServiceLevelObjective; FieldError lists what has no
    equivalent."""
    data = document.data
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise FieldError(("spec",), "expected a mapping")
    fields = Fields("Pyrra")
    metadata = fields.mapping(data.get("metadata"), ("metadata",))
    if not isinstance(metadata.get("name"), str):
        fields.refuse(
            ("metadata", "name") if "name" in metadata else ("metadata",), "needs a `name`"
        )
    labels = fields.strings(metadata.get("labels"), ("metadata", "labels"))
    annotations = fields.strings(metadata.get("annotations"), ("metadata", "annotations"))
    for key in spec:
        if key in _IGNORED_SPEC_KEYS:
            fields.warn(("spec", key), f"{key} left out: {_IGNORED_SPEC_KEYS[key]}")
    fields.known(spec, _SPEC_KEYS | set(_IGNORED_SPEC_KEYS), ("spec",))
    renames: dict[KeyPath, KeyPath] = {
        (): (),
        ("slos", 0): ("spec",),
        ("slos", 0, "name"): ("metadata", "name"),
        ("slos", 0, "objective"): ("spec", "target"),
        ("slos", 0, "window"): ("spec", "window"),
        ("slos", 0, "description"): ("spec", "description"),
        ("slos", 0, "sli"): ("spec", "indicator"),
        ("slos", 0, "alerting"): ("spec", "alerting"),
    }
    slo_labels = {}
    for key, value in labels.items():
        if key.startswith(PREFIX) and key != SERVICE_LABEL:
            slo_labels[key.removeprefix(PREFIX)] = value
            renames[("slos", 0, "labels", key.removeprefix(PREFIX))] = ("metadata", "labels", key)
    slo: dict[str, Any] = {
        "name": metadata.get("name"),
        "objective": _target(fields, spec),
        "window": _window(fields, spec),
        "description": fields.text(spec.get("description"), ("spec", "description")) or "",
        "labels": slo_labels,
        "sli": _indicator(fields, spec.get("indicator"), renames),
        "alerting": _alerting(fields, spec.get("alerting"), annotations, renames),
    }
    fields.check()
    service, renames[("service",)] = _service(metadata, labels)
    native = {"service": service, "slos": [slo], **kubernetes_object(document, renames)}
    return Definition(
        file=file,
        format="pyrra",
        data=native,
        document=document,
        renames=renames,
        warnings=tuple(fields.warnings),
    )


SERVICE_LABEL = f"{PREFIX}service"


def service_of(document: Document) -> str | None:
    """The service a Pyrra object's SLO belongs to, for naming it in errors."""
    metadata = document.data.get("metadata")
    if not isinstance(metadata, dict):
        return None
    labels = metadata.get("labels")
    service, _ = _service(metadata, labels if isinstance(labels, dict) else {})
    return service if isinstance(service, str) else None


def _service(metadata: dict[str, Any], labels: dict[str, Any]) -> tuple[Any, KeyPath]:
    if SERVICE_LABEL in labels:
        return labels[SERVICE_LABEL], ("metadata", "labels", SERVICE_LABEL)
    if metadata.get("namespace"):
        return metadata["namespace"], ("metadata", "namespace")
    return metadata.get("name"), ("metadata", "name")


def _target(fields: Fields, spec: dict[str, Any]) -> float | None:
    at: KeyPath = ("spec", "target")
    if "target" not in spec:
        fields.refuse(("spec",), "needs `target`, a percentage such as '99.5'")
        return None
    value = spec["target"]
    try:
        target = Decimal(str(value).strip()) if not isinstance(value, bool) else Decimal("nan")
    except InvalidOperation:
        target = Decimal("nan")
    if not target.is_finite():
        fields.refuse(at, f"target {value!r} is not a number")
        return None
    if 0 < target < 1:
        fields.refuse(at, f"target is a percentage: {target} means {target}%; write {target * 100}")
    return float(target)


def _window(fields: Fields, spec: dict[str, Any]) -> str:
    window = fields.text(spec.get("window"), ("spec", "window"), "a duration such as 28d")
    if not window:
        fields.refuse(("spec",), "needs `window`, e.g. 28d (Pyrra has no default)")
    return window or ""


def _indicator(fields: Fields, indicator: Any, renames: dict[KeyPath, KeyPath]) -> dict[str, Any]:
    at: KeyPath = ("spec", "indicator")
    indicator = fields.mapping(indicator, at)
    kinds = [k for k in _INDICATORS if k in indicator]
    if len(kinds) != 1:
        fields.refuse(at, f"set exactly one of {', '.join(_INDICATORS)}")
        return {}
    fields.known(indicator, set(_INDICATORS), at)
    kind = kinds[0]
    where: KeyPath = (*at, kind)
    body = fields.mapping(indicator[kind], where)
    fields.known(body, _INDICATOR_KEYS[kind], where)
    grouping = fields.listing(body.get("grouping"), (*where, "grouping"))
    for i, label in enumerate(grouping):
        if not isinstance(label, str) or not LABEL_NAME.fullmatch(label):
            fields.refuse((*where, "grouping", i), f"{label!r} is not a Prometheus label name")
    by = f"sum by ({', '.join(sorted(set(map(str, grouping))))})" if grouping else "sum"
    try:
        if kind == "ratio":
            return _ratio(body, where, by, renames)
        if kind == "latency":
            return _latency(body, where, by, bool(grouping), renames)
        if kind == "latencyNative":
            return _native_latency(body, where, by, renames)
        return _bool_gauge(body, where, by, renames)
    except FieldError as exc:
        fields.found.extend(exc.found)
    except NotACounter as exc:  # a grouping or selector the rate cannot be written with
        fields.refuse(where, str(exc))
    return {}


def _selector(body: dict[str, Any], key: str, at: KeyPath) -> pp.VectorSelector:
    """`body[key].metric`, which Pyrra requires to be a plain series selector."""
    part = body.get(key)
    if not isinstance(part, dict):
        raise FieldError((*at, key), "needs a `metric` selector")
    unknown = sorted(set(part) - {"metric"})
    if unknown:
        raise FieldError((*at, key, str(unknown[0])), "unknown Pyrra field (a metric has `metric`)")
    return _metric(part.get("metric"), (*at, key, "metric"))


def _metric(metric: Any, path: KeyPath) -> pp.VectorSelector:
    if not isinstance(metric, str) or not metric.strip():
        raise FieldError(path, "needs a `metric` selector")
    if "{{" in metric:
        raise FieldError(path, "`{{` in a selector: sloguard reads `{{window}}` as a range")
    try:
        expr = pp.parse(metric)
    except ValueError as exc:
        raise FieldError(path, f"invalid PromQL: {exc}") from exc
    if not isinstance(expr, pp.VectorSelector):
        raise FieldError(path, 'must be a series selector such as `http_requests_total{job="x"}`')
    return expr


def _rate(by: str, selector: pp.VectorSelector | str) -> str:
    text = selector if isinstance(selector, str) else selector_text(selector)
    return counter_rates(f"{by}({text})")


def _ratio(
    body: dict[str, Any], at: KeyPath, by: str, renames: dict[KeyPath, KeyPath]
) -> dict[str, Any]:
    present = [k for k in ("errors", "success", "total") if k in body]
    if len(present) != 2:
        raise FieldError(at, "needs two of `errors`, `success` and `total`")
    rates = {key: _rate(by, _selector(body, key, at)) for key in present}
    native = {"errors": "errors", "success": "good", "total": "total"}
    for key in present:
        renames[("slos", 0, "sli", "events", native[key])] = (*at, key, "metric")
    if "total" not in rates:  # errors and success: every event is one or the other
        renames[("slos", 0, "sli", "events", "total")] = at
        return {
            "events": {
                "errors": rates["errors"],
                "total": f"{rates['errors']} + {rates['success']}",
            }
        }
    return {"events": {native[k]: v for k, v in rates.items()}}


def _latency(
    body: dict[str, Any], at: KeyPath, by: str, grouped: bool, renames: dict[KeyPath, KeyPath]
) -> dict[str, Any]:
    success, total = _selector(body, "success", at), _selector(body, "total", at)
    matchers = success.matchers.matchers
    le = [m for m in matchers if m.name == "le"]
    if len(le) != 1 or le[0].op != pp.MatchOp.Equal:
        raise FieldError((*at, "success", "metric"), 'needs one `le="<seconds>"` matcher')
    # Prometheus's own float syntax: Python's float() also takes `0_5` and other scripts' digits.
    seconds = float(le[0].value) if PROMETHEUS_FLOAT.fullmatch(le[0].value) else math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise FieldError(
            (*at, "success", "metric"), f"le={le[0].value!r} is not a latency in seconds"
        )
    others = [m for m in matchers if m.name != "le"]
    native = None if grouped else _as_latency(success, total, others, seconds)
    if native is not None:
        renames[("slos", 0, "sli", "latency")] = (*at, "success", "metric")
        return {"latency": native}
    # `le` as Prometheus 3 and client libraries may print it (`1` or `1.0`).
    le_matcher = f'le=~"{le_pattern(seconds)}"'
    bucket = selector_text(success, matchers=[*map(matcher_text, others), le_matcher])
    renames[("slos", 0, "sli", "events", "total")] = (*at, "total", "metric")
    renames[("slos", 0, "sli", "events", "good")] = (*at, "success", "metric")
    return {"events": {"good": _rate(by, bucket), "total": _rate(by, total)}}


def _as_latency(
    success: pp.VectorSelector,
    total: pp.VectorSelector,
    others: list[Any],
    seconds: float,
) -> dict[str, Any] | None:
    """The native latency SLI, when the two selectors are a histogram's `_bucket` and `_count`
    over the same equality-matched series and the threshold is a whole number of ms."""
    base = (success.name or "").removesuffix("_bucket")
    if (
        success.name != f"{base}_bucket"
        or total.name != f"{base}_count"
        or success.offset is not None
        or total.offset is not None
        or success.at is not None
        or total.at is not None
        or any(m.op != pp.MatchOp.Equal for m in [*others, *total.matchers.matchers])
        or sorted(map(str, others)) != sorted(map(str, total.matchers.matchers))
    ):
        return None
    millis = Decimal(repr(seconds)) * 1000
    if millis <= 0 or millis != millis.to_integral_value():
        return None
    return {
        "metric": base,
        "selector": {m.name: m.value for m in others},
        "threshold": f"{int(millis)}ms" if millis % 1000 else f"{int(millis) // 1000}s",
    }


def _native_latency(
    body: dict[str, Any], at: KeyPath, by: str, renames: dict[KeyPath, KeyPath]
) -> dict[str, Any]:
    """Events of a native histogram: all observations, and those above `latency`."""
    total = _selector(body, "total", at)
    latency = body.get("latency")
    try:
        seconds = parse_seconds(str(latency))
    except ValueError as exc:
        raise FieldError((*at, "latency"), f"latency {latency!r} is not a duration") from exc
    histogram = _rate(by, total)
    count = f"histogram_count({histogram})"
    renames[("slos", 0, "sli", "events", "total")] = (*at, "total", "metric")
    renames[("slos", 0, "sli", "events", "errors")] = (*at, "latency")
    return {
        "events": {
            "errors": f"{count} * (1 - histogram_fraction(0, {number(seconds)}, {histogram}))",
            "total": count,
        }
    }


def _bool_gauge(
    body: dict[str, Any], at: KeyPath, by: str, renames: dict[KeyPath, KeyPath]
) -> dict[str, Any]:
    """Events of a 0/1 gauge: its samples, and those that are not 1. Counts over the window,
    not per-second rates: the SLI has no event count of its own."""
    gauge = ranged(_metric(body.get("metric"), (*at, "metric")))
    samples = f"{by}(count_over_time({gauge}))"
    good = f"{by}(sum_over_time({gauge}))"
    renames[("slos", 0, "sli", "events")] = (*at, "metric")
    return {"events": {"errors": f"{samples} - {good}", "total": samples}}


def _alerting(
    fields: Fields,
    alerting: Any,
    annotations: dict[str, str],
    renames: dict[KeyPath, KeyPath],
) -> dict[str, Any]:
    at: KeyPath = ("spec", "alerting")
    alerting = fields.mapping(alerting, at)
    fields.known(alerting, _ALERTING_KEYS, at)
    if "burnRateType" in alerting:
        fields.warn((*at, "burnRateType"), "burnRateType left out: sloguard's tiers apply")
    absent = fields.flag(alerting.get("absent"), (*at, "absent"))
    if absent or "absentName" in alerting:
        fields.warn(
            (*at, "absentName" if "absentName" in alerting else "absent"),
            "absent alerts left out: sloguard reports an SLO without data as no_data "
            "(`sloguard evaluate`, the agent's metrics)",
        )
    disabled = fields.flag(alerting.get("disabled"), (*at, "disabled"))
    off = disabled or not fields.flag(alerting.get("burnrates"), (*at, "burnrates"), True)
    severities = fields.strings(alerting.get("severities"), (*at, "severities"))
    fields.known(severities, set(_SEVERITIES) | {"absent"}, (*at, "severities"))
    for key, value in severities.items():
        if not value.strip():
            fields.refuse((*at, "severities", key), "an empty severity is no label at all")
    routes: dict[str, dict[str, Any]] = {}
    for route in ("page", "ticket"):
        chosen = [v for k, v in severities.items() if _SEVERITIES.get(k) == route]
        if len(set(chosen)) > 1:
            fields.warn(
                (*at, "severities"),
                f"one {route} alert covers two Pyrra tiers: severity {chosen[0]!r} is kept",
            )
        labels = {"severity": chosen[0] if chosen else _DEFAULT_SEVERITY[route]}
        routes[route] = {"labels": labels, **({"disable": True} if off else {})}
    texts = {k.removeprefix(PREFIX): v for k, v in annotations.items() if k.startswith(PREFIX)}
    for key in texts:
        renames[("slos", 0, "alerting", "annotations", key)] = (
            "metadata",
            "annotations",
            f"{PREFIX}{key}",
        )
    written = fields.strings(alerting.get("annotations"), (*at, "annotations"))
    for key in sorted(written.keys() & texts.keys()):
        fields.refuse(
            (*at, "annotations", key), f"also set by the metadata annotation {PREFIX}{key}"
        )
    texts.update(written)
    labels = fields.strings(alerting.get("labels"), (*at, "labels"))
    if "severity" in labels:
        fields.refuse((*at, "labels", "severity"), "Pyrra sets severity by `alerting.severities`")
    out: dict[str, Any] = {**routes, "labels": labels}
    runbook = fields.spelling(texts, ("runbook_url", "runbook"), ("metadata", "annotations"))
    if runbook is not None:
        out["runbook"] = texts.pop(runbook)
        if PREFIX + runbook in annotations:
            renames[("slos", 0, "alerting", "runbook")] = (
                "metadata",
                "annotations",
                PREFIX + runbook,
            )
    out["annotations"] = texts
    out["name"] = alerting.get("name", PYRRA_ALERT)
    return out
