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
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sloguard.spec.base import WINDOW_PLACEHOLDER, native_window
from sloguard.spec.counters import NotACounter, counter_rates
from sloguard.spec.documents import Document, KeyPath
from sloguard.spec.sources import Definition, FieldError, Fields

_ROLLING = {"M": 30, "Q": 90, "Y": 365}  # days, as OpenSLO's SDK counts them
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
_V1_SPEC = {
    "description",
    "service",
    "indicator",
    "indicatorRef",
    "timeWindow",
    "budgetingMethod",
    "objectives",
    "alertPolicies",
}
_V1ALPHA_SPEC = {
    "description",
    "service",
    "indicator",
    "timeWindows",
    "budgetingMethod",
    "objectives",
}
_OBJECTIVE = {
    "displayName",
    "op",
    "value",
    "target",
    "targetPercent",
    "timeSliceTarget",
    "timeSliceWindow",
    "indicator",
    "indicatorRef",
    "compositeWeight",
}
_V1ALPHA_OBJECTIVE = {"displayName", "op", "value", "target", "timeSliceTarget", "ratioMetrics"}
_SLI_SPEC = {"description", "thresholdMetric", "ratioMetric"}
_RATIO = {"counter", "good", "bad", "total", "raw", "rawType"}
_METRIC_SOURCE = {"metricSourceRef", "type", "spec"}
_V1ALPHA_RATIO = {"incremental", "counter", "good", "total"}
_V1ALPHA_QUERY = {"source", "queryType", "query", "metadata"}
_WINDOW = {"duration", "isRolling", "calendar"}
_V1ALPHA_WINDOW = {"unit", "count", "isRolling", "calendar"}

# Native paths of an SLO's indicator, for errors found after translation.
_SLI: KeyPath = ("slos", 0, "sli")


def sli_name(document: Document) -> str | None:
    """Name of an OpenSLO `SLI` document, for `indicatorRef`."""
    metadata = document.data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def from_openslo(
    file: str, document: Document, indicators: Mapping[str, tuple[str, Document]]
) -> list[Definition]:
    """One native definition per objective of an OpenSLO v1 `SLO` document."""
    fields = Fields("OpenSLO")
    spec = _spec(fields, document, _V1_SPEC)
    sli, places, elsewhere = _indicator(fields, spec, indicators)
    window = _time_window(fields, spec.get("timeWindow"))
    if fields.listing(spec.get("alertPolicies"), ("spec", "alertPolicies")):
        fields.warn(
            ("spec", "alertPolicies"),
            "alertPolicies left out: the SLO alerts on sloguard's burn-rate tiers",
        )
    objectives = _objectives(fields, spec, _OBJECTIVE)
    for _, objective, source in objectives:
        for key in ("indicator", "indicatorRef", "compositeWeight"):
            if key in objective:
                fields.refuse(
                    (*source, key),
                    "composite SLOs (an indicator per objective) are not supported: write one "
                    "SLO per indicator",
                )
    slos = [_slo(fields, document, spec, o, i, window) for i, o, _ in objectives]
    fields.check()
    definitions = []
    for (_, _, source), slo in zip(objectives, slos, strict=True):
        renames = _renames(source, "timeWindow")
        if elsewhere is None:
            renames.update(places)
        definitions.append(
            Definition(
                file=file,
                format="openslo",
                data={"service": spec.get("service"), "slos": [{**slo, "sli": sli}]},
                document=document,
                renames=renames,
                warnings=tuple(fields.warnings),
                elsewhere={k: (*elsewhere, v) for k, v in places.items()} if elsewhere else {},
            )
        )
    return definitions


