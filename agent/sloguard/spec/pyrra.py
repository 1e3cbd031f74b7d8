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

import difflib
from decimal import Decimal, InvalidOperation
from typing import Any

import promql_parser as pp

from sloguard.promql import le_pattern, number
from sloguard.spec.counters import counter_rates, matcher_text, ranged, selector_text
from sloguard.spec.documents import Document, Path
from sloguard.spec.durations import parse_seconds
from sloguard.spec.sources import Definition, FieldError, kubernetes_object

PREFIX = "pyrra.dev/"
PYRRA_ALERT = "ErrorBudgetBurn"  # Pyrra's alert name when none is given: routes may match it
_SPEC_KEYS = {"description", "target", "window", "indicator", "alerting"}
_IGNORED_SPEC_KEYS = {
    "partial_response_strategy": "a Thanos Ruler setting",
    "performanceOverAccuracy": "sloguard's recording rules are its own",
    "ruleOutput": "sloguard writes one rule file per service",
}
_INDICATORS = ("ratio", "latency", "latencyNative", "bool_gauge")
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
    metadata = _mapping(data.get("metadata"))
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise FieldError(("spec",), "expected a mapping")
    found: list[tuple[Path, str]] = []
    warnings: list[tuple[Path, str]] = []
    for key in spec:
        if key in _IGNORED_SPEC_KEYS:
            warnings.append((("spec", key), f"{key} left out: {_IGNORED_SPEC_KEYS[key]}"))
        elif key not in _SPEC_KEYS:
            close = difflib.get_close_matches(str(key), sorted(_SPEC_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.append((("spec", str(key)), f"unknown Pyrra field{hint}"))
    renames: dict[Path, Path] = {
        (): (),
        ("slos", 0): ("spec",),
        ("slos", 0, "name"): ("metadata", "name"),
        ("slos", 0, "objective"): ("spec", "target"),
        ("slos", 0, "window"): ("spec", "window"),
        ("slos", 0, "description"): ("spec", "description"),
        ("slos", 0, "labels"): ("metadata", "labels"),
        ("slos", 0, "sli"): ("spec", "indicator"),
        ("slos", 0, "alerting"): ("spec", "alerting"),
    }
    labels: dict[str, Any] = _mapping(metadata.get("labels"))
    slo: dict[str, Any] = {
        "name": metadata.get("name"),
        "objective": _target(spec, found),
        "window": _window(spec, found),
        "description": str(spec.get("description") or ""),
        "labels": {
            str(k).removeprefix(PREFIX): v
            for k, v in labels.items()
            if str(k).startswith(PREFIX) and k != f"{PREFIX}service"
        },
        "sli": _indicator(spec.get("indicator"), renames, found),
        "alerting": _alerting(spec.get("alerting"), metadata, found, warnings),
    }
    if found:
        raise FieldError.of(found)
    service, renames[("service",)] = _service(metadata, labels)
    native = {"service": service, "slos": [slo], **kubernetes_object(document, renames)}
    return Definition(
        file=file,
        format="pyrra",
        data=native,
        document=document,
        renames=renames,
        warnings=tuple(warnings),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _service(metadata: dict[str, Any], labels: dict[str, Any]) -> tuple[Any, Path]:
    if f"{PREFIX}service" in labels:
        return labels[f"{PREFIX}service"], ("metadata", "labels", f"{PREFIX}service")
    if metadata.get("namespace"):
        return metadata["namespace"], ("metadata", "namespace")
    return metadata.get("name"), ("metadata", "name")


def _target(spec: dict[str, Any], found: list[tuple[Path, str]]) -> Any:
    at: Path = ("spec", "target")
    if "target" not in spec:
        found.append((("spec",), "needs `target`, a percentage such as '99.5'"))
        return None
    try:
        target = Decimal(str(spec["target"]).strip())
    except InvalidOperation:
        found.append((at, f"target {spec['target']!r} is not a number"))
        return None
    if 0 < target < 1:
        found.append(
            (at, f"target is a percentage: {target} means {target}%; write {target * 100}")
        )
    return float(target)


def _window(spec: dict[str, Any], found: list[tuple[Path, str]]) -> Any:
    if not spec.get("window"):
        found.append((("spec",), "needs `window`, e.g. 28d (Pyrra has no default)"))
    return str(spec.get("window") or "")


def _indicator(
    indicator: Any, renames: dict[Path, Path], found: list[tuple[Path, str]]
) -> dict[str, Any]:
    at: Path = ("spec", "indicator")
    kinds = [k for k in _INDICATORS if isinstance(indicator, dict) and k in indicator]
    if not isinstance(indicator, dict) or len(kinds) != 1:
        found.append((at, f"set exactly one of {', '.join(_INDICATORS)}"))
        return {}
    for key in indicator:
        if key not in _INDICATORS:
            found.append(((*at, str(key)), "unknown Pyrra indicator"))
    kind = kinds[0]
    body = indicator[kind]
    where: Path = (*at, kind)
    if not isinstance(body, dict):
        found.append((where, "expected a mapping"))
        return {}
    grouping = body.get("grouping") or []
    if not isinstance(grouping, list) or not all(isinstance(g, str) for g in grouping):
        found.append(((*where, "grouping"), "grouping must be a list of label names"))
        grouping = []
    by = f"sum by ({', '.join(sorted(set(grouping)))})" if grouping else "sum"
    try:
        if kind == "ratio":
            return _ratio(body, where, by, renames)
        if kind == "latency":
            return _latency(body, where, by, bool(grouping), renames)
        if kind == "latencyNative":
            return _native_latency(body, where, by, renames)
        return _bool_gauge(body, where, by, renames)
    except FieldError as exc:
        found.extend(exc.found)
        return {}


def _selector(body: dict[str, Any], key: str, at: Path) -> pp.VectorSelector:
    """`body[key].metric`, which Pyrra requires to be a plain series selector."""
    part = body.get(key)
    if not isinstance(part, dict):
        raise FieldError((*at, key), "needs a `metric` selector")
    return _metric(part.get("metric"), (*at, key, "metric"))


def _metric(metric: Any, path: Path) -> pp.VectorSelector:
    if not isinstance(metric, str) or not metric.strip():
        raise FieldError(path, "needs a `metric` selector")
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


def _ratio(body: dict[str, Any], at: Path, by: str, renames: dict[Path, Path]) -> dict[str, Any]:
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
    body: dict[str, Any], at: Path, by: str, grouped: bool, renames: dict[Path, Path]
) -> dict[str, Any]:
    success, total = _selector(body, "success", at), _selector(body, "total", at)
    matchers = success.matchers.matchers
    le = [m for m in matchers if m.name == "le"]
    if len(le) != 1 or le[0].op != pp.MatchOp.Equal:
        raise FieldError((*at, "success", "metric"), 'needs one `le="<seconds>"` matcher')
    try:
        seconds = float(le[0].value)
    except ValueError as exc:
        raise FieldError((*at, "success", "metric"), f"le={le[0].value!r} is not a number") from exc
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
    body: dict[str, Any], at: Path, by: str, renames: dict[Path, Path]
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
    body: dict[str, Any], at: Path, by: str, renames: dict[Path, Path]
) -> dict[str, Any]:
    """Events of a 0/1 gauge: its samples, and those that are not 1. Counts over the window,
    not per-second rates: the SLI has no event count of its own."""
    gauge = ranged(_metric(body.get("metric"), (*at, "metric")))
    samples = f"{by}(count_over_time({gauge}))"
    good = f"{by}(sum_over_time({gauge}))"
    renames[("slos", 0, "sli", "events")] = (*at, "metric")
    return {"events": {"errors": f"{samples} - {good}", "total": samples}}


def _alerting(
    alerting: Any,
    metadata: dict[str, Any],
    found: list[tuple[Path, str]],
    warnings: list[tuple[Path, str]],
) -> dict[str, Any]:
    at: Path = ("spec", "alerting")
    alerting = alerting if isinstance(alerting, dict) else {}
    for key in alerting:
        if key not in _ALERTING_KEYS:
            found.append(((*at, str(key)), "unknown Pyrra alerting field"))
    if "burnRateType" in alerting:
        warnings.append(((*at, "burnRateType"), "burnRateType left out: sloguard's tiers apply"))
    if alerting.get("absent") or "absentName" in alerting:
        key = "absentName" if "absentName" in alerting else "absent"
        warnings.append(
            (
                (*at, key),
                "absent alerts left out: sloguard reports an SLO without data as no_data "
                "(`sloguard evaluate`, the agent's metrics)",
            )
        )
    off = alerting.get("disabled") is True or alerting.get("burnrates") is False
    severities = _mapping(alerting.get("severities"))
    routes: dict[str, dict[str, Any]] = {}
    for route in ("page", "ticket"):
        chosen = [str(v) for k, v in severities.items() if _SEVERITIES.get(str(k)) == route]
        if len(set(chosen)) > 1:
            warnings.append(
                (
                    (*at, "severities"),
                    f"one {route} alert covers two Pyrra tiers: severity {chosen[0]!r} is kept",
                )
            )
        labels = {"severity": chosen[0] if chosen else _DEFAULT_SEVERITY[route]}
        routes[route] = {"labels": labels, **({"disable": True} if off else {})}
    annotations = _mapping(metadata.get("annotations"))
    texts = {
        **{
            str(k).removeprefix(PREFIX): v
            for k, v in annotations.items()
            if str(k).startswith(PREFIX)
        },
        **_mapping(alerting.get("annotations")),
    }
    out: dict[str, Any] = {**routes, "labels": alerting.get("labels") or {}}
    for key in ("runbook_url", "runbook"):
        if key in texts:
            out["runbook"] = texts.pop(key)
    out["annotations"] = texts
    out["name"] = alerting.get("name", PYRRA_ALERT)
    return out
