"""A server process for tests: started with its output in a log, waited for until it answers
its health check, and always stopped."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sloguard.demo.prometheus import stop
from sloguard.sources.http import answers_ok


@contextlib.contextmanager
def serving(command: list[str], log: Path, health: str, timeout: float = 30) -> Iterator[None]:
    """Run `command` (output to `log`) until the block ends, once `health` (a URL) answers."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not answers_ok(health):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{command[0]} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        stop(process)


def finish(command: list[str], what: str, cwd: Path | None = None, timeout: float = 600) -> None:
    """Run `command` to its end; the test fails with its output, named `what`, if it fails."""
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )
    if done.returncode != 0:
        pytest.fail(f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
