"""The agent's console: its evaluations as a page people read at a glance (`GET /`), rendered
on the server from the same evaluations `/v1/slos` serves (no second evaluation path), with
Jinja2 templates that ship in the package."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from sloguard.agent import Agent
from sloguard.evaluation.model import Evaluation, Status
from sloguard.evaluation.report import by_budget, rfc3339
from sloguard.spec.durations import format_seconds

# Status by text and shape, never colour alone.
SYMBOLS = {
    Status.NO_DATA: "?",
    Status.EXHAUSTED: "✖",
    Status.CRITICAL: "▲",
    Status.WARNING: "◆",
    Status.OK: "●",
}
LABELS = {
    Status.NO_DATA: "no data",
    Status.EXHAUSTED: "exhausted",
    Status.CRITICAL: "critical",
    Status.WARNING: "warning",
    Status.OK: "ok",
}
_templates = Environment(
    loader=PackageLoader("sloguard.server", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=False,
)


def add_console(app: FastAPI, agent: Agent) -> None:
    """`GET /`: every SLO, worst first."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview() -> HTMLResponse:
        return HTMLResponse(render_overview(agent.current() if agent.cycles else None))


def render_overview(evaluations: list[Evaluation] | None) -> str:
    """The overview page; `None` before the first evaluation."""
    if evaluations is None:
        return _templates.get_template("overview.html").render(evaluated=False, total=0)
    rows = [_row(e) for e in by_budget(evaluations)]
    counts = [(s, sum(1 for e in evaluations if e.status is s)) for s in SYMBOLS]
    return _templates.get_template("overview.html").render(
        evaluated=True,
        total=len(evaluations),
        attention=sum(1 for e in evaluations if e.status is not Status.OK),
        counts=counts,
        rows=rows,
        symbols=SYMBOLS,
        labels=LABELS,
        at=rfc3339(max((e.at for e in evaluations), default=0.0)),
    )


def _row(e: Evaluation) -> dict[str, Any]:
    budget = e.error_budget_remaining
    return {
        "status": e.status,
        "service": e.service,
        "slo": e.slo,
        "group": dict(e.group),
        "objective": f"{e.objective * 100:.10g}",  # a ratio, shown as people write it
        "window": e.window,
        "budget": budget,
        "budget_text": None if budget is None else f"{budget:.1%}",
        "bar": 0 if budget is None else round(min(max(budget, 0.0), 1.0) * 100, 1),
        "burn_rates": [(w, "—" if r is None else f"{r:.2f}x") for w, r in e.burn_rates.items()],
        "exhausted_in": "—"
        if e.exhausted_in_seconds is None
        else format_seconds(max(60, int(e.exhausted_in_seconds) // 60 * 60)),
        "reason": e.reason,
    }
