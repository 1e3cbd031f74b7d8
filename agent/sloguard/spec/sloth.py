"""Sloth definitions (`version: prometheus/v1` and the `sloth.slok.dev/v1` CRD) to native data."""

from __future__ import annotations

from typing import Any

from sloguard.spec.documents import Document, Path
from sloguard.spec.sources import Definition

SLOTH_PERIOD = "30d"  # Sloth's default period; it has no per-SLO window.

# (snake_case key, camelCase key) -> native key, per part of a Sloth SLO.
_SLO_KEYS = {
    "name": "name",
    "objective": "objective",
    "description": "description",
    "labels": "labels",
}
_ALERT_KEYS = {
    "page_alert": "page",
    "pageAlert": "page",
    "ticket_alert": "ticket",
    "ticketAlert": "ticket",
}


class SlothFieldError(ValueError):
    """A Sloth field sloguard cannot translate; `path` is where it stands in the source."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def from_sloth(file: str, document: Document, crd: bool) -> Definition:
    """Native data for one Sloth document; raises SlothFieldError for what has no equivalent."""
    root: Path = ("spec",) if crd else ()
    body = document.data.get("spec") if crd else document.data
    if not isinstance(body, dict):
        raise SlothFieldError(root, "expected a mapping")
    unknown = set(body) - {"service", "labels", "slos", "version", "slo_plugins", "sloPlugins"}
    if unknown:
        raise SlothFieldError(root, f"unknown field(s): {', '.join(sorted(unknown))}")
    if body.get("slo_plugins") or body.get("sloPlugins"):
        raise SlothFieldError((*root, "slo_plugins"), "SLO plugins are not supported")
    renames: dict[Path, Path] = {(): root}
    slos = []
    for i, slo in enumerate(body.get("slos") or []):
        source: Path = (*root, "slos", i)
        renames[("slos", i)] = source
        slos.append(_slo(slo, source, ("slos", i), renames) if isinstance(slo, dict) else slo)
    data = {"service": body.get("service"), "labels": body.get("labels") or {}, "slos": slos}
    return Definition(
        file=file,
        format="sloth-crd" if crd else "sloth",
        data=data,
        document=document,
        renames=renames,
    )


def _slo(
    slo: dict[str, Any], source: Path, native: Path, renames: dict[Path, Path]
) -> dict[str, Any]:
    out: dict[str, Any] = {key: slo[key] for key in _SLO_KEYS if key in slo}
    out["window"] = SLOTH_PERIOD
    if slo.get("plugins"):
        raise SlothFieldError((*source, "plugins"), "SLO plugins are not supported")
    unknown = set(slo) - {*_SLO_KEYS, "sli", "alerting", "plugins"}
    if unknown:
        raise SlothFieldError(source, f"unknown field(s): {', '.join(sorted(unknown))}")
    out["sli"] = _sli(slo.get("sli"), (*source, "sli"), (*native, "sli"), renames)
    alerting = slo.get("alerting")
    if isinstance(alerting, dict):
        out["alerting"] = _alerting(alerting, (*source, "alerting"), (*native, "alerting"), renames)
    return out


def _sli(sli: Any, source: Path, native: Path, renames: dict[Path, Path]) -> Any:
    if not isinstance(sli, dict):
        return sli
    if "plugin" in sli:
        raise SlothFieldError(
            (*source, "plugin"),
            "SLI plugins are not supported: write the plugin's queries as "
            "`events` (error_query/total_query)",
        )
    events = sli.get("events")
    raw = sli.get("raw")
    if isinstance(events, dict):
        out: dict[str, Any] = {}
        for native_key, keys in (
            ("errors", ("error_query", "errorQuery")),
            ("total", ("total_query", "totalQuery")),
        ):
            for key in keys:
                if key in events:
                    out[native_key] = _window(events[key])
                    renames[(*native, "events", native_key)] = (*source, "events", key)
        return {"events": out}
    if isinstance(raw, dict):
        for key in ("error_ratio_query", "errorRatioQuery"):
            if key in raw:
                renames[(*native, "raw", "error_ratio")] = (*source, "raw", key)
                return {"raw": {"error_ratio": _window(raw[key])}}
        return {"raw": {}}
    return sli


def _alerting(
    alerting: dict[str, Any], source: Path, native: Path, renames: dict[Path, Path]
) -> dict[str, Any]:
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
        if isinstance(alerting.get(key), dict):
            renames[(*native, native_key)] = (*source, key)
            route = alerting[key]
            out[native_key] = {
                k: route[k] for k in ("disable", "labels", "annotations") if k in route
            }
    return out


def _window(query: Any) -> Any:
    """Sloth's Go template `{{.window}}` is our `{{window}}`."""
    if not isinstance(query, str):
        return query
    return query.replace("{{.window}}", "{{window}}").replace("{{ .window }}", "{{window}}")
