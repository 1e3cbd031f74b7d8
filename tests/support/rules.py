"""Which SLOs a generated rule records for: its own, or those a shared rule selects."""

from __future__ import annotations

import json
import re
from typing import Any

_SLO_MATCHER = re.compile(r'\bslo(=~?)("(?:[^"\\]|\\.)*")')


def selects(rule: dict[str, Any], slo: str) -> bool:
    """Whether `rule` records for `slo`: an SLO's own rule by its labels, a shared one (no
    labels: its series keep those of the SLOs it reads) by the `slo` matchers it reads with."""
    if "labels" in rule:
        return bool(rule["labels"]["slo"] == slo)
    return any(
        json.loads(value) == slo if op == "=" else re.fullmatch(json.loads(value), slo)
        for op, value in _SLO_MATCHER.findall(rule["expr"])
    )
