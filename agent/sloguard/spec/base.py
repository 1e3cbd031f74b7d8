"""The building blocks every part of a definition shares: strict models, names, labels, PromQL."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sloguard.spec.durations import format_seconds, parse_seconds

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
_NAME_CHAR = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]"  # no control characters or line breaks
_NAME_END = r"[^\s\x00-\x1f\x7f-\x9f\u2028\u2029]"
ReceiverName = Annotated[
    str,
    Field(
        pattern=rf"^{_NAME_END}(?:{_NAME_CHAR}{{0,126}}{_NAME_END})?$",
        description="An Alertmanager receiver's name: 1-128 characters, no control characters, "
        "line breaks, or spaces at either end.",
    ),
]


def _timing(value: str) -> str:
    seconds = parse_seconds(value)
    if seconds < 1 or seconds != int(seconds):
        raise ValueError("must be whole seconds, at least 1s")
    return format_seconds(int(seconds))  # the spelling Alertmanager reads: `1h30m`, never `30m1h`


# An Alertmanager route timing (`group_wait`, ...): a duration in whole seconds, written back in
# the order Alertmanager requires.
Timing = Annotated[str, AfterValidator(_timing)]
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
