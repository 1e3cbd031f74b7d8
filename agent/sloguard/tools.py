"""Running the tools sloguard leans on: promtool (Debian's `prometheus` package) on rule files,
amtool (`prometheus-alertmanager`) on Alertmanager configurations, and Chromium (`chromium`)
printing a report to PDF."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sloguard.errors import ToolError

PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager", "chromium": "chromium"}


@dataclass(frozen=True)
class ToolRun:
    """Outcome of one checker's run."""

    ok: bool
    output: str


def _found(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        package = PACKAGES[tool]
        raise ToolError(f"{tool} not found on PATH; install it with `apt-get install -y {package}`")
    return found


def _run(tool: str, *args: str, cwd: Path | None = None, timeout: float = 600) -> ToolRun:
    try:
        done = subprocess.run(
            [_found(tool), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{tool} {' '.join(args)} did not finish in {timeout:.0f}s") from exc
    return ToolRun(done.returncode == 0, (done.stdout + done.stderr).strip())


def check_rules(files: list[Path]) -> ToolRun:
    """`promtool check rules`: syntax, PromQL and templates of every rule."""
    return _run("promtool", "check", "rules", *map(str, files))


def test_rules(test_file: Path) -> ToolRun:
    """`promtool test rules`: the alerting behaviour the test file claims."""
    return _run("promtool", "test", "rules", test_file.name, cwd=test_file.parent)


def check_alertmanager_config(config: Path) -> ToolRun:
    """`amtool check-config`: whether Alertmanager would load the configuration."""
    return _run("amtool", "check-config", str(config), timeout=60)


def print_pdf(page: Path, pdf: Path, timeout: float = 120) -> None:
    """Headless Chromium's print of an HTML file to `pdf` (no header or footer)."""
    done = _run(
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        page.resolve().as_uri(),
        timeout=timeout,
    )
    if not done.ok or not pdf.is_file() or pdf.stat().st_size == 0:
        raise ToolError(f"chromium could not print {page.name} to PDF: {done.output[-400:]}")
