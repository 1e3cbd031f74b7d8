"""Native definitions back to YAML text, for `sloguard import` and the JSON Schema file (pure)."""

from __future__ import annotations

import json

from sloguard import yamltext
from sloguard.spec.model import ServiceSLOs, json_schema

SCHEMA_FILE = "sloguard.schema.json"


def native_yaml(spec: ServiceSLOs, origin: str) -> str:
    """The native form of a definition read from another format, defaults left out."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("labels", {})
    header = (
        f"# yaml-language-server: $schema=./{SCHEMA_FILE}\n# Imported by sloguard from {origin}.\n"
    )
    ordered = {"service": data.pop("service"), "labels": data.pop("labels"), **data}
    if not ordered["labels"]:
        del ordered["labels"]
    return header + yamltext.dump(ordered)


def schema_text() -> str:
    """The JSON Schema as committed: stable key order, trailing newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
