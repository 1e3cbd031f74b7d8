"""A report as Markdown: for a pull request, a wiki page or a ticket."""

from __future__ import annotations

from collections.abc import Sequence

from sloguard.reports.model import Report, ServiceReport
from sloguard.reports.words import duration, headline, ratio, share, verdicts, when


def markdown(report: Report) -> str:
    """The whole report: summary, each service, the queries behind it."""
    period = report.period
    out = [
        f"# {_cell(report.title)}: {period.name}",
        "",
        f"From {when(period.start)} to {when(period.end)}"
        + ("" if period.complete else " (not over: figures so far)")
        + f". Generated {when(report.generated)}.",
        "",
        "## Summary",
        "",
        headline(report),
        "",
    ]
    out += _listed("Missed", report.compliance.missed)
    out += _listed("Without data", report.compliance.no_data)
    out += _listed("What was done", report.compliance.done)
    if report.problems:
        out += _listed("Not read (figures missing for these)", report.problems)
    for service in report.services:
        out += _service(service)
    out += ["## Queries", "", "Every figure comes from these queries (times in UTC).", ""]
    out += _table(
        ("Purpose", "Query", "From", "To", "Step"),
        [
            (
                q.purpose,
                f"`{q.query}`",
                when(q.start),
                when(q.end),
                "instant" if q.step_seconds is None else f"{q.step_seconds:.0f}s",
            )
            for q in report.queries
        ],
    )
    return "\n".join(out) + "\n"


def _service(service: ServiceReport) -> list[str]:
    team = f" (team {service.team})" if service.team else ""
    out = [f"## {_cell(service.service)}{team}", "", "### Objectives", ""]
    out += _table(
        ("SLO", "Objective", "Achieved", "Status", "Budget spent", "Window budget", "Worst day"),
        [
            (
                f"{s.slo}: {s.description}" if s.description else s.slo,
                f"{ratio(s.objective)} over {s.window}",
                ratio(s.sli),
                s.status.replace("_", " ") + ("" if s.coverage >= 0.999 else " (partial data)"),
                share(s.budget.consumed),
                f"{share(s.budget.window_start)} → {share(s.budget.window_end)}",
                "—" if s.worst_day is None else f"{s.worst_day.date} ({ratio(s.worst_day.sli)})",
            )
            for s in service.slos
        ],
    )
    incidents = [i for s in service.slos for i in s.incidents]
    out += ["### Incidents", ""]
    if incidents:
        out += _table(
            ("SLO", "Alert", "Start", "End", "Duration", "Budget spent", "Detected after"),
            [
                (
                    i.slo,
                    i.severity,
                    when(i.start),
                    "still firing" if i.ongoing else when(i.end),
                    duration(i.seconds),
                    share(i.budget_spent),
                    duration(i.detect_seconds),
                )
                for i in sorted(incidents, key=lambda i: i.start)
            ],
        )
    else:
        out += ["No page or ticket fired.", ""]
    delivery = service.delivery
    out += ["### Delivery", ""]
    out += [
        f"- Rollouts judged by the gate: {_cell(verdicts(delivery))}",
        f"- Change failure rate: {share(delivery.change_failure_rate)}",
        "- Time to restore after a rollback: "
        + (", ".join(duration(s) for s in delivery.restore_seconds) or "—"),
        "- Gate decisions counted by Prometheus: "
        + (
            ", ".join(f"{c.count:.0f} {_cell(c.labels['verdict'])}" for c in delivery.judged)
            or "none"
        ),
    ]
    for s in service.slos:
        near, rest = s.after_changes, s.elsewhere
        if near.hours:
            out.append(
                f"- {s.slo}: {share(near.budget_spent)} of the budget within an hour after a "
                f"rollout ({near.hours:.0f} h), {share(rest.budget_spent)} in the other "
                f"{rest.hours:.0f} h"
            )
    out.append("")
    if delivery.actions:
        out += _table(
            ("Time", "Action", "Mode", "Result", "Why", "Restored after"),
            [
                (
                    when(a.at),
                    a.action,
                    a.mode,
                    a.result,
                    a.summary or a.trigger,
                    duration(a.restored_seconds),
                )
                for a in delivery.actions
            ],
        )
    return out


def _listed(title: str, items: Sequence[str]) -> list[str]:
    if not items:
        return []
    return [f"{title}:", "", *(f"- {_cell(i)}" for i in items), ""]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _cell(text: str) -> str:
    """Text from definitions and logs, kept from breaking the table or the page."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")
