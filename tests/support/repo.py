"""The repository's definitions and fixtures, as the tests read them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from sloguard.loading import Loaded, load

REPO = Path(__file__).resolve().parents[2]


FIXTURES = REPO / "tests" / "fixtures"


# Every format sloguard reads; each fixture directory holds the shop's availability SLO
# (99.9% over 30d of http_requests_total) as that format writes it, as `shop.*`.
FORMATS = ["native", "sloth", "sloth-crd", "openslo", "openslo-v1alpha", "pyrra"]


def shop_file(fmt: str) -> Path:
    """The shop SLO written in format `fmt`."""
    [path] = sorted((FIXTURES / fmt).glob("shop.*"))
    return path


def load_text(tmp_path: Path, text: str, name: str = "svc.yaml") -> Loaded:
    """Load one definition file given as text."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return load([path])


WriteDefs = Callable[..., Path]
