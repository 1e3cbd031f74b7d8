"""Reading generated dashboard JSON the way a person scans it: by SLO row and panel title."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VARIABLE = re.compile(r"\$\{?(\w+)\}?")


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


def panel_queries(board: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(where, expr, instant) for every panel target and annotation of a dashboard."""
    panels = list(board.get("panels", []))
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            yield f"{panel.get('title')}/{target['refId']}", target["expr"], target["instant"]
    for annotation in board.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            yield f"annotation {annotation['name']}", annotation["expr"], False


def as_all(expr: str) -> str:
    """A query as Grafana sends it with every variable at All (`.*`)."""
    return VARIABLE.sub(".*", expr)
