"""The console in Debian's Chromium, over the live demo's data (a real Prometheus, synthetic
traffic, the agent as `sloguard demo` runs it): every SLO `/v1/slos` reports is a row of the
page the browser renders. With SLOGUARD_UPDATE_PICTURES=1 the screenshot becomes the docs'."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.browser import FLAGS, screenshot
from tests.support.demo import assert_stopped, demo_command
from tests.support.repo import REPO

pytestmark = pytest.mark.integration  # starts real processes or servers

PICTURE = REPO / "docs" / "images" / "console-overview.png"
CONSOLE = re.compile(r"console (http://127\.0\.0\.1:\d+/)")


@pytest.mark.timeout(180)
def test_the_console_shows_in_a_browser_every_slo_the_api_reports(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        demo_command(90, 3),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        url, said = "", ""
        for line in demo.stdout:
            said += line
            found = CONSOLE.search(line)
            if found:
                url = found.group(1)
                break
        assert url, "the demo never named its console"
        deadline = time.monotonic() + 60
        while True:  # until the checkout SLOs have data, as a person would wait
            slos = httpx.get(f"{url}v1/slos", timeout=5).json()
            ready = [s for s in slos if s["service"] == "checkout" and s["status"] != "no_data"]
            if len(ready) == 2 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert len(slos) == 6 and len(ready) == 2, slos
        rendered = subprocess.run(
            [shutil.which("chromium") or "chromium", *FLAGS, "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rendered.returncode == 0, rendered.stderr[-2000:]
        rows = re.findall(r"<tr>(.*?)</tr>", rendered.stdout.split("<tbody>", 1)[1], re.S)
        assert len(rows) == len(slos)
        for slo in slos:
            [row] = [r for r in rows if f"<td>{slo['service']}</td>" in r and slo["slo"] in r]
            status = slo["status"].replace("_", " ")
            assert status in row, (slo, row)
        page = tmp_path / "console.png"
        assert screenshot(url, page, 1200, 480) == (1200, 480)
        if os.environ.get("SLOGUARD_UPDATE_PICTURES"):
            shutil.copyfile(page, PICTURE)
        assert PICTURE.is_file(), "run with SLOGUARD_UPDATE_PICTURES=1 and commit the picture"
    finally:
        demo.terminate()  # SIGTERM stops it as Ctrl-C does
        demo.communicate(timeout=30)  # drains and closes its output
    assert_stopped(said)
