"""The YAML emitter must round-trip through a real YAML parser, whatever the strings hold."""

import random
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from sloguard import yamltext
from sloguard.loading import load
from sloguard.rules.generation import render_groups

REPO = Path(__file__).resolve().parents[1]
TRICKY = [
    "",
    "yes",
    "No",
    "null",
    "~",
    "1.5",
    "1e3",
    "0x1f",
    "0o17",
    "1_000",
    "12:30",
    ".inf",
    "2024-01-01",
    "x: y",
    "a #b",
    "'q'",
    '"q"',
    "tab\there",
    " lead",
    "trail ",
    "-dash",
    "@at",
    "ü",
    "a\u2028b",
    "\x85",
    "end:",
    "30s",
    "1h30m",
    "/d/x?var-slo=a&b=c",
    "100%",
    "line1\nline2",
    "multi\n",
    "multi\n\n",
    "\nlead",
    "x\n  indented\n\nblank",
    "sp \nx",
    "{{ $value }}",
    "[a]",
    "*ref",
    "&anchor",
    "!tag",
    "|pipe",
    ">fold",
    "%dir",
    "`tick`",
    # Beyond the Basic Multilingual Plane beside a character that needs an escape: one
    # 8-digit escape or the character itself, never JSON's surrogate pair (Go's YAML, as
    # Prometheus reads it, refuses those).
    "\U0001f680\x7f",
    "line\n\U0001f680",
    "\\ud83d\\ude80\x7f",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_round_trip_as_values_and_keys(text: str) -> None:
    document = {"value": text, text: "key", "list": [text, {"nested": text}]}
    assert yaml.safe_load(yamltext.dump(document)) == document


def test_nested_and_empty_collections_round_trip() -> None:
    document: dict[str, Any] = {
        "a": [],
        "b": {},
        "c": [[1, [2]], [], [{}], {"d": [True, None, 3.5]}],
    }
    assert yaml.safe_load(yamltext.dump(document)) == document


def test_random_strings_round_trip() -> None:
    rnd = random.Random(7)
    alphabet = string.printable + "üé\u2028\x85"
    for _ in range(3000):
        document = {
            "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6))): "".join(
                rnd.choice(alphabet) for _ in range(rnd.randint(0, 16))
            )
            for _ in range(3)
        }
        assert yaml.safe_load(yamltext.dump(document)) == document


def test_generated_rule_groups_round_trip_and_stay_readable() -> None:
    for spec in load([REPO / "slo-definitions"]).services:
        document = {"groups": render_groups(spec)}
        text = yamltext.dump(document)
        assert yaml.safe_load(text) == document
        assert "  interval: 30s\n" in text
        assert "    expr: |-\n" in text  # multi-line alert expressions are literal blocks


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(TypeError):
        yamltext.dump({"a": object()})
