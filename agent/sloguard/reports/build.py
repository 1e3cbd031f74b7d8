"""A report from what was read: every SLO's figures, each service's delivery and compliance,
the whole, and the queries behind it; `for_service` cuts one service's report out of it."""

from __future__ import annotations

from sloguard.reports import words
from sloguard.reports.delivery import delivery
from sloguard.reports.figures import slo_figures
from sloguard.reports.model import (
    Compliance,
    Delivery,
    Inputs,
    Query,
    Report,
    ServiceReport,
    SLOFigures,
    Span,
    Traffic,
)
from sloguard.reports.period import utc

_NO_TRAFFIC = Traffic(bad={}, total={})


def build(inputs: Inputs, title: str = "SLO and delivery report") -> Report:
    """The report over `inputs.period`."""
    period = inputs.period
    services = []
    for service in sorted({o.service for o in inputs.objectives}):
        own = [o for o in inputs.objectives if o.service == service]
        decisions = inputs.decisions
        if decisions is not None:
            decisions = [d for d in decisions if d.service == service]
        actions = inputs.actions
        if actions is not None:
            actions = [a for a in actions if a.service == service]
        found = delivery(
            service,
            own,
            inputs.traffic,
            inputs.until,
            inputs.judged,
            inputs.acted,
            decisions,
            actions,
        )
        changes = [r.first.timestamp() for r in found.rollouts or ()]
        figures = [
            slo_figures(
                o,
                inputs.traffic.get(o.key, _NO_TRAFFIC),
                period,
                inputs.until,
                inputs.window_budget.get(o.key, (None, None)),
                {
                    severity: samples
                    for (owner, slo, severity), samples in inputs.alerts.items()
                    if (owner, slo) == o.key
                },
                changes,
            )
            for o in own
        ]
        services.append(
            ServiceReport(
                service=service,
                team=next((o.team for o in own if o.team), ""),
                slos=figures,
                delivery=found,
                compliance=compliance(figures, found),
            )
        )
    return Report(
        title=title,
        period=Span(
            name=period.name,
            start=utc(period.start),
            end=utc(period.end),
            complete=inputs.until >= period.end,
        ),
        generated=utc(inputs.generated),
        services=services,
        compliance=_overall(services),
        queries=[
            Query(
                purpose=a.purpose,
                query=a.query,
                start=utc(a.start),
                end=utc(a.end),
                step_seconds=a.step,
            )
            for a in inputs.asked
        ],
        problems=list(inputs.problems),
    )


def for_service(report: Report, service: str) -> Report:
    """The part of `report` about one service."""
    kept = [s for s in report.services if s.service == service]
    return report.model_copy(
        update={
            "title": f"{report.title}: {service}",
            "services": kept,
            "compliance": _overall(kept),
        }
    )


def compliance(figures: list[SLOFigures], found: Delivery) -> Compliance:
    """Which objectives held, which did not, and what was done in the period."""
    missed = [f for f in figures if f.status == "missed"]
    done = []
    for f in missed:
        pages = sum(1 for i in f.incidents if i.severity == "page")
        tickets = len(f.incidents) - pages
        fired = f"{words.counted(pages, 'page')} and {words.counted(tickets, 'ticket')} fired"
        done.append(f"{f.service}/{f.slo}: {fired}")
    if missed and found.rollouts is not None:
        failed = sum(1 for r in found.rollouts if r.verdict == "fail")
        back = sum(1 for r in found.rollouts if r.rolled_back)
        done.append(
            f"{missed[0].service}: the gate failed {failed} of "
            f"{words.counted(len(found.rollouts), 'rollout')}; "
            f"{back} rolled back"
        )
    if missed and found.actions is not None:
        enforced = [a for a in found.actions if a.mode == "enforce" and a.result == "done"]
        kinds = sorted({a.action for a in enforced})
        summary = ", ".join(f"{sum(1 for a in enforced if a.action == k)} {k}" for k in kinds)
        done.append(f"{missed[0].service}: actions enforced: {summary or 'none'}")
    return Compliance(
        held=[f"{f.service}/{f.slo}" for f in figures if f.status == "met"],
        missed=[f"{f.service}/{f.slo}" for f in missed],
        no_data=[f"{f.service}/{f.slo}" for f in figures if f.status == "no_data"],
        done=done,
    )


def _overall(services: list[ServiceReport]) -> Compliance:
    return Compliance(
        held=[n for s in services for n in s.compliance.held],
        missed=[n for s in services for n in s.compliance.missed],
        no_data=[n for s in services for n in s.compliance.no_data],
        done=[n for s in services for n in s.compliance.done],
    )
