"""The tests' own rules: a test module never imports another (shared helpers live in
tests/support/), and the benchmarks reach the tests' harness without editing sys.path."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.repo import REPO


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_module_imports_a_test_module() -> None:
    importers = [*(REPO / "tests").rglob("*.py"), *(REPO / "bench").glob("*.py")]
    offenders = {
        f"{path.relative_to(REPO)} imports {name}"
        for path in importers
        for name in imported_modules(path)
        if name.startswith("tests.") and name.rpartition(".")[2].startswith("test_")
    }
    assert not offenders, sorted(offenders)


def test_the_benchmarks_do_not_edit_sys_path() -> None:
    edits = [
        str(path.relative_to(REPO))
        for path in [*(REPO / "bench").glob("*.py"), *(REPO / "scripts").glob("*.py")]
        if "sys.path" in path.read_text(encoding="utf-8")
    ]
    assert not edits
