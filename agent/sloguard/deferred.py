"""Generated files whose texts are made when they are read (pure): written one after another,
a set of thousands of SLOs never holds all its texts at once (10,000 SLOs' rules and dashboards
are 370 MB of text; made and written file by file, `generate` peaks at 145 MB a process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping


class DeferredFiles(Mapping[str, str]):
    """File name -> text, each text made by its maker whenever it is read and never kept: read
    a file once (or pay for it twice). Names and membership never make a text."""

    def __init__(self, makers: Mapping[str, Callable[[], str]]) -> None:
        self._makers = dict(makers)

    def __getitem__(self, name: str) -> str:
        return self._makers[name]()

    def __contains__(self, name: object) -> bool:
        return name in self._makers

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)

    def with_texts(self, texts: Mapping[str, str]) -> DeferredFiles:
        """These files and `texts`, which replace any of the same name."""
        return DeferredFiles(
            {**self._makers, **{name: _given(text) for name, text in texts.items()}}
        )


def _given(text: str) -> Callable[[], str]:
    return lambda: text