def from_openslo_v1alpha(file: str, document: Document) -> list[Definition]:
    """One native definition per objective of an OpenSLO v1alpha `SLO` document."""
    fields = Fields("OpenSLO")
    spec = _spec(fields, document, _V1ALPHA_SPEC)
    indicator = fields.mapping(spec.get("indicator"), ("spec", "indicator"))
    if "thresholdMetric" in indicator:
        fields.refuse(
            ("spec", "indicator", "thresholdMetric"),
            "thresholdMetric SLIs are not supported; use ratioMetrics",
        )
    window = _time_windows(fields, spec.get("timeWindows"))
    objectives = _objectives(fields, spec, _V1ALPHA_OBJECTIVE)
    slis = []
    for _, objective, source in objectives:
        at: KeyPath = (*source, "ratioMetrics")
        ratio = fields.mapping(objective.get("ratioMetrics"), at)
        fields.known(ratio, _V1ALPHA_RATIO, at)
        if "good" not in ratio or "total" not in ratio:
            fields.refuse(
                at if "ratioMetrics" in objective else source,
                "needs `ratioMetrics` with `good` and `total`",
            )
        key = fields.spelling(ratio, ("incremental", "counter"), at)
        counter = fields.flag(ratio.get(key) if key else None, (*at, key or "counter"))
        events = {
            part: _v1alpha_query(fields, ratio.get(part), (*at, part), counter)
            for part in ("good", "total")
        }
        slis.append(events)
    slos = [_slo(fields, document, spec, o, i, window) for i, o, _ in objectives]
    fields.check()
    definitions = []
    for (_, _, source), events, slo in zip(objectives, slis, slos, strict=True):
        slo["sli"] = {"events": events}
        renames = _renames(source, "timeWindows")
        renames[_SLI] = source
        for part in ("good", "total"):
            renames[(*_SLI, "events", part)] = (*source, "ratioMetrics", part, "query")
        definitions.append(
            Definition(
                file=file,
                format="openslo-v1alpha",
                data={"service": spec.get("service"), "slos": [slo]},
                document=document,
                renames=renames,
                warnings=tuple(fields.warnings),
            )
        )
    return definitions


def _spec(fields: Fields, document: Document, known: set[str]) -> dict[str, Any]:
    spec = document.data.get("spec")
    if not isinstance(spec, dict):
        raise FieldError(("spec",), "expected a mapping")
    fields.known(spec, known, ("spec",))
    metadata = fields.mapping(document.data.get("metadata"), ("metadata",))
    if not isinstance(metadata.get("name"), str):
        fields.refuse(
            ("metadata", "name") if "name" in metadata else ("metadata",), "needs a `name`"
        )
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        fields.refuse(
            ("spec", "budgetingMethod"),
            f"budgetingMethod {method!r} is not supported; use Occurrences (sloguard budgets "
            "count events, not time slices)",
        )
    return spec


def _objectives(
    fields: Fields, spec: dict[str, Any], known: set[str]
) -> list[tuple[int, dict[str, Any], KeyPath]]:
    at: KeyPath = ("spec", "objectives")
    objectives = fields.listing(spec.get("objectives"), at)
    if not objectives:
        fields.refuse(at if "objectives" in spec else ("spec",), "needs at least one objective")
    found = []
    for i, objective in enumerate(objectives):
        source: KeyPath = (*at, i)
        if not isinstance(objective, dict):
            fields.refuse(source, "expected a mapping")
            continue
        fields.known(objective, known, source)
        for key in ("op", "value"):
            if key in objective:
                fields.warn((*source, key), f"{key} left out: it applies to threshold metrics")
        found.append((i, objective, source))
    return found


def _slo(
    fields: Fields,
    document: Document,
    spec: dict[str, Any],
    objective: dict[str, Any],
    index: int,
    window: str,
) -> dict[str, Any]:
    metadata = document.data.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name")
    shown = fields.text(objective.get("displayName"), ("spec", "objectives", index, "displayName"))
    if len(spec["objectives"]) > 1:
        name = f"{name}-{_slug(shown) or index}"
    return {
        "name": name,
        "objective": _percent(fields, objective, ("spec", "objectives", index)),
        "window": window,
        "description": spec.get("description", ""),
        "labels": _labels(fields, metadata.get("labels")),
    }


