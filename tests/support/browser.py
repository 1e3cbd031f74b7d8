"""Debian's Chromium, headless, for what a person looks at: a page as a PNG, taken by the real
browser (never a browser a test tool downloads)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

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
