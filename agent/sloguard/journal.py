"""A bounded record of what happened lately (the gate's decisions, the actions), newest kept:
what the console and its JSON routes show without reading logs. Entries sharing a key replace
the older one, so a hold repeated every cycle is one entry with a count, not a flood."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    """One entry: its place in the journal (ascending), how many times it was added in a
    row under its key, and what was added last."""

    seq: int
    repeated: int
    value: T


class Journal(Generic[T]):
    """The last `size` entries. `key` names what makes two entries the same (None: each entry
    stands alone); the same again moves the entry to the newest place and counts it."""

    def __init__(self, size: int, key: Callable[[T], Hashable | None] = lambda _: None) -> None:
        if size < 1:
            raise ValueError("a journal keeps at least one entry")
        self.size = size
        self._key = key
        self._entries: dict[Hashable, Entry[T]] = {}
        self._seq = count(1)

    def add(self, value: T) -> Entry[T]:
        seq = next(self._seq)
        key = self._key(value)
        if key is None:
            key = ("seq", seq)
        earlier = self._entries.pop(key, None)
        entry = Entry(seq, 1 if earlier is None else earlier.repeated + 1, value)
        self._entries[key] = entry
        while len(self._entries) > self.size:
            del self._entries[next(iter(self._entries))]
        return entry

    def newest(self, keep: Callable[[T], bool] = lambda _: True, limit: int = 0) -> list[Entry[T]]:
        """Newest first, those `keep` accepts, at most `limit` (0: all)."""
        found = []
        for entry in self:
            if keep(entry.value):
                found.append(entry)
                if len(found) == limit:
                    break
        return found

    def __iter__(self) -> Iterator[Entry[T]]:
        """Newest first."""
        return reversed(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