def _slug(text: Any) -> str:
    """`Good requests` -> `good-requests`: a display name usable in an SLO name."""
    return re.sub(r"[^a-z0-9]+", "-", str(text or "").lower()).strip("-")


def _renames(source: KeyPath, window: str) -> dict[KeyPath, KeyPath]:
    return {
        (): (),
        ("service",): ("spec", "service"),
        ("slos", 0): source,
        ("slos", 0, "name"): ("metadata", "name"),
        ("slos", 0, "window"): ("spec", window),
        ("slos", 0, "description"): ("spec", "description"),
        ("slos", 0, "labels"): ("metadata", "labels"),
    }


def _indicator(
    fields: Fields, spec: dict[str, Any], indicators: Mapping[str, tuple[str, Document]]
) -> tuple[dict[str, Any], dict[KeyPath, KeyPath], tuple[str, Document] | None]:
    """The SLI, where each native part of it is written, and the file and document holding it
    when that is another one (an `indicatorRef`)."""
    if "indicator" in spec:
        at: KeyPath = ("spec", "indicator")
        sli, places = _sli(fields, fields.mapping(spec["indicator"], at), at)
        return sli, places, None
    if "indicatorRef" not in spec:
        fields.refuse(("spec",), "needs `indicator` or `indicatorRef`")
        return {}, {}, None
    ref = fields.text(spec["indicatorRef"], ("spec", "indicatorRef"), "an SLI name")
    if ref is None:
        return {}, {}, None
    if ref not in indicators:
        fields.refuse(("spec", "indicatorRef"), f"no SLI named {ref!r} in the files read")
        return {}, {}, None
    file, owner = indicators[ref]
    own = Fields("OpenSLO")
    sli, places = _sli(own, owner.data, ())
    if own.found:
        raise FieldError.of(own.found).at(file, owner)
    return sli, places, (file, owner)


def _sli(
    fields: Fields, indicator: dict[str, Any], path: KeyPath
) -> tuple[dict[str, Any], dict[KeyPath, KeyPath]]:
    body = fields.mapping(indicator.get("spec"), (*path, "spec"))
    fields.known(body, _SLI_SPEC, (*path, "spec"))
    if "thresholdMetric" in body:
        fields.refuse(
            (*path, "spec", "thresholdMetric"),
            "thresholdMetric SLIs are not supported; use ratioMetric",
        )
        return {}, {}
    if "ratioMetric" not in body:
        fields.refuse((*path, "spec"), "the SLI needs a `ratioMetric`")
        return {}, {}
    at: KeyPath = (*path, "spec", "ratioMetric")
    ratio = fields.mapping(body["ratioMetric"], at)
    fields.known(ratio, _RATIO, at)
    counter = fields.flag(ratio.get("counter"), (*at, "counter"))
    places: dict[KeyPath, KeyPath] = {_SLI: at}
    if "raw" not in ratio and "rawType" in ratio:
        fields.refuse((*at, "rawType"), "rawType belongs with `raw`")
    if "raw" in ratio:
        for key in ("good", "bad", "total", "counter"):
            if key in ratio:
                fields.refuse((*at, key), "`raw` is a ratio of its own: it takes no " + key)
        query, where = _query(fields, ratio["raw"], (*at, "raw"), counter=None)
        raw_type = ratio.get("rawType", "failure")
        if raw_type not in ("success", "failure"):
            fields.refuse((*at, "rawType"), "rawType must be success or failure")
        places[(*_SLI, "raw", "error_ratio")] = where
        error_ratio = query if raw_type == "failure" else f"1 - ({query})"
        return {"raw": {"error_ratio": error_ratio}}, places
    if "total" not in ratio or ("good" in ratio) == ("bad" in ratio):
        fields.refuse(at, "needs `total` with exactly one of `good` or `bad`")
        return {}, places
    kind = "good" if "good" in ratio else "bad"
    events = {}
    for key, native in ((kind, "good" if kind == "good" else "errors"), ("total", "total")):
        events[native], places[(*_SLI, "events", native)] = _query(
            fields, ratio[key], (*at, key), counter
        )
    return {"events": events}, places


