"""`sloguard report`: what each service promised and delivered over a month, a week or any
period, what changed and what sloguard did, written as JSON, Markdown, HTML and PDF."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sloguard.cli.common import (
    ExitCode,
    load_definitions,
    main,
    paths_argument,
    prometheus_options,
    prometheus_settings,
    reports_errors,
)

FORMATS = ("json", "markdown", "html", "pdf")


@main.command()
@paths_argument
@prometheus_options
@click.option(
    "--period",
    metavar="YYYY-MM|YYYY-Www",
    default=None,
    help="A calendar month (2026-11) or ISO week (2026-W47), UTC. Default: the last whole "
    "month, unless --from is given.",
)
@click.option(
    "--from",
    "from_text",
    metavar="TIME",
    default=None,
    help="Start of any period instead: a date (2026-11-03) or RFC 3339 time (UTC if no zone).",
)
@click.option(
    "--to", "to_text", metavar="TIME", default=None, help="End of that period (default: now)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory the documents are written to (created; other files in it are left alone).",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(FORMATS),
    multiple=True,
    help="Documents to write; repeat for more. Default: json and html. pdf is printed by "
    "Chromium (`apt-get install chromium`).",
)
@click.option(
    "--gate-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The gate's decision log (`run --gate-log`): rollouts, their verdicts and the change "
    "failure rate.",
)
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The actions' audit log (`run --audit-log`): rollbacks and scaling, with their reasons "
    "and the time to restore.",
)
@reports_errors
def report(
    paths: tuple[Path, ...],
    period: str | None,
    from_text: str | None,
    to_text: str | None,
    out: Path,
    formats: tuple[str, ...],
    gate_log: Path | None,
    audit_log: Path | None,
    **options: Any,
) -> None:
    """Write the SLO and delivery report for a period: one for all services and one per
    service.

    Per SLO: the SLI achieved (bad and all events summed, never an average of ratios), met or
    missed, the error budget spent, each day, the worst day, and every page and ticket that
    fired with what it cost and how long the burn ran before it. Per service: the rollouts the
    gate judged, the actions taken, the change failure rate and the time to restore. An
    appendix lists every query.

    Reads the series the generated rules record (Prometheus must keep the whole period) and
    the ALERTS they fire. Exits 1 when part could not be read (the report says which).
    """
    import asyncio

    from sloguard.reporting import read, write
    from sloguard.reports.build import build
    from sloguard.sources.prometheus import prometheus_source

    loaded = load_definitions(paths)  # bad definitions: every problem, exit 2, before any query
    now = time.time()
    chosen = _period(period, from_text, to_text, now)
    settings = prometheus_settings(options)
    for log_file in (gate_log, audit_log):
        if log_file is not None and not log_file.is_file():
            raise click.BadParameter(
                f"{log_file} is not a file", param_hint="--gate-log/--audit-log"
            )

    async def reading() -> Any:
        source, clients = prometheus_source(settings)
        try:
            return await read(source, loaded.services, chosen, now, gate_log, audit_log)
        finally:
            for http in clients:
                await http.aclose()

    click.echo(f"reading {chosen.name} for {loaded.slo_count} SLOs from {settings.url}", err=True)
    inputs = asyncio.run(reading())
    written = write(build(inputs), out, formats or ("json", "html"))
    for path in written:
        click.echo(str(path))
    for problem in inputs.problems:
        click.echo(f"warning: not read: {problem}", err=True)
    if inputs.problems:
        sys.exit(ExitCode.FAILED)


def _period(named: str | None, start: str | None, end: str | None, now: float) -> Any:
    from sloguard.reports.period import before, between, containing
    from sloguard.reports.period import named as calendar_period
    from sloguard.spec.model import Calendar

    if named and (start or end):
        raise click.UsageError("give --period or --from/--to, not both")
    try:
        if named:
            return calendar_period(named)
        if start:
            return between(_time(start, "--from"), _time(end, "--to") if end else _now(now))
        if end:
            raise click.UsageError("--to needs --from")
        return before(containing(now, Calendar.MONTH))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period/--from/--to") from exc


def _time(text: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not a date or RFC 3339 time", param_hint=flag
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)
