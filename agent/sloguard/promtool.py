"""Running promtool (from the Debian `prometheus` package) to check and unit-test rule files."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sloguard.errors import ToolError

INSTALL_HINT = "install it with `apt-get install -y prometheus` (it ships promtool)"


@dataclass(frozen=True)
class ToolRun:
    """Outcome of one promtool call."""

    ok: bool
    output: str


def _promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        raise ToolError(f"promtool not found on PATH; {INSTALL_HINT}")
    return found


def _run(*args: str, cwd: Path | None = None, timeout: float = 600) -> ToolRun:
    try:
        done = subprocess.run(
            [_promtool(), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"promtool {' '.join(args)} did not finish in {timeout:.0f}s") from exc
    return ToolRun(done.returncode == 0, (done.stdout + done.stderr).strip())


def check_rules(files: list[Path]) -> ToolRun:
    """`promtool check rules`: syntax, PromQL and templates of every rule."""
    return _run("check", "rules", *map(str, files))


def test_rules(test_file: Path) -> ToolRun:
    """`promtool test rules`: the alerting behaviour the test file claims."""
    return _run("test", "rules", test_file.name, cwd=test_file.parent)
