"""How a report writes its figures for people (the Markdown and the HTML say them alike)."""

from __future__ import annotations

from datetime import datetime

from sloguard.reports.model import Delivery, Report


def ratio(value: float | None) -> str:
    """An SLI or objective, to a hundredth of a basis point (99.9523%)."""
    return "—" if value is None else f"{value * 100:.4f}%"


def counted(number: int, noun: str) -> str:
    """`1 page`, `2 pages`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def share(value: float | None) -> str:
    """A share of a budget."""
    return "—" if value is None else f"{value * 100:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours / 24:.1f} days"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def events(count: float) -> str:
    return f"{count:,.0f}"


def verdicts(delivery: Delivery) -> str:
    """The rollouts by the verdict they ended with: `3 (2 pass, 1 fail)`."""
    if delivery.rollouts is None:
        return "not known (no gate log given)"
    counts: dict[str, int] = {}
    for rollout in delivery.rollouts:
        counts[rollout.verdict] = counts.get(rollout.verdict, 0) + 1
    inner = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    return f"{len(delivery.rollouts)} ({inner})" if inner else "0"


def headline(report: Report) -> str:
    """One sentence: how many objectives held."""
    held, missed = len(report.compliance.held), len(report.compliance.missed)
    none = len(report.compliance.no_data)
    total = held + missed + none
    said = f"{held} of {total} objectives held"
    if missed:
        said += f"; {missed} missed"
    if none:
        said += f"; {none} without data"
    return said + "."
