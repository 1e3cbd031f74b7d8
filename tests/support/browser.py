"""Debian's Chromium, headless, for what a person looks at (never a browser a test tool
downloads): a page as a PNG, and pages driven by Playwright, with their errors and axe-core's
accessibility check."""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

# Quiet, sandbox-free (tests run as root in CI), and without the background connections this
# machine's closed network refuses.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def screenshot(page: Path | str, picture: Path, width: int, height: int) -> tuple[int, int]:
    """`page` (a file, or a URL) as Chromium shows it in a `width` x `height` window, written
    to `picture`; the PNG's size."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is missing: apt-get install chromium (make setup does)")
    with tempfile.TemporaryDirectory(prefix="sloguard-chromium-") as profile:
        taken = subprocess.run(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={picture}",
                page if isinstance(page, str) else page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert taken.returncode == 0 and picture.is_file(), taken.stderr[-2000:]
    header = picture.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    found: tuple[int, int] = struct.unpack(">II", header[16:24])
    return found


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PICTURES = Path(__file__).parents[2] / "docs" / "images"


def picture(page: Page, name: str, tmp_path: Path) -> None:
    """What `page` shows, as `name`; with SLOGUARD_UPDATE_PICTURES=1 it becomes the docs'
    picture of that name (which must exist either way)."""
    taken = tmp_path / name
    page.screenshot(path=str(taken), full_page=False)
    if os.environ.get("SLOGUARD_UPDATE_PICTURES"):
        shutil.copyfile(taken, PICTURES / name)
    assert (PICTURES / name).is_file(), "run with SLOGUARD_UPDATE_PICTURES=1, commit the picture"


@dataclass
class Visit:
    """A page in headless Chromium, and every error it logged (console errors, uncaught
    exceptions, failed requests)."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def accessibility_problems(self) -> list[str]:
        """axe-core's serious and critical violations of the page as it stands, each with the
        elements at fault."""
        self.page.add_script_tag(path=str(AXE))
        found = self.page.evaluate("() => axe.run(document)")
        return [
            f"{v['id']} ({v['impact']}): {v['help']}: "
            + ", ".join(str(n["target"]) for n in v["nodes"][:5])
            for v in found["violations"]
            if v["impact"] in ("serious", "critical")
        ]


@contextlib.contextmanager
def browsing(width: int = 1200, height: int = 800) -> Iterator[Visit]:
    """Debian's Chromium driven by Playwright (`executable_path`: nothing is downloaded)."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is missing: apt-get install chromium (make setup does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary, headless=True, args=[f for f in FLAGS if f != "--headless"]
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            visit = Visit(page)
            page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: visit.errors.append(str(e)))
            page.on("requestfailed", lambda r: visit.errors.append(f"{r.url}: {r.failure}"))
            yield visit
        finally:
            browser.close()
