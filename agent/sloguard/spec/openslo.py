"""OpenSLO v1 `SLO` objects (with inline or referenced `SLI`) to native data.

Mapping: `ratioMetric` good/total, bad/total and raw; counters are wrapped in
`sum(rate(query[{{window}}]))`; a rolling `timeWindow` keeps its duration (`1M` = 30d,
`1Q` = 90d, `1Y` = 365d) and a calendar one becomes `month` or `week`. Only the Occurrences
budgeting method is supported. OpenSLO has no multi-window pair, so the default burn-rate tiers
apply and `alertPolicies` are not translated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sloguard.spec.base import WINDOW_PLACEHOLDER
from sloguard.spec.documents import Document, Path
from sloguard.spec.sources import Definition

_ROLLING = {"M": "30d", "Q": "90d", "Y": "365d"}
_CALENDAR = {"1M": "month", "1w": "week", "7d": "week"}


class OpenSLOFieldError(ValueError):
    """An OpenSLO field sloguard cannot translate; `path` is where it stands in the source."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def sli_name(document: Document) -> str | None:
    """Name of an OpenSLO `SLI` document, for `indicatorRef`."""
    metadata = document.data.get("metadata")
    return str(metadata.get("name")) if isinstance(metadata, dict) else None


def from_openslo(
    file: str, document: Document, indicators: Mapping[str, Document]
) -> list[Definition]:
    """One native definition per objective of an OpenSLO `SLO` document."""
    data = document.data
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise OpenSLOFieldError(("spec",), "expected a mapping")
    name = metadata.get("name")
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise OpenSLOFieldError(
            ("spec", "budgetingMethod"),
            f"budgetingMethod {method!r} is not supported; use Occurrences",
        )
    sli, sli_path, sli_doc = _indicator(spec, document, indicators)
    window = _time_window(spec.get("timeWindow"))
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise OpenSLOFieldError(("spec", "objectives"), "needs at least one objective")
    definitions = []
    for i, objective in enumerate(objectives):
        source: Path = ("spec", "objectives", i)
        if not isinstance(objective, dict):
            raise OpenSLOFieldError(source, "expected a mapping")
        slo_name = name if len(objectives) == 1 else f"{name}-{objective.get('displayName', i)}"
        slo: dict[str, Any] = {
            "name": slo_name,
            "objective": _percent(objective, source),
            "window": window,
            "description": spec.get("description", ""),
            "labels": _labels(metadata.get("labels")),
            "sli": sli,
        }
        renames: dict[Path, Path] = {
            (): (),
            ("service",): ("spec", "service"),
            ("slos", 0): source,
            ("slos", 0, "name"): ("metadata", "name"),
            ("slos", 0, "window"): ("spec", "timeWindow"),
            ("slos", 0, "description"): ("spec", "description"),
            ("slos", 0, "labels"): ("metadata", "labels"),
        }
        if sli_doc is document:
            renames[("slos", 0, "sli")] = sli_path
        native = {"service": spec.get("service"), "slos": [slo]}
        definitions.append(
            Definition(file=file, format="openslo", data=native, document=document, renames=renames)
        )
    return definitions


def _indicator(
    spec: dict[str, Any], document: Document, indicators: Mapping[str, Document]
) -> tuple[dict[str, Any], Path, Document]:
    path: Path
    if "indicator" in spec:
        indicator, path, owner = spec["indicator"], ("spec", "indicator"), document
    elif "indicatorRef" in spec:
        ref = spec["indicatorRef"]
        if ref not in indicators:
            raise OpenSLOFieldError(
                ("spec", "indicatorRef"), f"no SLI named {ref!r} in the files read"
            )
        owner = indicators[ref]
        indicator, path = owner.data, ()
    else:
        raise OpenSLOFieldError(("spec",), "needs `indicator` or `indicatorRef`")
    body = indicator.get("spec") if isinstance(indicator, dict) else None
    if not isinstance(body, dict):
        raise OpenSLOFieldError((*path, "spec"), "the SLI needs a `spec` mapping")
    if "thresholdMetric" in body:
        raise OpenSLOFieldError(
            (*path, "spec", "thresholdMetric"),
            "thresholdMetric SLIs are not supported; use ratioMetric",
        )
    ratio = body.get("ratioMetric")
    if not isinstance(ratio, dict):
        raise OpenSLOFieldError((*path, "spec"), "the SLI needs a `ratioMetric`")
    at: Path = (*path, "spec", "ratioMetric")
    counter = bool(ratio.get("counter", False))
    if "raw" in ratio:
        query = _query(ratio["raw"], (*at, "raw"), counter=False)
        raw_type = ratio.get("rawType", "failure")
        if raw_type not in ("success", "failure"):
            raise OpenSLOFieldError((*at, "rawType"), "rawType must be success or failure")
        error_ratio = query if raw_type == "failure" else f"1 - ({query})"
        return {"raw": {"error_ratio": error_ratio}}, (*at, "raw"), owner
    if "total" not in ratio or ("good" in ratio) == ("bad" in ratio):
        raise OpenSLOFieldError(at, "needs `total` with exactly one of `good` or `bad`")
    kind = "good" if "good" in ratio else "bad"
    events = {
        "good" if kind == "good" else "errors": _query(ratio[kind], (*at, kind), counter),
        "total": _query(ratio["total"], (*at, "total"), counter),
    }
    return {"events": events}, at, owner


def _query(source: Any, path: Path, counter: bool) -> str:
    metric = source.get("metricSource") if isinstance(source, dict) else None
    spec = metric.get("spec") if isinstance(metric, dict) else None
    query = None
    if isinstance(spec, dict):
        query = spec.get("query", spec.get("promql"))
    if not isinstance(query, str) or not query.strip():
        raise OpenSLOFieldError((*path, "metricSource", "spec", "query"), "needs a PromQL `query`")
    query = query.strip()
    if counter and not WINDOW_PLACEHOLDER.search(query):
        return f"sum(rate({query}[{{{{window}}}}]))"
    return query


def _time_window(windows: Any) -> str:
    path: Path = ("spec", "timeWindow")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise OpenSLOFieldError(path, "needs exactly one timeWindow")
    window = windows[0]
    duration = str(window.get("duration", ""))
    rolling = bool(window.get("isRolling", "calendar" not in window))
    if not rolling:
        if duration not in _CALENDAR:
            raise OpenSLOFieldError(
                (*path, 0, "duration"), "calendar windows must be 1M (month) or 1w (week)"
            )
        return _CALENDAR[duration]
    match = re.fullmatch(r"(\d+)([mhdwMQY])", duration)
    if not match:
        raise OpenSLOFieldError((*path, 0, "duration"), f"{duration!r} is not a duration")
    amount, unit = int(match[1]), match[2]
    if unit in _ROLLING:
        days = int(_ROLLING[unit][:-1]) * amount
        return f"{days}d"
    return duration


def _percent(objective: dict[str, Any], path: Path) -> float:
    try:
        if "targetPercent" in objective:
            return float(Decimal(str(objective["targetPercent"])))
        if "target" in objective:
            return float(Decimal(str(objective["target"])) * 100)
    except InvalidOperation as exc:
        raise OpenSLOFieldError((*path, "target"), "target must be a number") from exc
    raise OpenSLOFieldError(path, "needs `target` (0-1) or `targetPercent`")


def _labels(labels: Any) -> dict[str, str]:
    """OpenSLO v1 label values may be strings or lists of strings."""
    if not isinstance(labels, dict):
        return {}
    return {
        str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in labels.items()
    }
