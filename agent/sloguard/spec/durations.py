"""Prometheus-style durations (`5m`, `1h30m`, `30d`), parsed to whole seconds and printed back."""

from __future__ import annotations

import functools
import re

_UNITS: dict[str, int] = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
}
# Prometheus keeps durations in int64 nanoseconds; a longer range is a parse error in a rule.
MAX_MILLISECONDS = (2**63 - 1) // 1_000_000
_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_WHOLE = re.compile(r"^(?:\d+(?:ms|y|w|d|h|m|s))+$")


class DurationTooLong(ValueError):
    """A well-formed duration beyond what Prometheus can hold."""


@functools.lru_cache(maxsize=1024)
def parse_seconds(text: str) -> float:
    """Seconds in a Prometheus duration; raises ValueError with a readable reason."""
    text = text.strip()
    if len(text) > 64 or not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration such as 5m, 1h30m or 30d")
    total = 0
    for amount, unit in _PART.findall(text):
        total += int(amount) if unit == "ms" else int(amount) * _UNITS[unit] * 1000
    if total <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    if total > MAX_MILLISECONDS:
        raise DurationTooLong(f"{text!r} is longer than Prometheus durations go (about 292 years)")
    return total / 1000


@functools.lru_cache(maxsize=1024)
def format_seconds(seconds: int) -> str:
    """The shortest Prometheus duration for whole seconds (`90` -> `1m30s`, `2592000` -> `30d`)."""
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    parts = []
    rest = seconds
    for unit in ("d", "h", "m", "s"):
        amount, rest = divmod(rest, _UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
