"""Deterministic, readable YAML text for everything sloguard writes (pure).

A small emitter for the plain data sloguard generates (dicts, lists, strings, numbers,
booleans), because PyYAML's Python representer dominated `generate` for large rule sets (1.6 s of
2.3 s for 1,000 SLOs). Strings are written plain when that cannot change their meaning,
single-quoted otherwise, as literal blocks when multi-line, and as JSON strings (valid YAML
double-quoted scalars) when they hold characters that need escapes. Tests hold it to
`yaml.safe_load(dump(x)) == x`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:@ =+?&%,-]*|(?:\d+(?:ms|[smhdwy]))+")
_KEYWORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "=", "<<"])
_PRINTABLE = re.compile(r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]*$")


def dump(document: Any) -> str:
    """YAML in insertion order, block style, never folded."""
    if _is_block(document):
        return "\n".join(_block(document, 0)) + "\n"
    return _inline(document) + "\n"


def _is_block(value: Any) -> bool:
    return bool(value) and (isinstance(value, dict) or _is_list(value))


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _block(value: Any, indent: int) -> list[str]:
    """Lines of a non-empty mapping or list whose entries start at `indent`."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            lines += _entry(f"{pad}{_scalar(str(key))}:", item, indent, nested=indent + 2)
        return lines
    for item in value:
        if _is_block(item):
            inner = _block(item, indent + 2)
            lines.append(f"{pad}- {inner[0][indent + 2 :]}")
            lines += inner[1:]
        else:
            lines += _entry(f"{pad}-", item, indent, nested=indent + 2)
    return lines


def _entry(head: str, value: Any, indent: int, nested: int) -> list[str]:
    """`head` (`key:` or `-`) followed by its value, inline or as a nested block."""
    if isinstance(value, dict) and value:
        return [head, *_block(value, nested)]
    if _is_list(value) and value:
        return [head, *_block(value, indent)]
    if isinstance(value, str) and "\n" in value and _literal_ok(value):
        chomp = "" if value.endswith("\n") else "-"
        body = value[:-1] if chomp == "" else value
        block = " " * nested
        return [f"{head} |{chomp}", *(block + line if line else "" for line in body.split("\n"))]
    return [f"{head} {_inline(value)}"]


def _literal_ok(text: str) -> bool:
    """A literal block keeps `text` exactly: printable, no leading blank, one trailing newline."""
    return (
        bool(_PRINTABLE.fullmatch(text))
        and not text.startswith((" ", "\n"))
        and not text.endswith(("\n\n", " "))
    )


def _inline(value: Any) -> str:
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


@functools.lru_cache(maxsize=8192)
def _scalar(text: str) -> str:
    # _PLAIN never matches a number, date or time (those start with a digit and end with one).
    if (
        _PLAIN.fullmatch(text)
        and text.lower() not in _KEYWORDS
        and not text.endswith((" ", ":"))
        and ": " not in text
    ):
        return text
    if "\n" not in text and _PRINTABLE.fullmatch(text):
        return "'" + text.replace("'", "''") + "'"
    return _SURROGATES.sub(_code_point, json.dumps(text))


# JSON escapes a character beyond the Basic Multilingual Plane as a surrogate pair, which YAML
# parsers read as two broken characters (Go's refuses them); YAML has `\U` for it.
_SURROGATES = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def _code_point(pair: re.Match[str]) -> str:
    high, low = int(pair[1], 16), int(pair[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"
