"""Shared fixtures: definitions written to temporary files, and promtool from Debian."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support.repo import FIXTURES, REPO, WriteDefs
from tests.support.running import run_cli


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test not marked `integration` is a `unit` test (`make test-fast` runs those)."""
    for item in items:
        if item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit test that starts a process belongs with the integration tests: say so."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(
            f"a unit test started a process ({args[0] if args else kwargs.get('args')!r}): "
            "mark its module `pytestmark = pytest.mark.integration`"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refused)


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


@pytest.fixture
def shop_definitions(tmp_path: Path) -> Path:
    """A directory holding the bundled fixture `shop.yaml`."""
    directory = tmp_path / "defs"
    directory.mkdir()
    (directory / "shop.yaml").write_text((FIXTURES / "native" / "shop.yaml").read_text())
    return directory


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of this repository's definitions as the working directory, with the rules and
    dashboards `sloguard generate` writes from them."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "slo-definitions", repo / "slo-definitions")
    monkeypatch.chdir(repo)
    assert run_cli("generate")[0] == 0
    return repo
