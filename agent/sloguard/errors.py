"""The one error tree of sloguard, translated once at each boundary.

SloguardError
├── SpecError        bad SLO definitions; carries every SpecProblem found (exit 2)
├── OutputError      generated files could not be written (nothing was changed)
├── DashboardError   a user's `*.dashboard.py` failed or defines no dashboard
├── ToolError        an external tool (promtool) is missing or failed to run
├── PublishError     Grafana refused or did not answer an upload
├── RequestError     a gate request that cannot be answered as asked (HTTP 400)
│   └── UnknownTarget  no such service or SLO among the definitions (HTTP 404)
├── SourceError      a metric source gave no usable answer (the SLO becomes no_data)
│   ├── SourceUnavailable  down, timing out, 5xx, garbage: transient, retried, then reported
│   └── QueryRejected      the source refused the query (400/422, bad_data): a bug, loud
└── ClusterError     the Kubernetes API could not be configured or reached, or refused a call
    ├── Conflict     a write carried a stale resourceVersion (409): read again, decide again
    ├── Forbidden    RBAC refused the call (403): the Role lacks a verb
    └── NotFound     the object does not exist (404)
"""

from __future__ import annotations

from dataclasses import dataclass


class SloguardError(Exception):
    """Base of every error sloguard raises on purpose."""


@dataclass(frozen=True, order=True)
class SpecProblem:
    """One thing wrong with a definition, located as precisely as the source allows."""

    file: str
    line: int | None
    service: str | None
    slo: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.service or self.slo:
            parts.append(f"{self.service or '?'}/{self.slo}" if self.slo else f"{self.service}")
        if self.field:
            parts.append(self.field)
        return ": ".join([*parts, self.message])


class SpecError(SloguardError):
    """Definitions failed to load or validate; lists every problem, not just the first."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, str(p)))
        super().__init__("\n".join(str(p) for p in self.problems))


class OutputError(SloguardError):
    """Generated output could not be written."""


class ToolError(SloguardError):
    """An external tool is missing or failed in a way that is not a verdict."""


class DashboardError(SloguardError):
    """A user's dashboard script could not be rendered; names the file and the cause."""


class PublishError(SloguardError):
    """Grafana refused a dashboard, or could not be reached; names the dashboard and why."""


class RequestError(SloguardError, ValueError):
    """A gate request that cannot be answered as asked (e.g. unsafe label matchers): says
    which field and why."""


class UnknownTarget(RequestError):
    """The request names a service or SLO the definitions do not have."""


class SourceError(SloguardError):
    """A metric source gave no usable answer; `reason` is short enough for a status line and
    `kind` a label value for counting (`timeout`, `connection`, `http_status`, ...)."""

    def __init__(self, reason: str, kind: str = "error") -> None:
        self.reason = reason
        self.kind = kind
        super().__init__(reason)


class SourceUnavailable(SourceError):
    """The source is down, slow, failing (5xx) or answering garbage: worth retrying."""


class QueryRejected(SourceError):
    """The source refused the query itself: retrying cannot help, the query is wrong."""


class ClusterError(SloguardError):
    """The Kubernetes API could not be configured or reached, or refused a call."""


class Conflict(ClusterError):
    """Someone else changed the object since it was read (409)."""


class Forbidden(ClusterError):
    """The service account may not make this call (403)."""


class NotFound(ClusterError):
    """The object does not exist (404)."""


class AlertmanagerError(SloguardError):
    """Alertmanager could not be reached or refused what was sent."""


def printable(text: str) -> str:
    """Text from elsewhere (an answer, a file name) as a message or a terminal may show it:
    control characters and line breaks escaped, so it cannot move the cursor or fake a line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
