"""What tests of the live demo share."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def demo_command(duration: int, refresh: int) -> list[str]:
    """`sloguard demo` for `duration` seconds, evaluating every `refresh`, as this venv has it."""
    sloguard = Path(sys.executable).with_name("sloguard")
    return [str(sloguard), "demo", "--duration", str(duration), "--refresh", str(refresh)]


def assert_stopped(out: str) -> None:
    """The demo's own Prometheus (named by the address it printed) is gone: another test's
    demo may be running beside this one."""
    address = re.search(r"Prometheus http://(127\.0\.0\.1:\d+)", out)
    assert address, out[-2000:]
    pattern = f"sloguard-demo-.*--web.listen-address={address.group(1)}"
    leftovers = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    assert leftovers.stdout == "", "the demo left a Prometheus running"
