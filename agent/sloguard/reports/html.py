"""A report as one self-contained HTML page (styles inline, charts as SVG, no script): to open
in a browser, attach to a review, or print to PDF."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from sloguard.charts import Chart, Drawn, draw, percent
from sloguard.reports import words
from sloguard.reports.model import Report, ServiceReport, SLOFigures

_templates = Environment(
    loader=PackageLoader("sloguard.reports", "templates"),
    autoescape=select_autoescape(["html"]),
)
_templates.filters.update(
    ratio=words.ratio,
    share=words.share,
    duration=words.duration,
    when=words.when,
    events=words.events,
)


def html(report: Report) -> str:
    """The whole report as a page."""
    return _templates.get_template("report.html").render(
        report=report,
        headline=words.headline(report),
        verdicts=words.verdicts,
        charts={(s.service, f.slo): slo_charts(f) for s in report.services for f in s.slos},
        timelines={s.service: timeline(s) for s in report.services},
    )


def slo_charts(figures: SLOFigures) -> list[tuple[str, str]]:
    """The budget burning down over the period, and the SLI of each day against the objective."""
    days = [(_midday(d.date), d) for d in figures.days]
    left = [(t, d.budget_left) for t, d in days if d.budget_left is not None]
    sli = [(t, d.sli) for t, d in days if d.sli is not None]
    budget = Chart(
        "Error budget of the period left at the end of each day, "
        f"{words.share(figures.budget.left)} at the end",
        percent,
        levels=[(0.0, "spent")],
        floor=None,
        lines=[Drawn("budget left", left)],
    )
    daily = Chart(
        f"SLI of each day against the objective {words.ratio(figures.objective)}; worst day "
        + ("none" if figures.worst_day is None else figures.worst_day.date),
        percent,
        levels=[(figures.objective, "objective")],
        floor=None,
        lines=[Drawn("SLI", sli)],
    )
    return [
        ("Budget burn-down", draw(budget)),
        ("SLI per day", draw(daily)),
    ]


def timeline(service: ServiceReport) -> str:
    """Bad events per day of every SLO of the service, with its incidents shaded."""
    lines = [
        Drawn(f.slo, [(_midday(d.date), d.bad) for d in f.days if d.total > 0])
        for f in service.slos
    ]
    spans = [(i.start.timestamp(), i.end.timestamp()) for f in service.slos for i in f.incidents]
    count = len(spans)
    chart = Chart(
        f"Bad events per day of each SLO of {service.service}; {count} incidents shaded",
        words.events,
        spans=spans,
        lines=lines,
    )
    return draw(chart)


def _midday(date: str) -> float:
    return datetime.fromisoformat(f"{date}T12:00:00+00:00").timestamp()
