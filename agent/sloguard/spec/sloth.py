"""Sloth definitions (`version: prometheus/v1` and the `sloth.slok.dev/v1` CRD) to native data.

Sloth writes snake_case keys in `prometheus/v1` files and camelCase in the CRD; both spellings
are read in both. Every field sloguard cannot translate is reported at its own line, in Sloth's
spelling, all of them at once.
"""

from __future__ import annotations

from typing import Any

from sloguard.spec.base import native_window
from sloguard.spec.documents import Document, KeyPath
from sloguard.spec.sources import Definition, FieldError, Fields, kubernetes_object

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
_RAW_KEYS = ("error_ratio_query", "errorRatioQuery")
_ALERT_KEYS = {
    "page_alert": "page",
    "pageAlert": "page",
    "ticket_alert": "ticket",
    "ticketAlert": "ticket",
}
_ALERTING_KEYS = {"name", "labels", "annotations", *_ALERT_KEYS}
_ROUTE_KEYS = {"disable", "labels", "annotations"}


def from_sloth(file: str, document: Document, crd: bool) -> Definition:
    """Native data for one Sloth document; raises FieldError listing what has no equivalent."""
    root: KeyPath = ("spec",) if crd else ()
    body = document.data.get("spec") if crd else document.data
    if not isinstance(body, dict):
        raise FieldError(root, "expected a mapping")
    fields = Fields("Sloth")
    fields.known(body, _SERVICE_KEYS - ({"version"} if crd else set()), root)
    for key in ("slo_plugins", "sloPlugins"):
        if body.get(key):
            fields.refuse((*root, key), "SLO plugins are not supported")
    renames: dict[KeyPath, KeyPath] = {(): root}
    slos = []
    for i, slo in enumerate(fields.listing(body.get("slos"), (*root, "slos"))):
        source: KeyPath = (*root, "slos", i)
        renames[("slos", i)] = source
        if isinstance(slo, dict):
            slos.append(_slo(fields, slo, source, ("slos", i), renames, crd))
        else:
            fields.refuse(source, "expected an SLO mapping")
    fields.check()
    labels = fields.strings(body.get("labels"), (*root, "labels"))
    data = {"service": body.get("service"), "labels": labels, "slos": slos}
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
    fields: Fields,
    slo: dict[str, Any],
    source: KeyPath,
    native: KeyPath,
    renames: dict[KeyPath, KeyPath],
    crd: bool,
) -> dict[str, Any]:
    fields.known(slo, _SLO_KEYS, source)
    out: dict[str, Any] = {
        key: slo[key] for key in ("name", "objective", "description") if key in slo
    }
    out["labels"] = fields.strings(slo.get("labels"), (*source, "labels"))
    out["window"] = SLOTH_PERIOD
    if slo.get("plugins"):
        fields.refuse((*source, "plugins"), "SLO plugins are not supported")
    sli = fields.mapping(slo.get("sli"), (*source, "sli"))
    out["sli"] = _sli(fields, sli, (*source, "sli"), (*native, "sli"), renames, crd)
    if "alerting" in slo:
        alerting = fields.mapping(slo["alerting"], (*source, "alerting"))
        out["alerting"] = _alerting(
            fields, alerting, (*source, "alerting"), (*native, "alerting"), renames
        )
    return out


def _sli(
    fields: Fields,
    sli: dict[str, Any],
    source: KeyPath,
    native: KeyPath,
    renames: dict[KeyPath, KeyPath],
    crd: bool,
) -> dict[str, Any]:
    fields.known(sli, _SLI_KEYS, source)
    if "plugin" in sli:
        fields.refuse(
            (*source, "plugin"),
            "SLI plugins are not supported: write the plugin's queries as "
            "`events` (error_query/total_query)",
        )
    kinds = [key for key in ("events", "raw") if key in sli]
    if len(kinds) != 1:
        if "plugin" not in sli:
            fields.refuse(source, "set one of `events` or `raw`")
        return {}
    kind = kinds[0]
    body = fields.mapping(sli[kind], (*source, kind))
    wanted = _EVENT_KEYS if kind == "events" else {k: "error_ratio" for k in _RAW_KEYS}
    fields.known(body, set(wanted), (*source, kind))
    out: dict[str, Any] = {}
    for native_key in dict.fromkeys(wanted.values()):
        spellings = tuple(k for k, v in wanted.items() if v == native_key)
        key = fields.spelling(body, spellings, (*source, kind))
        # Sloth's own spelling in this form: snake_case in prometheus/v1, camelCase in the CRD.
        written = key or spellings[1 if crd else 0]
        renames[(*native, kind, native_key)] = (*source, kind, written)
        query = fields.text(body.get(key) if key else None, (*source, kind, written), "a query")
        if key is None:
            fields.refuse((*source, kind), f"needs `{written}`")
        elif query is not None:
            out[native_key] = native_window(query)
    return {kind: out}


def _alerting(
    fields: Fields,
    alerting: dict[str, Any],
    source: KeyPath,
    native: KeyPath,
    renames: dict[KeyPath, KeyPath],
) -> dict[str, Any]:
    fields.known(alerting, _ALERTING_KEYS, source)
    out: dict[str, Any] = {}
    if "name" in alerting:
        out["name"] = alerting["name"]
    out["labels"] = fields.strings(alerting.get("labels"), (*source, "labels"))
    annotations = fields.strings(alerting.get("annotations"), (*source, "annotations"))
    runbook = fields.spelling(annotations, ("runbook_url", "runbook"), (*source, "annotations"))
    if runbook is not None:
        out["runbook"] = annotations.pop(runbook)
        annotations.pop("runbook", None)
    out["annotations"] = annotations
    for native_key in ("page", "ticket"):
        spellings = tuple(k for k, v in _ALERT_KEYS.items() if v == native_key)
        key = fields.spelling(alerting, spellings, source)
        if key is None:
            continue
        at: KeyPath = (*source, key)
        route = fields.mapping(alerting[key], at)
        fields.known(route, _ROUTE_KEYS, at)
        renames[(*native, native_key)] = at
        out[native_key] = {
            "disable": fields.flag(route.get("disable"), (*at, "disable")),
            "labels": fields.strings(route.get("labels"), (*at, "labels")),
            "annotations": fields.strings(route.get("annotations"), (*at, "annotations")),
        }
    return out
