"""Reading generated dashboard JSON the way a person scans it: by SLO row and panel title."""

from __future__ import annotations

from typing import Any


def row_panels(board: dict[str, Any], slo: str) -> dict[str, dict[str, Any]]:
    """Panels under the row of `slo`, by title."""
    found: dict[str, dict[str, Any]] = {}
    inside = False
    for panel in board["panels"]:
        if panel["type"] == "row":
            inside = panel["title"].startswith(f"{slo}:")
        elif inside:
            found[panel["title"]] = panel
    return found
