"""promtool test scenarios: an alert firing, silent, never firing, and a scenario that must hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.running import run_promtool_test

HOUR = 3600


DAY = 86400


def firing(series: str, at: float) -> dict[str, Any]:
    return {
        "expr": f"count({series})",
        "eval_time": f"{int(at)}s",
        "exp_samples": [{"labels": "{}", "value": 1}],
    }


def silent(series: str, at: float) -> dict[str, Any]:
    return {"expr": f"count({series})", "eval_time": f"{int(at)}s", "exp_samples": []}


def never(series: str, until: float) -> dict[str, Any]:
    return {
        "expr": f"count(count_over_time({series}[{int(until)}s]))",
        "eval_time": f"{int(until)}s",
        "exp_samples": [],
    }


def assert_holds(tmp_path: Path, document: dict[str, Any]) -> None:
    result = run_promtool_test(tmp_path, document)
    assert result.ok, result.output
