"""The published JSON Schema accepts what sloguard accepts and rejects what editors should flag."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from sloguard.spec.model import json_schema
from sloguard.spec.writing import SCHEMA_FILE, schema_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "slo-definitions").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_the_committed_schema_is_the_current_one() -> None:
    assert (REPO / "slo-definitions" / SCHEMA_FILE).read_text() == schema_text()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_definition_passes_the_schema(
    validator: Draft202012Validator, path: Path
) -> None:
    assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["slos"][0].update(objectve=99), ["slos", 0]),
        (lambda d: d["slos"][0].update(objective=100), ["slos", 0, "objective"]),
        (lambda d: d["slos"][0].update(name="Not A Label!"), ["slos", 0, "name"]),
        (lambda d: d.update(labels={"bad-label": "x"}), ["labels"]),
        (
            lambda d: d["slos"][0]["alerting"].update(min_events=-1),
            ["slos", 0, "alerting", "min_events"],
        ),
    ],
)
def test_the_schema_flags_what_validate_rejects(
    validator: Draft202012Validator, change: Any, path: list[Any]
) -> None:
    document = yaml.safe_load((REPO / "slo-definitions" / "checkout.yaml").read_text())
    change(document)
    errors = list(validator.iter_errors(document))
    assert errors, json.dumps(document)
    assert any(list(e.absolute_path)[: len(path)] == path for e in errors)
