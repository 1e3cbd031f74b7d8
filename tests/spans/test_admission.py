"""Which trace SLI series are kept: room per SLI, idle series forgotten, asked-about versions
preferred over junk."""

from __future__ import annotations

from sloguard.spans.admission import SeriesTable
from sloguard.spans.counting import Series


def series(version: str, sli: str = "a", outcome: str = "good") -> Series:
    return Series("shop", "POST /pay", sli, version, outcome)


def table() -> SeriesTable:
    return SeriesTable(per_sli=2, idle_seconds=3600, reuse_seconds=600)


def test_a_full_sli_refuses_newcomers_while_its_series_are_fresh() -> None:
    kept = table()
    assert kept.admit(series("junk-1"), 0) == (True, [])
    assert kept.admit(series("junk-2"), 0) == (True, [])
    assert kept.admit(series("v3"), 599) == (False, [])
    assert kept.admit(series("junk-1"), 599) == (True, [])  # kept ones go on counting


def test_one_slis_junk_leaves_room_for_the_others() -> None:
    kept = table()
    for n in range(10):
        kept.admit(series(f"junk-{n}", sli="a"), 0)
    assert kept.admit(series("v1", sli="b"), 0) == (True, [])
    assert len(kept) == 3


def test_the_longest_unseen_series_gives_its_room_once_quiet() -> None:
    kept = table()
    kept.admit(series("junk-1"), 0)
    kept.admit(series("junk-2"), 100)
    assert kept.admit(series("v3"), 600) == (True, [series("junk-1")])


def test_a_version_the_gate_asked_about_takes_the_room_of_one_nobody_did() -> None:
    kept = table()
    kept.admit(series("v2"), 0)
    kept.admit(series("junk"), 1)
    wanted = frozenset({"v2", "v3"})
    assert kept.admit(series("v3"), 2, wanted) == (True, [series("junk")])
    assert kept.admit(series("v4", outcome="bad"), 3, frozenset({"v2", "v3", "v4"})) == (
        False,
        [],
    )  # everything kept is wanted: first come keeps it


def test_series_unseen_for_the_idle_time_are_forgotten() -> None:
    kept = table()
    kept.admit(series("old"), 0)
    kept.admit(series("new"), 3000)
    assert kept.expire(3599) == []
    assert kept.expire(3600) == [series("old")]
    assert len(kept) == 1