def _query(fields: Fields, source: Any, path: KeyPath, counter: bool | None) -> tuple[str, KeyPath]:
    """The PromQL of a v1 `metricSource`, and where it is written (`counter` None: a ratio,
    which needs no range)."""
    metric = fields.mapping(
        fields.mapping(source, path).get("metricSource"), (*path, "metricSource")
    )
    at: KeyPath = (*path, "metricSource")
    fields.known(metric, _METRIC_SOURCE, at)
    kind = fields.text(metric.get("type"), (*at, "type"))
    if kind is not None and kind.lower() != "prometheus":
        fields.refuse(
            (*at, "type"),
            f"metricSource type {kind!r} is not supported: sloguard reads Prometheus queries",
        )
    spec = fields.mapping(metric.get("spec"), (*at, "spec"))
    key = fields.spelling(spec, ("query", "promql"), (*at, "spec")) or "query"
    where: KeyPath = (*at, "spec", key)
    return _promql(fields, spec.get(key), where, counter), where


def _v1alpha_query(fields: Fields, source: Any, path: KeyPath, counter: bool) -> str:
    part = fields.mapping(source, path)
    fields.known(part, _V1ALPHA_QUERY, path)
    kind = fields.text(part.get("source"), (*path, "source"))
    if kind is not None and kind.lower() not in _SOURCES:
        fields.refuse(
            (*path, "source"),
            f"source {kind!r} is not supported: sloguard reads Prometheus queries",
        )
    return _promql(fields, part.get("query"), (*path, "query"), counter)


def _promql(fields: Fields, query: Any, path: KeyPath, counter: bool | None) -> str:
    """A query as written (Sloth's `{{.window}}` read as `{{window}}`), counters made rates;
    an event query that is neither a counter nor ranged over `{{window}}` is refused."""
    if not isinstance(query, str) or not query.strip():
        fields.refuse(path, "needs a PromQL query")
        return ""
    text = native_window(query.strip())
    if counter and not WINDOW_PLACEHOLDER.search(text):
        try:
            return counter_rates(text)
        except NotACounter as exc:
            fields.refuse(path, str(exc))
    elif counter is False and not WINDOW_PLACEHOLDER.search(text):
        fields.refuse(
            path,
            "must contain {{window}} as the range of its rates, or name raw counters with "
            "`counter: true`",
        )
    return text


def _time_window(fields: Fields, windows: Any) -> str:
    path: KeyPath = ("spec", "timeWindow")
    items = fields.listing(windows, path)
    if len(items) != 1 or not isinstance(items[0], dict):
        fields.refuse(path if windows is not None else ("spec",), "needs exactly one timeWindow")
        return ""
    window = items[0]
    fields.known(window, _WINDOW, (*path, 0))
    duration = fields.text(window.get("duration"), (*path, 0, "duration")) or ""
    calendar = _calendar(fields, window, (*path, 0))
    if not fields.flag(window.get("isRolling"), (*path, 0, "isRolling"), calendar is None):
        if duration not in _CALENDAR:
            fields.refuse(
                (*path, 0, "duration"), "calendar windows must be 1M (month) or 1w (week)"
            )
            return ""
        return _aligned(fields, window, (*path, 0), _CALENDAR[duration])
    match = re.fullmatch(r"([1-9]\d{0,3})([mhdwMQY])", duration)
    if not match:
        fields.refuse((*path, 0, "duration"), f"{duration!r} is not a duration such as 28d or 1M")
        return ""
    amount, unit = int(match[1]), match[2]
    return f"{_ROLLING[unit] * amount}d" if unit in _ROLLING else duration


