"""Reading generated dashboard JSON the way a person scans it: by SLO row and panel title."""

from __future__ import annotations

import textwrap
from pathlib import Path
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


def write_script(directory: Path, name: str, text: str) -> Path:
    """A user's grafanalib dashboard script, `<name>.dashboard.py`, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.dashboard.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
