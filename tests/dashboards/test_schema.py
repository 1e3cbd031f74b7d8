"""Generated dashboards against Grafana's own dashboard JSON Schema (no Grafana runs here).

The schema is `tests/fixtures/grafana-dashboard.schema.json`, JSON Schema (draft-07) generated
from the `@grafana/schema` 13.2.3 types; SLOGUARD_GRAFANA_SCHEMA may point elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sloguard.dashboard_scripts import render_scripts
from sloguard.dashboards.output import dashboard_files
from sloguard.loading import load
from tests.support.repo import FIXTURES, FORMATS, REPO

SCHEMA_NAME = "grafana-dashboard.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    candidates = [
        os.environ.get("SLOGUARD_GRAFANA_SCHEMA", ""),
        str(FIXTURES / SCHEMA_NAME),
    ]
    found = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        pytest.fail(f"{SCHEMA_NAME} not found; set SLOGUARD_GRAFANA_SCHEMA (tried {candidates})")
    schema = json.loads(found.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator: jsonschema.Draft7Validator, board: dict[str, Any]) -> list[str]:
    found = []
    for error in validator.iter_errors(board):
        # anyOf (panel or row) reports its branches as context: show the deepest ones.
        leaves = error.context or [error]
        found += [f"{list(e.absolute_path)}: {e.message[:200]}" for e in leaves]
    return found


@pytest.mark.parametrize(
    "definitions",
    [
        REPO / "slo-definitions",
        FIXTURES / "native",
        *(FIXTURES / fmt / "forms" for fmt in FORMATS if fmt != "native"),
    ],
    ids=lambda p: str(p.relative_to(p.parents[1])),
)
def test_generated_dashboards_validate(
    validator: jsonschema.Draft7Validator, definitions: Path
) -> None:
    loaded = load([definitions])
    files = dashboard_files(loaded.services, loaded.sources)
    assert len(files) == len(loaded.services) + 1
    for name, text in files.items():
        assert errors(validator, json.loads(text)) == [], name


def test_user_dashboard_scripts_validate(validator: jsonschema.Draft7Validator) -> None:
    files = render_scripts(REPO / "dashboards")
    assert files
    for name, text in files.items():
        assert errors(validator, json.loads(text)) == [], name


def test_the_schema_catches_what_grafana_rejects(validator: jsonschema.Draft7Validator) -> None:
    loaded = load([FIXTURES / "native"])
    board = json.loads(dashboard_files(loaded.services, loaded.sources)["slo-shop.json"])
    board["panels"][1]["links"] = [{"title": "bare link", "url": "https://x"}]
    del board["schemaVersion"]
    assert len(errors(validator, board)) >= 2
