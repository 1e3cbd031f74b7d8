"""The journal keeps the newest entries within its size, newest first, and counts the same
entry added again in a row as one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloguard.journal import Journal


def test_the_newest_are_kept_newest_first_within_the_size() -> None:
    journal: Journal[int] = Journal(3)
    for value in range(5):
        journal.add(value)
    assert [e.value for e in journal] == [4, 3, 2] and len(journal) == 3
    assert [e.value for e in journal.newest(lambda v: v % 2 == 0)] == [4, 2]
    assert [e.value for e in journal.newest(limit=1)] == [4]


def test_an_entry_with_the_same_key_replaces_the_earlier_one_and_counts() -> None:
    journal: Journal[tuple[str, int]] = Journal(10, key=lambda v: v[0] if v[0] != "-" else None)
    for added in [("held", 1), ("-", 2), ("held", 3), ("-", 4)]:
        journal.add(added)
    entries = list(journal)
    assert [e.value for e in entries] == [("-", 4), ("held", 3), ("-", 2)]
    assert [e.repeated for e in entries] == [1, 2, 1]
    assert entries[0].seq > entries[1].seq > entries[2].seq


def test_a_journal_keeps_at_least_one_entry() -> None:
    with pytest.raises(ValueError):
        Journal(0)


@given(st.integers(1, 20), st.lists(st.integers(0, 5), max_size=200))
def test_never_more_than_its_size_and_each_key_once(size: int, keys: list[int]) -> None:
    journal: Journal[int] = Journal(size, key=lambda v: v)
    for key in keys:
        journal.add(key)
    kept = [e.value for e in journal]
    assert len(kept) <= size and len(kept) == len(set(kept))
    newest_distinct = list(dict.fromkeys(reversed(keys)))[:size]
    assert kept == newest_distinct
