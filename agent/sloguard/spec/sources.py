"""A definition in native shape, remembering the source file, format and lines it came from."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sloguard.spec.documents import Document, KeyPath
from sloguard.spec.model import Format


class FieldError(ValueError):
    """What a reader cannot translate: every such use in a document, each at its place in the
    source (a path in the file's own field names) with the reason."""

    def __init__(self, path: KeyPath, message: str, *more: tuple[KeyPath, str]) -> None:
        super().__init__(message)
        self.found: list[tuple[KeyPath, str]] = [(path, message), *more]
        self.where: tuple[str, Document] | None = None  # another file's document, if not ours

    def at(self, file: str, document: Document) -> FieldError:
        """The same problems, found in `document` of `file`."""
        self.where = (file, document)
        return self

    @classmethod
    def of(cls, found: list[tuple[KeyPath, str]]) -> FieldError:
        (path, message), *more = found
        return cls(path, message, *more)


class Fields:
    """Reads a source document's values as the types they must be, collecting every problem
    (each at its path, in the file's own spelling) instead of stopping at the first, and every
    warning about what is read but left out."""

    def __init__(self, owner: str) -> None:
        self.owner = owner  # "Sloth", "Pyrra", ...: whose field names these are
        self.found: list[tuple[KeyPath, str]] = []
        self.warnings: list[tuple[KeyPath, str]] = []

    def refuse(self, path: KeyPath, message: str) -> None:
        self.found.append((path, message))

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append((path, message))

    def check(self) -> None:
        """Raise everything refused so far."""
        if self.found:
            raise FieldError.of(self.found)

    def mapping(self, value: Any, path: KeyPath) -> dict[str, Any]:
        """A mapping, or {} when absent; anything else is refused."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.refuse(path, f"expected a mapping, not {_kind(value)}")
            return {}
        return value

    def listing(self, value: Any, path: KeyPath) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.refuse(path, f"expected a list, not {_kind(value)}")
            return []
        return value

    def text(self, value: Any, path: KeyPath, what: str = "a string") -> str | None:
        """A string, or None when absent; anything else is refused."""
        if value is None or isinstance(value, str):
            return value
        self.refuse(path, f"expected {what}, not {_kind(value)}")
        return None

    def flag(self, value: Any, path: KeyPath, default: bool = False) -> bool:
        """true or false: a string such as "false" would read as true, so it is refused."""
        if value is None:
            return default
        if not isinstance(value, bool):
            self.refuse(path, f"expected true or false, not {_kind(value)}")
            return default
        return value

    def strings(self, value: Any, path: KeyPath) -> dict[str, str]:
        """A mapping of names to strings (labels, annotations)."""
        found = {}
        for key, item in self.mapping(value, path).items():
            if isinstance(item, str):
                found[str(key)] = item
            else:
                self.refuse((*path, str(key)), f"expected a string value, not {_kind(item)}")
        return found

    def known(self, data: dict[str, Any], keys: set[str], at: KeyPath) -> None:
        """Every key of `data` outside `keys` is an unknown field, with the closest known one."""
        for key in data:
            if key not in keys:
                close = difflib.get_close_matches(str(key), sorted(keys), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.refuse((*at, str(key)), f"unknown {self.owner} field{hint}")

    def spelling(self, data: dict[str, Any], keys: tuple[str, ...], at: KeyPath) -> str | None:
        """Which of the spellings of one field `data` uses; two at once is refused."""
        present = [key for key in keys if key in data]
        if len(present) > 1:
            self.refuse((*at, present[1]), f"{present[0]} and {present[1]} are one field: keep one")
        return present[0] if present else None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    names = {dict: "a mapping", list: "a list", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


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
    renames: Mapping[KeyPath, KeyPath] = field(default_factory=dict)
    warnings: tuple[tuple[KeyPath, str], ...] = ()  # source fields read but left out, and why
    # Native path prefix -> (file, document, path) of a part written in another document (an
    # OpenSLO SLI an SLO refers to).
    elsewhere: Mapping[KeyPath, tuple[str, Document, KeyPath]] = field(default_factory=dict)

    def locate(self, path: KeyPath) -> tuple[str, int | None, str]:
        """File, line and dotted field name, in the source's own spelling, of a native path."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.elsewhere:
                file, document, at = self.elsewhere[prefix]
                source = (*at, *path[end:])
                return file, document.line(source), dotted(source)
            if prefix in self.renames:
                source = (*self.renames[prefix], *path[end:])
                return self.file, self.document.line(source), dotted(source)
        return self.file, self.document.line(path), dotted(path)

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


def kubernetes_object(document: Document, renames: dict[KeyPath, KeyPath]) -> dict[str, Any]:
    """A custom resource's `metadata.namespace` and `metadata.labels`, as the native
    `prometheus_rule`: the rules generated from it stay where the operator looks for them."""
    metadata = document.data.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    found = {key: metadata[key] for key in ("namespace", "labels") if metadata.get(key)}
    for key in found:
        renames[("prometheus_rule", key)] = ("metadata", key)
    return {"prometheus_rule": found} if found else {}


def dotted(path: KeyPath) -> str:
    """`("slos", 0, "sli")` -> `slos[0].sli`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
