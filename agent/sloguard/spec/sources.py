"""A definition in native shape, remembering the source file, format and lines it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sloguard.spec.documents import Document, Path
from sloguard.spec.model import Format


class FieldError(ValueError):
    """What a reader cannot translate: every such use in a document, each at its place in the
    source (a path in the file's own field names) with the reason."""

    def __init__(self, path: Path, message: str, *more: tuple[Path, str]) -> None:
        super().__init__(message)
        self.found: list[tuple[Path, str]] = [(path, message), *more]

    @classmethod
    def of(cls, found: list[tuple[Path, str]]) -> FieldError:
        (path, message), *more = found
        return cls(path, message, *more)


@dataclass(frozen=True)
class Definition:
    """A service's SLOs as native data, not yet validated, with a way back to the source.

    `renames` maps a native path prefix to the path that holds it in the source file, so an error
    found in the native model points at the line and field the author actually wrote.
    """

    file: str
    format: Format
    data: dict[str, Any]
    document: Document
    renames: Mapping[Path, Path] = field(default_factory=dict)
    warnings: tuple[tuple[Path, str], ...] = ()  # source fields read but left out, and why

    def locate(self, path: Path) -> tuple[int | None, str]:
        """Line and dotted field name, in the source's own spelling, of a native path."""
        source = path
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.renames:
                source = (*self.renames[prefix], *path[end:])
                break
        return self.document.line(source), dotted(source)

    def slo_name(self, index: int) -> str | None:
        slos = self.data.get("slos")
        if isinstance(slos, list) and index < len(slos) and isinstance(slos[index], dict):
            name = slos[index].get("name")
            return str(name) if name is not None else None
        return None

    @property
    def service(self) -> str | None:
        service = self.data.get("service")
        return str(service) if service is not None else None


def kubernetes_object(document: Document, renames: dict[Path, Path]) -> dict[str, Any]:
    """A custom resource's `metadata.namespace` and `metadata.labels`, as the native
    `prometheus_rule`: the rules generated from it stay where the operator looks for them."""
    metadata = document.data.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    found = {key: metadata[key] for key in ("namespace", "labels") if metadata.get(key)}
    for key in found:
        renames[("prometheus_rule", key)] = ("metadata", key)
    return {"prometheus_rule": found} if found else {}


def dotted(path: Path) -> str:
    """`("slos", 0, "sli")` -> `slos[0].sli`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
