"""Evaluations as JSON documents (for `evaluate --output json` and `GET /v1/slos`) and as a
terminal table (pure: values in, text out)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sloguard.evaluation.model import Evaluation, Origin, Status

STATUS_STYLE: dict[Status, dict[str, Any]] = {
    Status.OK: {"fg": "green"},
    Status.WARNING: {"fg": "yellow"},
    Status.CRITICAL: {"fg": "red", "bold": True},
    Status.EXHAUSTED: {"fg": "red", "bold": True, "reverse": True},
    Status.NO_DATA: {"fg": "magenta"},
}


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


class EvaluationReport(BaseModel):
    """One SLO's latest evaluation (or its worst label group's)."""

    model_config = ConfigDict(frozen=True)

    service: str
    slo: str
    objective: float = Field(description="The objective as a ratio, e.g. 0.999.")
    window: str = Field(description="The SLO window, e.g. `30d` or `month`.")
    at: str = Field(description="When it was evaluated (RFC 3339, UTC).")
    status: Status = Field(description="Anything but `ok` deserves a look; `no_data` is never ok.")
    reason: str = Field(description="Why the status, in words.")
    sli: float | None = Field(description="Good events over all events in the SLO window.")
    error_budget_remaining: float | None = Field(
        description="The budget left: 1 is untouched, 0 spent, below 0 overspent."
    )
    burn_rates: dict[str, float | None] = Field(
        description="Burn rate per alert window (1 spends the budget exactly over the window)."
    )
    events: dict[str, float | None] = Field(description="Events counted per window.")
    page: bool | None = Field(description="Whether a page tier's condition holds.")
    ticket: bool | None = Field(description="Whether a ticket tier's condition holds.")
    exhausted_in_seconds: float | None = Field(
        description="When the budget runs out at the current burn rate."
    )
    group: dict[str, str] = Field(description="The label values of a per-label SLO's group.")
    path: Origin = Field(description="Where the numbers came from.")
    prometheus: str = Field(
        description="The Prometheus-compatible API read (of several `--prometheus` URLs, the "
        "one answering when the evaluation completed)."
    )


def document(evaluation: Evaluation) -> dict[str, Any]:
    """One SLO's evaluation as the JSON the API and the CLI share (`EvaluationReport`)."""
    e = evaluation
    return EvaluationReport(
        service=e.service,
        slo=e.slo,
        objective=e.objective,
        window=e.window,
        at=rfc3339(e.at),
        status=e.status,
        reason=e.reason,
        sli=_finite(e.sli),
        error_budget_remaining=_finite(e.error_budget_remaining),
        burn_rates={w: _finite(r) for w, r in e.burn_rates.items()},
        events={w: _finite(n) for w, n in e.events.items()},
        page=e.page,
        ticket=e.ticket,
        exhausted_in_seconds=_finite(e.exhausted_in_seconds),
        group=dict(e.group),
        path=e.origin,
        prometheus=e.prometheus,
    ).model_dump(mode="json")


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a figure Prometheus gave as one is written as unknown."""
    return value if value is not None and math.isfinite(value) else None


def by_budget(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """Least budget left first; SLOs without data before all (they need a look most)."""
    return sorted(
        evaluations,
        key=lambda e: (
            e.error_budget_remaining is not None and e.status is not Status.NO_DATA,
            e.error_budget_remaining or 0.0,
            e.service,
            e.slo,
        ),
    )


def table(
    evaluations: Sequence[Evaluation], style: Callable[[str, Status], str] = lambda t, _: t
) -> str:
    """An aligned table sorted by budget left; `style` colours the status cell."""
    headers = [
        "SLO",
        "OBJECTIVE",
        "WINDOW",
        "SLI",
        "BUDGET LEFT",
        "BURN (short..long)",
        "STATUS",
        "REASON",
    ]
    rows = []
    for e in by_budget(evaluations):
        group = ",".join(f"{k}={v}" for k, v in e.group.items())
        rows.append(
            (
                [
                    f"{e.service}/{e.slo}" + (f" [{group}]" if group else ""),
                    _percent(e.objective, 3),
                    e.window,
                    _percent(e.sli, 3),
                    _percent(e.error_budget_remaining, 1),
                    " ".join(_burn(v) for v in e.burn_rates.values()),
                    e.status.value,
                    e.reason,
                ],
                e.status,
            )
        )
    widths = (
        [max(len(h), *(len(r[i]) for r, _ in rows)) for i, h in enumerate(headers)]
        if rows
        else [len(h) for h in headers]
    )
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for cells, status in rows:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        padded[6] = style(padded[6], status)
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _percent(value: float | None, decimals: int) -> str:
    return "-" if value is None else f"{value * 100:.{decimals}f}%"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
