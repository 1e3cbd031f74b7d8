"""Users' own grafanalib dashboards (`*.dashboard.py`, grafanalib's convention) rendered to JSON.

A script is Python that defines a module-level `dashboard` (a grafanalib `Dashboard`); like
grafanalib's own generator, sloguard runs it, so only run scripts you would run yourself.
"""

from __future__ import annotations

import runpy
from pathlib import Path

from sloguard.dashboards.output import dashboard_text
from sloguard.dashboards.parts import to_json
from sloguard.errors import DashboardError

SCRIPT_SUFFIX = ".dashboard.py"


def script_files(directory: Path) -> list[Path]:
    """The dashboard scripts directly in `directory`, in a stable order."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"*{SCRIPT_SUFFIX}") if p.is_file())


def render_scripts(directory: Path) -> dict[str, str]:
    """`<name>.json` -> text for every `<name>.dashboard.py` in `directory`."""
    files = {}
    for script in script_files(directory):
        try:
            namespace = runpy.run_path(str(script), run_name="__sloguard_dashboard__")
        except Exception as exc:
            raise DashboardError(f"{script}: failed: {type(exc).__name__}: {exc}") from exc
        board = namespace.get("dashboard")
        if board is None or not hasattr(board, "to_json_data"):
            raise DashboardError(
                f"{script}: defines no `dashboard` (a grafanalib Dashboard) at module level"
            )
        try:
            data = to_json(board.auto_panel_ids() if hasattr(board, "auto_panel_ids") else board)
        except Exception as exc:
            raise DashboardError(f"{script}: cannot render: {type(exc).__name__}: {exc}") from exc
        name = script.name.removesuffix(SCRIPT_SUFFIX) + ".json"
        files[name] = dashboard_text(data, str(script))
    return files
