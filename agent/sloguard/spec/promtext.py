"""Numbers as PromQL text: the way a definition writes them, and an `le` boundary however it is
printed (pure)."""

from __future__ import annotations

from decimal import Decimal


def number(value: Decimal | float) -> str:
    """A threshold as written: `0.001`, never `0.0009999999999999432`."""
    return format(Decimal(str(value)).normalize(), "f")


def le_pattern(seconds: float) -> str:
    """Regex (as PromQL string text) matching an `le` boundary however it is printed:
    `1` and `1.0` alike, since Prometheus 3 and client libraries disagree."""
    text = number(seconds)  # digits, `-` and `.`: only the dot means more in a regex
    escaped = text.replace(".", "\\\\.")
    return escaped if "." in text else escaped + "(\\\\.0)?"
