"""The building blocks every part of a definition shares: strict models, names, labels, PromQL."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sloguard.spec.durations import parse_seconds

# Kubernetes label values (<= 63 chars): service and SLO names become label values everywhere.
NAME_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*window\s*\}\}")
_GO_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")


def native_window(query: str) -> str:
    """Sloth's Go template `{{.window}}` (which OpenSLO files often carry) as `{{window}}`."""
    return _GO_WINDOW.sub("{{window}}", query)


Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Usable as a Kubernetes label value: 1-63 characters, alphanumeric at both "
        "ends, `-`, `_` and `.` inside.",
    ),
]
ReceiverName = Annotated[
    str,
    Field(
        pattern=r"^[^\x00-\x1f\x7f]{1,128}$",
        description="An Alertmanager receiver's name: 1-128 characters, no control characters.",
    ),
]
Annotations = Annotated[
    dict[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)], str],
    Field(description="Alert annotations (Prometheus templates); names are label names."),
]
Labels = Annotated[
    dict[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)], str],
    Field(description="Prometheus labels added to what is generated."),
]


def _duration(value: str) -> str:
    parse_seconds(value)
    return value


Duration = Annotated[str, AfterValidator(_duration)]  # a Prometheus duration, e.g. `5m`, `1h30m`
Query = Annotated[str, Field(min_length=1, description="PromQL; `{{window}}` marks the range.")]


class Strict(BaseModel):
    """Base for every part of a definition: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
