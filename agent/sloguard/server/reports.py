"""The current and the previous period's SLO report (`/reports/current`, `/reports/previous`),
as the self-contained HTML `sloguard report` writes, its JSON or its Markdown, whole or one
service's. Read from Prometheus when asked (one at a time, kept for its 5-minute slot)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from sloguard.errors import SourceUnavailable
from sloguard.reporting import Format, PeriodReports, Which
from sloguard.reports.model import Report
from sloguard.server.answers import Problem
from sloguard.server.console import PAGE_HEADERS
from sloguard.server.recent import Filter

MEDIA = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "markdown": "text/markdown; charset=utf-8",
}
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Report,
        "description": "The report (with `format=json` this JSON; else HTML or Markdown).",
        "content": {"text/html": {}, "text/markdown": {}},
    },
    404: {"model": Problem, "description": "No such service in the report."},
    503: {"model": Problem, "description": "Prometheus could not be read in time; retry."},
}


def add_report_routes(app: FastAPI, reports: PeriodReports) -> None:
    @app.get("/reports/{which}", response_class=Response, responses=ANSWERS)
    async def period_report(
        which: Which, format: Format = "html", service: Filter = ""
    ) -> Response:
        """The SLO and delivery report of the current period (so far) or the previous one:
        a month, or a week with `run --report-every week`. Built from Prometheus and the
        agent's logs when asked; the same report is served for up to 5 minutes, then read
        again."""
        try:
            text = await reports.document(which, format, service)
        except SourceUnavailable as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers=PAGE_HEADERS)
        return Response(text, media_type=MEDIA[format], headers=PAGE_HEADERS)
