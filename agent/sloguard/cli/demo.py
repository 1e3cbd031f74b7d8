"""`sloguard demo`: the whole loop on this machine, drawn live."""

from __future__ import annotations

import os
import sys

import click

from sloguard import __version__
from sloguard.cli.common import (
    main,
    reports_errors,
    summary,
)
from sloguard.dashboards.output import dashboard_files
from sloguard.loading import default_paths, load


@main.command()
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Stop after this long (default: run until Ctrl-C).",
)
@click.option(
    "--refresh",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between evaluations and redraws of the table.",
)
@reports_errors
def demo(duration: float | None, refresh: float) -> None:
    """The whole loop on this machine: a throwaway Prometheus with the generated rules, a
    synthetic service whose errors and latency change every few minutes, and the agent,
    drawing the SLO table live (budget, burn rates, status) until Ctrl-C.

    Runs on ./slo-definitions/, or the bundled examples when there is none. Needs Debian's
    prometheus package (`make setup`) or PROMETHEUS_BIN. `sloguard prove` proves the alerts.
    """
    import asyncio
    import signal

    from sloguard.demo.live import live
    from sloguard.evaluation.report import STATUS_STYLE

    paths = default_paths()
    click.echo(f"sloguard {__version__} demo on {', '.join(map(str, paths))}")
    loaded = load(paths)
    click.echo(f"1. validated {summary(loaded)}")
    boards = dashboard_files(loaded.services, loaded.sources)
    click.echo(f"2. built {len(boards)} Grafana dashboards and the rules from the same definitions")
    click.echo("3. starting Prometheus, a synthetic service and the agent")
    interactive = sys.stdout.isatty()
    # A SIGTERM (a service manager, `kill`, a test) stops the demo as Ctrl-C does, so its
    # Prometheus is stopped too rather than left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(
            live(
                loaded,
                os.environ,
                click.echo,
                lambda text, status: click.style(text, **STATUS_STYLE[status]),
                click.clear if interactive else None,
                duration,
                refresh,
            )
        )
    except KeyboardInterrupt:
        click.echo("stopped; everything the demo started is gone")
