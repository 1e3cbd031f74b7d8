"""YAML text to plain data that remembers the line of every key, so errors can point at it.

Only safe YAML is read (no tags that build objects). Each document's values come with a map from
their path (`("slos", 0, "sli")`) to the 1-based line where that node starts.

Definition files may be hostile, so reading them is bounded while they are composed, before
anything is expanded: anchors and aliases are refused outright (a recursive alias, or a few
hundred bytes of nested ones, the "billion laughs", would otherwise take the process down), and so
are more than MAX_NODES nodes in one text or nesting deeper than MAX_DEPTH.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # libyaml is many times faster; fall back to pure Python where it is not built.
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

# Where a value sits in a YAML document: the keys and list indexes leading to it.
KeyPath = tuple[str | int, ...]

# Far beyond any real definition file (hundreds of nodes, a dozen levels), far below harm.
MAX_NODES = 100_000
MAX_DEPTH = 64


@dataclass(frozen=True)
class Document:
    """One YAML document of a file, with the line of each node."""

    data: Any
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    index: int = 0

    def line(self, path: KeyPath) -> int | None:
        """Line of the deepest node on `path` that exists in the source."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def items(self) -> list[Document]:
        """Each item of a document that is a list (`oslo` writes objects so), as a document of
        its own whose lines still count from the top of the file."""
        if not isinstance(self.data, list):
            return [self]
        return [
            Document(
                data=item,
                lines={path[1:]: line for path, line in self.lines.items() if path[:1] == (i,)},
                index=self.index,
            )
            for i, item in enumerate(self.data)
        ]


class DocumentError(ValueError):
    """The text is not valid YAML; `line` is 1-based where known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def parse_documents(text: str) -> list[Document]:
    """Every non-empty document in `text`, or DocumentError."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(p for p in (exc.context, exc.problem) if p)
        raise DocumentError(f"invalid YAML: {reason}", mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}", None) from exc
    documents = []
    loader = _Loader("")
    try:
        for index, node in enumerate(nodes):
            if node is None:
                continue
            lines: dict[KeyPath, int] = {}
            data = _build(loader, node, (), lines)
            if data is not None:
                documents.append(Document(data=data, lines=lines, index=index))
    finally:
        loader.dispose()
    return documents


class _Loader(yaml.composer.Composer, _SafeLoader):
    """libyaml's parser and the safe constructor, with PyYAML's composer in front so every node
    can be checked as it is composed: libyaml's own composer gives no say until it is done."""

    def __init__(self, stream: str) -> None:
        _SafeLoader.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        mark = event.start_mark if event is not None else None
        line = mark.line + 1 if mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            raise DocumentError(f"YAML aliases are not allowed (*{event.anchor})", line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise DocumentError(f"YAML aliases are not allowed (anchor &{anchor})", line)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise DocumentError(f"more than {MAX_NODES} YAML nodes in one file", line)
        if self._depth >= MAX_DEPTH:
            raise DocumentError(f"YAML nested deeper than {MAX_DEPTH} levels", line)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _build(loader: _Loader, node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
        raise DocumentError(f"unsupported YAML tag {node.tag!r}", node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(loader, key_node, path, {})
            if isinstance(key, list | dict):
                line = key_node.start_mark.line + 1
                raise DocumentError(
                    "a mapping key must be a plain value, not a list or mapping", line
                )
            if key in result:
                raise DocumentError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            result[key] = _build(loader, value_node, (*path, str(key)), lines)
            lines[(*path, str(key))] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), lines) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        line = node.start_mark.line + 1
        raise DocumentError(f"unsupported YAML value: {exc.problem}", line) from exc
