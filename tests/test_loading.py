"""Definition files on disk: what is found, what is refused unread, and how it is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from sloguard.errors import SpecError
from sloguard.loading import MAX_FILE_BYTES, definition_files, load
from tests.support.repo import FIXTURES

SHOP = (FIXTURES / "native" / "shop.yaml").read_text()


def test_a_dangling_symbolic_link_is_an_error_not_a_service_left_out(
    shop_definitions: Path,
) -> None:
    (shop_definitions / "web.yaml").symlink_to("gone/web.yaml")
    files, problems = definition_files([shop_definitions])
    assert files == [shop_definitions / "shop.yaml"]
    assert [str(p) for p in problems] == [
        f"{shop_definitions / 'web.yaml'}: broken symbolic link to gone/web.yaml"
    ]
    with pytest.raises(SpecError, match="broken symbolic link to gone/web"):
        load([shop_definitions])


def test_a_symbolic_link_loop_is_an_error(shop_definitions: Path) -> None:
    (shop_definitions / "a.yml").symlink_to("b.yml")
    (shop_definitions / "b.yml").symlink_to("a.yml")
    with pytest.raises(SpecError) as caught:
        load([shop_definitions])
    assert [str(p) for p in caught.value.problems] == [
        f"{shop_definitions / 'a.yml'}: symbolic link loop",
        f"{shop_definitions / 'b.yml'}: symbolic link loop",
    ]


def test_a_named_path_that_is_a_broken_link_says_so(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").symlink_to("nowhere.yaml")
    _, problems = definition_files([tmp_path / "web.yaml", tmp_path / "none.yaml"])
    assert [p.message for p in problems] == [
        "broken symbolic link to nowhere.yaml",
        "no such file",
    ]


def test_links_that_resolve_and_other_files_are_not_problems(shop_definitions: Path) -> None:
    (shop_definitions / "linked.yaml").symlink_to("shop.yaml")
    (shop_definitions / "notes.txt").symlink_to("gone.txt")  # not a definition file, never read
    files, problems = definition_files([shop_definitions])
    assert (files, problems) == (
        [shop_definitions / "linked.yaml", shop_definitions / "shop.yaml"],
        [],
    )


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(shop_definitions: Path) -> None:
    padding = "#" * (MAX_FILE_BYTES - len(SHOP) - 1) + "\n"
    (shop_definitions / "shop.yaml").write_text(SHOP + padding)
    assert load([shop_definitions]).slo_count == 1  # exactly at the limit
    (shop_definitions / "shop.yaml").write_text(SHOP + "#" + padding)
    with pytest.raises(SpecError) as caught:
        load([shop_definitions])
    assert [str(p) for p in caught.value.problems] == [
        f"{shop_definitions / 'shop.yaml'}: larger than 1024 KiB, the limit for a definition file"
    ]
