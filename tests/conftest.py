"""Shared fixtures: definitions written to temporary files, and promtool from Debian."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from sloguard import yamltext
from sloguard.cli import main
from sloguard.loading import Loaded, load

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
# Every format sloguard reads; each fixture directory holds the shop's availability SLO
# (99.9% over 30d of http_requests_total) as that format writes it, as `shop.*`.
FORMATS = ["native", "sloth", "sloth-crd", "openslo", "openslo-v1alpha", "pyrra"]


def run_cli(*args: str) -> tuple[int, str, str]:
    """`sloguard ARGS` in this process: exit code, standard output, standard error."""
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def shop_file(fmt: str) -> Path:
    """The shop SLO written in format `fmt`."""
    [path] = sorted((FIXTURES / fmt).glob("shop.*"))
    return path


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own empty directory: commands that default to `alert-rules/` or
    `dashboards/` must never touch (or prune) the checkout's committed files."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool is a real dependency of the tests: install it, never skip (scripts/setup.sh)."""
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is not on PATH: run scripts/setup.sh (apt-get install prometheus)")
    return found


WriteDefs = Callable[..., Path]


@pytest.fixture
def write_defs(tmp_path: Path) -> WriteDefs:
    """Write YAML texts (dedented) as definition files; returns their directory."""
    directory = tmp_path / "defs"
    directory.mkdir()

    def write(**files: str) -> Path:
        for name, text in files.items():
            (directory / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return directory

    return write


def load_text(tmp_path: Path, text: str, name: str = "svc.yaml") -> Loaded:
    """Load one definition file given as text."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return load([path])


def run_promtool_test(
    directory: Path, document: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    """Write a promtool unit-test file into `directory` and run it there."""
    test_file = directory / "scenario.test.yml"
    test_file.write_text(yamltext.dump(document), encoding="utf-8")
    return subprocess.run(
        ["promtool", "test", "rules", test_file.name],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


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


@pytest.fixture
def shop_definitions(tmp_path: Path) -> Path:
    """A directory holding the bundled fixture `shop.yaml`."""
    directory = tmp_path / "defs"
    directory.mkdir()
    (directory / "shop.yaml").write_text((FIXTURES / "native" / "shop.yaml").read_text())
    return directory
