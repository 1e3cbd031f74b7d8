"""Sloth definitions (`version: prometheus/v1` and the `sloth.slok.dev/v1` CRD) to native data.

Sloth writes snake_case keys in `prometheus/v1` files and camelCase in the CRD; both spellings
are read in both. Every field sloguard cannot translate is reported at its own line, in Sloth's
spelling, all of them at once.
"""

from __future__ import annotations

import difflib
from typing import Any

from sloguard.spec.base import native_window
from sloguard.spec.documents import Document, Path
from sloguard.spec.sources import Definition, FieldError, kubernetes_object

SLOTH_PERIOD = "30d"  # Sloth's default period; it has no per-SLO window.

_SERVICE_KEYS = {"version", "service", "labels", "slos", "slo_plugins", "sloPlugins"}
_SLO_KEYS = {"name", "objective", "description", "labels", "sli", "alerting", "plugins"}
_SLI_KEYS = {"events", "raw", "plugin"}
_EVENT_KEYS = {
    "error_query": "errors",
    "errorQuery": "errors",
    "total_query": "total",
    "totalQuery": "total",
}
_RAW_KEYS = {"error_ratio_query", "errorRatioQuery"}
_ALERT_KEYS = {
    "page_alert": "page",
    "pageAlert": "page",
    "ticket_alert": "ticket",
    "ticketAlert": "ticket",
}
_ALERTING_KEYS = {"name", "labels", "annotations", *_ALERT_KEYS}
_ROUTE_KEYS = {"disable", "labels", "annotations"}


class _Reader:
    """Collects every untranslatable field of one document while translating it."""

    def __init__(self) -> None:
        self.found: list[tuple[Path, str]] = []

    def refuse(self, path: Path, message: str) -> None:
        self.found.append((path, message))

    def known(self, data: dict[str, Any], keys: set[str], at: Path) -> None:
        for key in data:
            if key not in keys:
                close = difflib.get_close_matches(str(key), sorted(keys), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.refuse((*at, str(key)), f"unknown Sloth field{hint}")


def from_sloth(file: str, document: Document, crd: bool) -> Definition:
    """Native data for one Sloth document; raises FieldError listing what has no equivalent."""
    root: Path = ("spec",) if crd else ()
    body = document.data.get("spec") if crd else document.data
    if not isinstance(body, dict):
        raise FieldError(root, "expected a mapping")
    reader = _Reader()
    reader.known(body, _SERVICE_KEYS - ({"version"} if crd else set()), root)
    for key in ("slo_plugins", "sloPlugins"):
        if body.get(key):
            reader.refuse((*root, key), "SLO plugins are not supported")
    renames: dict[Path, Path] = {(): root}
    slos = []
    for i, slo in enumerate(body.get("slos") or []):
        source: Path = (*root, "slos", i)
        renames[("slos", i)] = source
        if isinstance(slo, dict):
            slos.append(_slo(reader, slo, source, ("slos", i), renames))
        else:
            slos.append(slo)
    if reader.found:
        raise FieldError.of(reader.found)
    data = {"service": body.get("service"), "labels": body.get("labels") or {}, "slos": slos}
    if crd:
        data.update(kubernetes_object(document, renames))
    return Definition(
        file=file,
        format="sloth-crd" if crd else "sloth",
        data=data,
        document=document,
        renames=renames,
    )


def _slo(
    reader: _Reader, slo: dict[str, Any], source: Path, native: Path, renames: dict[Path, Path]
) -> dict[str, Any]:
    reader.known(slo, _SLO_KEYS, source)
    out: dict[str, Any] = {
        key: slo[key] for key in ("name", "objective", "description", "labels") if key in slo
    }
    out["window"] = SLOTH_PERIOD
    if slo.get("plugins"):
        reader.refuse((*source, "plugins"), "SLO plugins are not supported")
    out["sli"] = _sli(reader, slo.get("sli"), (*source, "sli"), (*native, "sli"), renames)
    alerting = slo.get("alerting")
    if isinstance(alerting, dict):
        out["alerting"] = _alerting(
            reader, alerting, (*source, "alerting"), (*native, "alerting"), renames
        )
    return out


def _sli(reader: _Reader, sli: Any, source: Path, native: Path, renames: dict[Path, Path]) -> Any:
    if not isinstance(sli, dict):
        return sli
    reader.known(sli, _SLI_KEYS, source)
    if "plugin" in sli:
        reader.refuse(
            (*source, "plugin"),
            "SLI plugins are not supported: write the plugin's queries as "
            "`events` (error_query/total_query)",
        )
    events = sli.get("events")
    raw = sli.get("raw")
    if isinstance(events, dict):
        reader.known(events, set(_EVENT_KEYS), (*source, "events"))
        out: dict[str, Any] = {}
        for key, native_key in _EVENT_KEYS.items():
            if key in events:
                out[native_key] = _window(events[key])
                renames[(*native, "events", native_key)] = (*source, "events", key)
        return {"events": out}
    if isinstance(raw, dict):
        reader.known(raw, _RAW_KEYS, (*source, "raw"))
        for key in sorted(_RAW_KEYS & raw.keys()):
            renames[(*native, "raw", "error_ratio")] = (*source, "raw", key)
            return {"raw": {"error_ratio": _window(raw[key])}}
        return {"raw": {}}
    return {key: value for key, value in sli.items() if key != "plugin"}


def _alerting(
    reader: _Reader,
    alerting: dict[str, Any],
    source: Path,
    native: Path,
    renames: dict[Path, Path],
) -> dict[str, Any]:
    reader.known(alerting, _ALERTING_KEYS, source)
    out: dict[str, Any] = {}
    if "name" in alerting:
        out["name"] = alerting["name"]
    out["labels"] = alerting.get("labels") or {}
    annotations = dict(alerting.get("annotations") or {})
    for key in ("runbook_url", "runbook"):
        if key in annotations:
            out["runbook"] = annotations.pop(key)
    out["annotations"] = annotations
    for key, native_key in _ALERT_KEYS.items():
        route = alerting.get(key)
        if isinstance(route, dict):
            reader.known(route, _ROUTE_KEYS, (*source, key))
            renames[(*native, native_key)] = (*source, key)
            out[native_key] = {k: route[k] for k in sorted(_ROUTE_KEYS) if k in route}
    return out


def _window(query: Any) -> Any:
    return native_window(query) if isinstance(query, str) else query
