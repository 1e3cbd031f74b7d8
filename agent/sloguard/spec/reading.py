"""Texts of definition files to native definitions: detects each document's format.

Pure: takes file names and their texts, so the same code serves the CLI, the agent and tests.
A file may hold several YAML documents of any supported format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sloguard.errors import SpecProblem
from sloguard.spec.documents import Document, DocumentError, Path, parse_documents
from sloguard.spec.model import Format
from sloguard.spec.openslo import OpenSLOFieldError, from_openslo, sli_name
from sloguard.spec.sloth import SlothFieldError, from_sloth
from sloguard.spec.sources import Definition, dotted

OPENSLO_IGNORED_KINDS = {
    "Service",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
}


def detect_format(document: Document) -> Format | None:
    """Which format a document is written in, from its identifying keys."""
    data = document.data
    if not isinstance(data, dict):
        return None
    if data.get("version") == "prometheus/v1":
        return "sloth"
    api = str(data.get("apiVersion", ""))
    if api.startswith("sloth.slok.dev/") and data.get("kind") == "PrometheusServiceLevel":
        return "sloth-crd"
    if api == "openslo/v1":
        return "openslo"
    if "service" in data and "slos" in data and "apiVersion" not in data:
        return "native"
    return None


def read_definitions(texts: Mapping[str, str]) -> tuple[list[Definition], list[SpecProblem]]:
    """Every definition in `texts` (file name -> text), and every problem found reading them."""
    problems: list[SpecProblem] = []
    parsed: list[tuple[str, Document, Format]] = []
    for file, text in texts.items():
        try:
            documents = parse_documents(text)
        except DocumentError as exc:
            problems.append(SpecProblem(file, exc.line, None, None, None, str(exc)))
            continue
        if not documents:
            problems.append(SpecProblem(file, None, None, None, None, "no definitions in file"))
        for document in documents:
            fmt = detect_format(document)
            if fmt is None:
                problems.append(
                    SpecProblem(
                        file,
                        document.line(()),
                        None,
                        None,
                        None,
                        "unrecognised format: expected sloguard (`service` + `slos`), Sloth "
                        "(`version: prometheus/v1` or kind PrometheusServiceLevel) or OpenSLO "
                        "(`apiVersion: openslo/v1`)",
                    )
                )
            else:
                parsed.append((file, document, fmt))

    indicators = {
        sli_name(doc): doc
        for _, doc, fmt in parsed
        if fmt == "openslo" and doc.data.get("kind") == "SLI"
    }
    definitions: list[Definition] = []
    for file, document, fmt in parsed:
        try:
            if fmt == "native":
                definitions.append(
                    Definition(file=file, format=fmt, data=document.data, document=document)
                )
            elif fmt in ("sloth", "sloth-crd"):
                definitions.append(from_sloth(file, document, crd=fmt == "sloth-crd"))
            else:
                kind = document.data.get("kind")
                if kind == "SLO":
                    definitions.extend(
                        from_openslo(
                            file, document, {k: v for k, v in indicators.items() if k is not None}
                        )
                    )
                elif kind not in OPENSLO_IGNORED_KINDS and kind != "SLI":
                    problems.append(
                        SpecProblem(
                            file,
                            document.line(("kind",)),
                            None,
                            None,
                            "kind",
                            f"unsupported OpenSLO kind {kind!r}",
                        )
                    )
        except (SlothFieldError, OpenSLOFieldError) as exc:
            problems.append(
                SpecProblem(
                    file,
                    document.line(exc.path),
                    _service(document),
                    _slo(document, exc.path),
                    dotted(exc.path),
                    str(exc),
                )
            )
    return definitions, problems


def _service(document: Document) -> str | None:
    data = document.data
    for holder in (data, data.get("spec")):
        if isinstance(holder, dict) and isinstance(holder.get("service"), str):
            return str(holder["service"])
    return None


def _slo(document: Document, path: Path) -> str | None:
    """The SLO a source path lies in: a Sloth `slos[i]` entry, or the OpenSLO object itself."""
    data: Any = document.data
    if data.get("kind") == "SLO":
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
