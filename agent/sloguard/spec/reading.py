"""Texts of definition files to native definitions: detects each document's format.

Pure: takes file names and their texts, so the same code serves the CLI, the agent and tests.
A file may hold several YAML documents, or one YAML list of objects (as `oslo` writes them), of
any supported format. A document that claims a format (`version`, `apiVersion`, `kind`) is
judged in that format's terms: a version or kind sloguard does not read is named as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sloguard.errors import SpecProblem
from sloguard.spec.documents import Document, DocumentError, KeyPath, parse_documents
from sloguard.spec.model import Format
from sloguard.spec.openslo import from_openslo, from_openslo_v1alpha, sli_name
from sloguard.spec.pyrra import from_pyrra
from sloguard.spec.pyrra import service_of as pyrra_service
from sloguard.spec.sloth import from_sloth
from sloguard.spec.sources import Definition, FieldError, dotted

SLOTH_VERSION = "prometheus/v1"
SLOTH_API = "sloth.slok.dev/v1"
OPENSLO_APIS = {"openslo/v1": "openslo", "openslo/v1alpha": "openslo-v1alpha"}
PYRRA_API = "pyrra.dev/v1alpha1"

# OpenSLO objects beside SLOs: what each one means to sloguard.
OPENSLO_OTHER_KINDS = {
    "Service": "describes a service; sloguard reads the SLOs that name it",
    "DataSource": "names where metrics live; sloguard reads Prometheus given to `sloguard run`",
    "AlertPolicy": "sloguard's alerting is the burn-rate tiers of each SLO (`alerting`)",
    "AlertCondition": "sloguard's alerting is the burn-rate tiers of each SLO (`alerting`)",
    "AlertNotificationTarget": "sloguard's alerts are routed by Alertmanager",
}
# OpenSLO kinds whose meaning is lost when they are left out: worth a warning.
OPENSLO_WARNED_KINDS = {"AlertPolicy", "AlertCondition", "AlertNotificationTarget"}

UNRECOGNISED = (
    "unrecognised format: expected sloguard (`service` + `slos`), Sloth (`version: "
    "prometheus/v1` or kind PrometheusServiceLevel), OpenSLO (`apiVersion: openslo/v1` or "
    "openslo/v1alpha) or Pyrra (`apiVersion: pyrra.dev/v1alpha1`, kind ServiceLevelObjective)"
)


@dataclass(frozen=True)
class Refusal:
    """A document that claims a format sloguard does not read, and why, at `path`."""

    path: KeyPath
    message: str


@dataclass(frozen=True)
class Reading:
    """What reading the files gave: definitions not yet validated, errors, and warnings about
    what was read but left out."""

    definitions: list[Definition]
    problems: list[SpecProblem]
    warnings: list[SpecProblem]


def detect_format(document: Document) -> Format | Refusal:
    """The format a document is written in, from its identifying keys, or why it is refused."""
    data = document.data
    if not isinstance(data, dict):
        return Refusal((), UNRECOGNISED)
    api = data.get("apiVersion")
    kind = data.get("kind")
    if api is None and "version" in data:
        version = data["version"]
        if version == SLOTH_VERSION:
            return "sloth"
        return Refusal(
            ("version",),
            f"Sloth version {version!r} is not supported: sloguard reads Sloth "
            f"`version: {SLOTH_VERSION}`",
        )
    if api is None:
        return "native" if "service" in data and "slos" in data else Refusal((), UNRECOGNISED)
    api = str(api)
    if api.startswith("sloth.slok.dev/"):
        return _sloth_kind(api, kind)
    if api.startswith("openslo/"):
        if api in OPENSLO_APIS:
            return "openslo" if api == "openslo/v1" else "openslo-v1alpha"
        return Refusal(
            ("apiVersion",),
            f"OpenSLO {api!r} is not supported: sloguard reads openslo/v1 and openslo/v1alpha",
        )
    if api.startswith("pyrra.dev/"):
        if api == PYRRA_API and kind == "ServiceLevelObjective":
            return "pyrra"
        return Refusal(
            ("apiVersion",),
            f"Pyrra {api} kind {kind!r} is not supported: sloguard reads `apiVersion: "
            f"{PYRRA_API}`, kind ServiceLevelObjective",
        )
    if api.startswith("monitoring.coreos.com/") and kind == "PrometheusRule":
        return Refusal(
            ("kind",),
            "a prometheus-operator PrometheusRule holds rules, not SLOs: sloguard generates "
            "these (`sloguard generate --format operator`) from SLO definitions",
        )
    return Refusal(("apiVersion",), f"{UNRECOGNISED}; this document is {api} kind {kind!r}")


def _sloth_kind(api: str, kind: Any) -> Format | Refusal:
    if kind == "AlertWindows":
        return Refusal(
            ("kind",),
            "Sloth AlertWindows: not an SLO; sloguard's tiers are set per SLO in "
            "`alerting.windows`",
        )
    if kind != "PrometheusServiceLevel":
        return Refusal(
            ("kind",),
            f"Sloth kind {kind!r} is not supported: sloguard reads PrometheusServiceLevel",
        )
    if api != SLOTH_API:
        return Refusal(
            ("apiVersion",),
            f"Sloth {api} is not supported: sloguard reads `apiVersion: {SLOTH_API}`",
        )
    return "sloth-crd"


def read_definitions(texts: Mapping[str, str]) -> Reading:
    """Every definition in `texts` (file name -> text), and every problem found reading them."""
    problems: list[SpecProblem] = []
    warnings: list[SpecProblem] = []
    parsed: list[tuple[str, Document, Format]] = []
    for file, text in texts.items():
        try:
            documents = [item for doc in parse_documents(text) for item in doc.items()]
        except DocumentError as exc:
            problems.append(SpecProblem(file, exc.line, None, None, None, str(exc)))
            continue
        if not documents:
            problems.append(SpecProblem(file, None, None, None, None, "no definitions in file"))
        for document in documents:
            fmt = detect_format(document)
            if isinstance(fmt, Refusal):
                problems.append(_located(file, document, fmt.path, fmt.message))
            else:
                parsed.append((file, document, fmt))
    indicators: dict[str, tuple[str, Document]] = {}
    for file, document, fmt in parsed:
        name = sli_name(document) if _kind(document) == "SLI" and fmt == "openslo" else None
        if name is None:
            continue
        if name in indicators:
            first, earlier = indicators[name]
            problems.append(
                _located(
                    file,
                    document,
                    ("metadata", "name"),
                    f"duplicate SLI {name!r}: also defined in {first}:{earlier.line(())}",
                )
            )
        else:
            indicators[name] = (file, document)
    any_slo = any(_holds_slos(doc, fmt) for _, doc, fmt in parsed)
    definitions: list[Definition] = []
    for file, document, fmt in parsed:
        try:
            definitions.extend(_translate(file, document, fmt, indicators))
        except FieldError as exc:
            owner, source = exc.where or (file, document)
            problems.extend(_located(owner, source, path, why) for path, why in exc.found)
        kind = _kind(document)
        if fmt.startswith("openslo") and kind in OPENSLO_OTHER_KINDS:
            why = OPENSLO_OTHER_KINDS[kind]
            if not any_slo:
                problems.append(
                    _located(file, document, ("kind",), f"OpenSLO {kind}: not an SLO; {why}")
                )
            elif kind in OPENSLO_WARNED_KINDS:
                warnings.append(
                    _located(file, document, ("kind",), f"OpenSLO {kind} left out: {why}")
                )
    referenced = {_reference(doc) for _, doc, fmt in parsed if fmt == "openslo"}
    for name, (file, document) in indicators.items():
        if name not in referenced and not any_slo:
            problems.append(
                _located(file, document, ("kind",), f"OpenSLO SLI: not an SLO; {SLI_ALONE}")
            )
        elif name not in referenced:
            warnings.append(
                _located(file, document, ("metadata", "name"), f"no SLO refers to SLI {name!r}")
            )
    for definition in definitions:
        warnings.extend(
            _located(definition.file, definition.document, path, why)
            for path, why in definition.warnings
        )
    # An SLI several SLOs refer to is read, and reported, once per SLO: once is enough.
    return Reading(definitions, list(dict.fromkeys(problems)), list(dict.fromkeys(warnings)))


SLI_ALONE = "an SLO refers to it by `indicatorRef`"


def _kind(document: Document) -> str | None:
    kind = document.data.get("kind")
    return kind if isinstance(kind, str) else None


def _reference(document: Document) -> str | None:
    spec = document.data.get("spec")
    ref = spec.get("indicatorRef") if isinstance(spec, dict) else None
    return ref if isinstance(ref, str) else None


def _holds_slos(document: Document, fmt: Format) -> bool:
    return not fmt.startswith("openslo") or _kind(document) == "SLO"


def _translate(
    file: str, document: Document, fmt: Format, indicators: Mapping[str, tuple[str, Document]]
) -> list[Definition]:
    if fmt == "native":
        return [Definition(file=file, format=fmt, data=document.data, document=document)]
    if fmt in ("sloth", "sloth-crd"):
        return [from_sloth(file, document, crd=fmt == "sloth-crd")]
    if fmt == "pyrra":
        return [from_pyrra(file, document)]
    kind = _kind(document)
    if kind != "SLO":
        if kind in OPENSLO_OTHER_KINDS or kind == "SLI":
            return []
        raise FieldError(("kind",), f"OpenSLO kind {document.data.get('kind')!r} is not supported")
    if fmt == "openslo-v1alpha":
        return from_openslo_v1alpha(file, document)
    return from_openslo(file, document, indicators)


def _located(file: str, document: Document, path: KeyPath, message: str) -> SpecProblem:
    return SpecProblem(
        file,
        document.line(path),
        _service(document),
        _slo(document, path),
        dotted(path) or None,
        message,
    )


def _service(document: Document) -> str | None:
    data = document.data
    if not isinstance(data, dict):
        return None
    if data.get("kind") == "ServiceLevelObjective":
        return pyrra_service(document)
    for holder in (data, data.get("spec")):
        if isinstance(holder, dict) and isinstance(holder.get("service"), str):
            return str(holder["service"])
    return None


def _slo(document: Document, path: KeyPath) -> str | None:
    """The SLO a source path lies in: a Sloth `slos[i]` entry, or the object itself."""
    data: Any = document.data
    if not isinstance(data, dict):
        return None
    if data.get("kind") in ("SLO", "ServiceLevelObjective"):
        metadata = data.get("metadata")
        return str(metadata["name"]) if isinstance(metadata, dict) and "name" in metadata else None
    name = None
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(part, int) and isinstance(data, dict) and "name" in data:
            name = str(data["name"])
    return name