def _calendar(fields: Fields, window: dict[str, Any], path: KeyPath) -> dict[str, Any] | None:
    if "calendar" not in window:
        return None
    calendar = fields.mapping(window["calendar"], (*path, "calendar"))
    fields.known(calendar, {"startTime", "timeZone"}, (*path, "calendar"))
    if window.get("isRolling") is True:
        fields.refuse((*path, "isRolling"), "a rolling window has no `calendar`")
    zone = calendar.get("timeZone", "UTC")
    if zone not in ("UTC", "Etc/UTC"):
        fields.warn(
            (*path, "calendar", "timeZone"),
            f"timeZone {zone!r} left out: sloguard's calendar windows begin at 00:00 UTC",
        )
    return calendar


def _aligned(fields: Fields, window: dict[str, Any], path: KeyPath, calendar: str) -> str:
    """`calendar` (month or week), with a warning when `startTime` would begin it elsewhere
    than sloguard does: the 1st of the month or a Monday, at 00:00 UTC."""
    start = str(fields.mapping(window.get("calendar"), (*path, "calendar")).get("startTime", ""))
    try:
        moment = datetime.fromisoformat(start) if start else None
    except ValueError:
        moment = datetime.min
    if moment is None:
        return calendar
    begins = moment.day == 1 if calendar == "month" else moment.weekday() == 0
    if not begins or moment.time() != time():
        fields.warn(
            (*path, "calendar", "startTime"),
            f"startTime {start!r} left out: a calendar {calendar} begins "
            f"{'on the 1st' if calendar == 'month' else 'on Monday'} at 00:00 UTC",
        )
    return calendar


def _time_windows(fields: Fields, windows: Any) -> str:
    """v1alpha `timeWindows`: exactly one `unit` x `count`, rolling or calendar."""
    path: KeyPath = ("spec", "timeWindows")
    items = fields.listing(windows, path)
    if len(items) != 1 or not isinstance(items[0], dict):
        where = path if windows is not None else ("spec",)
        fields.refuse(where, "needs exactly one time window (e.g. `- {unit: Day, count: 30}`)")
        return ""
    window = items[0]
    fields.known(window, _V1ALPHA_WINDOW, (*path, 0))
    unit, count = window.get("unit"), window.get("count")
    if not isinstance(unit, str) or unit not in _UNITS:
        fields.refuse((*path, 0, "unit"), f"unit must be one of {', '.join(_UNITS)}")
        return ""
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 10_000:
        fields.refuse((*path, 0, "count"), "count must be a whole number from 1 to 10000")
        return ""
    calendar = _calendar(fields, window, (*path, 0))
    if not fields.flag(window.get("isRolling"), (*path, 0, "isRolling"), calendar is None):
        if unit not in _CALENDAR_UNITS or count != 1:
            fields.refuse((*path, 0), "calendar windows must be one Month or one Week (count: 1)")
            return ""
        return _aligned(fields, window, (*path, 0), _CALENDAR_UNITS[unit])
    factor, suffix = _UNITS[unit]
    return f"{factor * count}{suffix}"


def _percent(fields: Fields, objective: dict[str, Any], path: KeyPath) -> float | None:
    key = fields.spelling(objective, ("target", "targetPercent"), path)
    if key is None:
        fields.refuse(path, "needs `target` (0-1) or `targetPercent`")
        return None
    value = objective[key]
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else Decimal("nan")
    except InvalidOperation:
        number = Decimal("nan")
    top = 1 if key == "target" else 100
    if not number.is_finite() or not 0 < number < top:
        hint = "a ratio between 0 and 1, e.g. 0.999" if key == "target" else "between 0 and 100"
        fields.refuse((*path, key), f"{key} {value!r} must be {hint}")
        return None
    return float(number * 100 if key == "target" else number)


def _labels(fields: Fields, labels: Any) -> dict[str, str]:
    """OpenSLO v1 label values may be strings or lists of strings."""
    found = {}
    for key, value in fields.mapping(labels, ("metadata", "labels")).items():
        if isinstance(value, str):
            found[str(key)] = value
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            found[str(key)] = ",".join(value)
        else:
            fields.refuse(
                ("metadata", "labels", str(key)), "expected a string or a non-empty list of strings"
            )
    return found
