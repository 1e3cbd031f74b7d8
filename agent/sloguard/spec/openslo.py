"""OpenSLO `SLO` objects to native data: v1 (inline or referenced `SLI`) and v1alpha.

v1: `ratioMetric` good/total, bad/total and raw; with `counter: true` every counter selector in
the query becomes its rate over `{{window}}`, aggregations and arithmetic kept (`counters`). A
rolling `timeWindow` keeps its duration (`1M` = 30d, `1Q` = 90d, `1Y` = 365d, as OpenSLO's SDK
counts them) and a calendar one becomes `month` or `week`.

v1alpha: each objective's `ratioMetrics` good/total (`incremental` or `counter` marks counters),
`timeWindows` as `unit` x `count`, the objective's `target` as a ratio.

Only the Occurrences budgeting method and Prometheus queries are read. OpenSLO has no
multi-window pair, so the default burn-rate tiers apply and `alertPolicies` are left out with a
warning. Each objective of an SLO becomes an SLO of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sloguard.spec.base import WINDOW_PLACEHOLDER, native_window
from sloguard.spec.counters import NotACounter, counter_rates
from sloguard.spec.documents import Document, Path
from sloguard.spec.sources import Definition, FieldError

_ROLLING = {"M": "30d", "Q": "90d", "Y": "365d"}
_CALENDAR = {"1M": "month", "1w": "week", "7d": "week"}
# v1alpha `unit` (x `count`) to a duration; Month, Quarter and Year as OpenSLO's SDK counts them.
_UNITS = {
    "Second": (1, "s"),
    "Minute": (1, "m"),
    "Hour": (1, "h"),
    "Day": (1, "d"),
    "Week": (1, "w"),
    "Month": (30, "d"),
    "Quarter": (90, "d"),
    "Year": (365, "d"),
}
_CALENDAR_UNITS = {"Month": "month", "Week": "week"}
_SOURCES = {"prometheus", "sloth"}  # query sources read as PromQL (Sloth's spelling included)


def sli_name(document: Document) -> str | None:
    """Name of an OpenSLO `SLI` document, for `indicatorRef`."""
    metadata = document.data.get("metadata")
    return str(metadata.get("name")) if isinstance(metadata, dict) else None


def from_openslo(
    file: str, document: Document, indicators: Mapping[str, Document]
) -> list[Definition]:
    """One native definition per objective of an OpenSLO v1 `SLO` document."""
    spec = _spec(document)
    _budgeting(spec, ("Occurrences",))
    sli, sli_path, sli_doc = _indicator(spec, document, indicators)
    window = _time_window(spec.get("timeWindow"))
    warnings: tuple[tuple[Path, str], ...] = ()
    if spec.get("alertPolicies"):
        warnings = (
            (
                ("spec", "alertPolicies"),
                "alertPolicies left out: the SLO alerts on sloguard's burn-rate tiers",
            ),
        )
    definitions = []
    for i, objective, source in _objectives(spec):
        if "indicator" in objective or "indicatorRef" in objective:
            raise FieldError(
                (*source, "indicator" if "indicator" in objective else "indicatorRef"),
                "composite SLOs (an indicator per objective) are not supported: write one SLO "
                "per indicator",
            )
        slo = _slo(document, spec, objective, i, _percent(objective, source), window)
        slo["sli"] = sli
        renames = _renames(source)
        if sli_doc is document:
            renames[("slos", 0, "sli")] = sli_path
        definitions.append(
            Definition(
                file=file,
                format="openslo",
                data={"service": spec.get("service"), "slos": [slo]},
                document=document,
                renames=renames,
                warnings=warnings,
            )
        )
    return definitions


def from_openslo_v1alpha(file: str, document: Document) -> list[Definition]:
    """One native definition per objective of an OpenSLO v1alpha `SLO` document."""
    spec = _spec(document)
    _budgeting(spec, ("Occurrences",))
    indicator = spec.get("indicator")
    if isinstance(indicator, dict) and "thresholdMetric" in indicator:
        raise FieldError(
            ("spec", "indicator", "thresholdMetric"),
            "thresholdMetric SLIs are not supported; use ratioMetrics",
        )
    window = _time_windows(spec.get("timeWindows"))
    definitions = []
    for i, objective, source in _objectives(spec):
        at: Path = (*source, "ratioMetrics")
        ratio = objective.get("ratioMetrics")
        if not isinstance(ratio, dict):
            raise FieldError(source, "needs `ratioMetrics` with `good` and `total`")
        if "good" not in ratio or "total" not in ratio:
            raise FieldError(at, "needs `good` and `total`")
        counter = bool(ratio.get("incremental", ratio.get("counter", False)))
        slo = _slo(document, spec, objective, i, _percent(objective, source), window)
        slo["sli"] = {
            "events": {
                key: _v1alpha_query(ratio[key], (*at, key), counter) for key in ("good", "total")
            }
        }
        renames = _renames(source)
        renames[("slos", 0, "window")] = ("spec", "timeWindows")
        renames[("slos", 0, "sli")] = source
        renames[("slos", 0, "sli", "events")] = at
        definitions.append(
            Definition(
                file=file,
                format="openslo-v1alpha",
                data={"service": spec.get("service"), "slos": [slo]},
                document=document,
                renames=renames,
            )
        )
    return definitions


def _spec(document: Document) -> dict[str, Any]:
    spec = document.data.get("spec")
    if not isinstance(spec, dict):
        raise FieldError(("spec",), "expected a mapping")
    return spec


def _budgeting(spec: dict[str, Any], supported: tuple[str, ...]) -> None:
    method = spec.get("budgetingMethod", "Occurrences")
    if method not in supported:
        raise FieldError(
            ("spec", "budgetingMethod"),
            f"budgetingMethod {method!r} is not supported; use Occurrences (sloguard budgets "
            "count events, not time slices)",
        )


def _objectives(spec: dict[str, Any]) -> list[tuple[int, dict[str, Any], Path]]:
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise FieldError(("spec", "objectives"), "needs at least one objective")
    found = []
    for i, objective in enumerate(objectives):
        source: Path = ("spec", "objectives", i)
        if not isinstance(objective, dict):
            raise FieldError(source, "expected a mapping")
        found.append((i, objective, source))
    return found


def _slo(
    document: Document,
    spec: dict[str, Any],
    objective: dict[str, Any],
    index: int,
    percent: float,
    window: str,
) -> dict[str, Any]:
    metadata = document.data.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name")
    if len(spec["objectives"]) > 1:
        name = f"{name}-{_slug(objective.get('displayName')) or index}"
    return {
        "name": name,
        "objective": percent,
        "window": window,
        "description": spec.get("description", ""),
        "labels": _labels(metadata.get("labels")),
    }


def _slug(text: Any) -> str:
    """`Good requests` -> `good-requests`: a display name usable in an SLO name."""
    return re.sub(r"[^a-z0-9]+", "-", str(text or "").lower()).strip("-")


def _renames(source: Path) -> dict[Path, Path]:
    return {
        (): (),
        ("service",): ("spec", "service"),
        ("slos", 0): source,
        ("slos", 0, "name"): ("metadata", "name"),
        ("slos", 0, "window"): ("spec", "timeWindow"),
        ("slos", 0, "description"): ("spec", "description"),
        ("slos", 0, "labels"): ("metadata", "labels"),
    }


def _indicator(
    spec: dict[str, Any], document: Document, indicators: Mapping[str, Document]
) -> tuple[dict[str, Any], Path, Document]:
    path: Path
    if "indicator" in spec:
        indicator, path, owner = spec["indicator"], ("spec", "indicator"), document
    elif "indicatorRef" in spec:
        ref = spec["indicatorRef"]
        if ref not in indicators:
            raise FieldError(("spec", "indicatorRef"), f"no SLI named {ref!r} in the files read")
        owner = indicators[ref]
        indicator, path = owner.data, ()
    else:
        raise FieldError(("spec",), "needs `indicator` or `indicatorRef`")
    body = indicator.get("spec") if isinstance(indicator, dict) else None
    if not isinstance(body, dict):
        raise FieldError((*path, "spec"), "the SLI needs a `spec` mapping")
    if "thresholdMetric" in body:
        raise FieldError(
            (*path, "spec", "thresholdMetric"),
            "thresholdMetric SLIs are not supported; use ratioMetric",
        )
    ratio = body.get("ratioMetric")
    if not isinstance(ratio, dict):
        raise FieldError((*path, "spec"), "the SLI needs a `ratioMetric`")
    at: Path = (*path, "spec", "ratioMetric")
    counter = bool(ratio.get("counter", False))
    if "raw" in ratio:
        query = _query(ratio["raw"], (*at, "raw"), counter=False)
        raw_type = ratio.get("rawType", "failure")
        if raw_type not in ("success", "failure"):
            raise FieldError((*at, "rawType"), "rawType must be success or failure")
        error_ratio = query if raw_type == "failure" else f"1 - ({query})"
        return {"raw": {"error_ratio": error_ratio}}, (*at, "raw"), owner
    if "total" not in ratio or ("good" in ratio) == ("bad" in ratio):
        raise FieldError(at, "needs `total` with exactly one of `good` or `bad`")
    kind = "good" if "good" in ratio else "bad"
    events = {
        "good" if kind == "good" else "errors": _query(ratio[kind], (*at, kind), counter),
        "total": _query(ratio["total"], (*at, "total"), counter),
    }
    return {"events": events}, at, owner


def _query(source: Any, path: Path, counter: bool) -> str:
    metric = source.get("metricSource") if isinstance(source, dict) else None
    spec = metric.get("spec") if isinstance(metric, dict) else None
    kind = metric.get("type") if isinstance(metric, dict) else None
    if kind is not None and str(kind).lower() != "prometheus":
        raise FieldError(
            (*path, "metricSource", "type"),
            f"metricSource type {kind!r} is not supported: sloguard reads Prometheus queries",
        )
    field = "promql" if isinstance(spec, dict) and "promql" in spec else "query"
    query = spec.get(field) if isinstance(spec, dict) else None
    return _promql(query, (*path, "metricSource", "spec", field), counter)


def _v1alpha_query(source: Any, path: Path, counter: bool) -> str:
    if not isinstance(source, dict):
        raise FieldError(path, "expected a mapping with `source`, `queryType` and `query`")
    kind = source.get("source")
    if kind is not None and str(kind).lower() not in _SOURCES:
        raise FieldError(
            (*path, "source"),
            f"source {kind!r} is not supported: sloguard reads Prometheus queries",
        )
    return _promql(source.get("query"), (*path, "query"), counter)


def _promql(query: Any, path: Path, counter: bool) -> str:
    """A query as written (Sloth's `{{.window}}` read as `{{window}}`), counters made rates."""
    if not isinstance(query, str) or not query.strip():
        raise FieldError(path, "needs a PromQL query")
    text = native_window(query.strip())
    if counter and not WINDOW_PLACEHOLDER.search(text):
        try:
            return counter_rates(text)
        except NotACounter as exc:
            raise FieldError(path, str(exc)) from exc
    return text


def _time_window(windows: Any) -> str:
    path: Path = ("spec", "timeWindow")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise FieldError(path, "needs exactly one timeWindow")
    window = windows[0]
    duration = str(window.get("duration", ""))
    rolling = bool(window.get("isRolling", "calendar" not in window))
    if not rolling:
        if duration not in _CALENDAR:
            raise FieldError(
                (*path, 0, "duration"), "calendar windows must be 1M (month) or 1w (week)"
            )
        return _CALENDAR[duration]
    match = re.fullmatch(r"(\d+)([mhdwMQY])", duration)
    if not match:
        raise FieldError((*path, 0, "duration"), f"{duration!r} is not a duration")
    amount, unit = int(match[1]), match[2]
    if unit in _ROLLING:
        days = int(_ROLLING[unit][:-1]) * amount
        return f"{days}d"
    return duration


def _time_windows(windows: Any) -> str:
    """v1alpha `timeWindows`: exactly one `unit` x `count`, rolling or calendar."""
    path: Path = ("spec", "timeWindows")
    if windows is None:
        raise FieldError(("spec",), "needs `timeWindows` (e.g. `- {unit: Day, count: 30}`)")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise FieldError(path, "needs exactly one time window")
    window = windows[0]
    unit, count = window.get("unit"), window.get("count")
    if unit not in _UNITS:
        raise FieldError((*path, 0, "unit"), f"unit must be one of {', '.join(_UNITS)}")
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        raise FieldError((*path, 0, "count"), "count must be a whole number above zero")
    rolling = bool(window.get("isRolling", "calendar" not in window))
    if not rolling:
        if unit not in _CALENDAR_UNITS or count != 1:
            raise FieldError(
                (*path, 0), "calendar windows must be one Month or one Week (count: 1)"
            )
        return _CALENDAR_UNITS[unit]
    factor, suffix = _UNITS[unit]
    return f"{factor * count}{suffix}"


def _percent(objective: dict[str, Any], path: Path) -> float:
    try:
        if "targetPercent" in objective:
            return float(Decimal(str(objective["targetPercent"])))
        if "target" in objective:
            return float(Decimal(str(objective["target"])) * 100)
    except InvalidOperation as exc:
        raise FieldError((*path, "target"), "target must be a number") from exc
    raise FieldError(path, "needs `target` (0-1) or `targetPercent`")


def _labels(labels: Any) -> dict[str, str]:
    """OpenSLO v1 label values may be strings or lists of strings."""
    if not isinstance(labels, dict):
        return {}
    return {
        str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in labels.items()
    }
