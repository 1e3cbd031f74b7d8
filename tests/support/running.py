"""Running sloguard's commands and promtool in a test, and waiting for what a process serves."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from sloguard import yamltext
from sloguard.cli import main
from sloguard.tools import ToolRun, test_rules


def run_cli(*args: str) -> tuple[int, str, str]:
    """`sloguard ARGS` in this process: exit code, standard output, standard error."""
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_promtool_test(directory: Path, document: dict[str, object]) -> ToolRun:
    """Write a promtool unit-test file into `directory` and run it there."""
    test_file = directory / "scenario.test.yml"
    test_file.write_text(yamltext.dump(document), encoding="utf-8")
    return test_rules(test_file)


def wait_for(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """What `check` returns once it is truthy (a server not up yet counts as not yet); the
    test fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = check()
            if found:
                return found
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)
