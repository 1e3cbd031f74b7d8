"""Commands that judge once from Prometheus: `evaluate` (every SLO) and `gate` (a canary)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from sloguard.cli.common import (
    ExitCode,
    load_definitions,
    main,
    moment,
    paths_argument,
    prometheus_options,
    prometheus_settings,
    reports_errors,
    trace_backend,
    trace_backend_options,
)
from sloguard.loading import default_paths


@main.command()
@paths_argument
@prometheus_options
@trace_backend_options
@click.option("--at", "at_text", default=None, metavar="RFC3339", help="Evaluate at this time.")
@click.option(
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, or JSON (one object per SLO) for programs.",
)
@reports_errors
def evaluate(paths: tuple[Path, ...], at_text: str | None, output: str, **options: Any) -> None:
    """Evaluate every SLO once: SLI, error budget left, burn rates, status.

    Reads the generated recording rules where Prometheus has them (four queries for every
    2,500 SLOs) and the SLI's own queries where it does not; trace SLIs from --traces-backend
    when one is named. Missing data is reported as no_data with the reason, never as ok.
    """
    import asyncio

    from sloguard.assembly import Settings, assemble
    from sloguard.evaluation.report import STATUS_STYLE, document, table

    load_definitions(paths)  # bad definitions: every problem, exit 2, before any query
    settings = Settings(
        paths=paths or tuple(default_paths()),
        prometheus=prometheus_settings(options),
        traces_backend=trace_backend(options),
    )
    at = moment(at_text)

    async def once() -> list[Any]:
        assembly = assemble(settings, clock=lambda: at)
        try:
            return await assembly.agent.cycle()
        finally:
            await assembly.aclose()

    evaluations = asyncio.run(once())
    if output == "json":
        click.echo(json.dumps([document(e) for e in evaluations], indent=2))
    else:
        click.echo(
            table(evaluations, lambda text, status: click.style(text, **STATUS_STYLE[status]))
        )


@main.command()
@paths_argument
@prometheus_options
@click.option("--service", required=True, help="The service whose SLOs decide.")
@click.option("--slo", "slos", multiple=True, help="Only this SLO (repeatable; default: all).")
@click.option(
    "--canary",
    required=True,
    metavar="SELECTOR",
    help="Label matchers selecting the canary's series, e.g. "
    "'{rollouts_pod_template_hash=\"7f9c\"}'.",
)
@click.option(
    "--baseline",
    default=None,
    metavar="SELECTOR",
    help="Label matchers selecting the stable series, to compare the canary against.",
)
@click.option(
    "--window",
    default=None,
    metavar="DURATION",
    help="Analysis window (default and cap: each SLO's gate.window).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to keep asking while the answer is inconclusive (e.g. too little traffic).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between questions while waiting.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds one decision may take before it is inconclusive.",
)
@reports_errors
def gate(
    paths: tuple[Path, ...],
    service: str,
    slos: tuple[str, ...],
    canary: str,
    baseline: str | None,
    window: str | None,
    wait: float,
    poll: float,
    output: str,
    time_budget: float,
    **options: Any,
) -> None:
    """Judge a canary on its service's SLOs, once: the promotion gate for Argo Rollouts'
    `job` provider, CI, or a person deciding.

    Reads the canary's (and the baseline's) SLI over the analysis window from Prometheus:
    the service's error-budget policy, the canary's burn rate, enough events to tell, and a
    Mann-Whitney comparison with the baseline. Missing data is never a pass.

    Exit codes: 0 pass, 1 fail, 3 inconclusive (still so after --wait), 2 a bad request or
    invalid definitions. Argo's job provider counts any non-zero exit as Failed, so give
    inconclusive time with --wait rather than a short Job.
    """
    import asyncio

    from pydantic import ValidationError

    from sloguard.assembly import Settings, assemble
    from sloguard.gate.model import Verdict
    from sloguard.gate.report import lines, report
    from sloguard.gate.request import AnalysisRequest, problems
    from sloguard.gating import Answer, GateSettings

    load_definitions(paths)  # bad definitions: every problem, exit 2, before any query
    settings = Settings(
        paths=paths or tuple(default_paths()),
        prometheus=prometheus_settings(options),
        gate=GateSettings(time_budget_seconds=time_budget, cache_seconds=0),
    )
    try:
        request = AnalysisRequest(
            service=service, slos=list(slos), canary=canary, baseline=baseline, window=window
        )
    except ValidationError as exc:
        raise click.UsageError(problems(exc, "--")) from None

    async def ask() -> Answer:
        deadline = time.monotonic() + wait
        assembly = assemble(settings)
        assembly.agent.reload()
        try:
            while True:
                answer = await assembly.gatekeeper.analyse(request)
                left = deadline - time.monotonic()
                if answer.decision.verdict is not Verdict.INCONCLUSIVE or left <= 0:
                    return answer
                click.echo(
                    f"inconclusive ({answer.decision.reason}); asking again in "
                    f"{min(poll, left):.0f}s, {left:.0f}s left",
                    err=True,
                )
                await asyncio.sleep(min(poll, left))
        finally:
            await assembly.aclose()

    answer = asyncio.run(ask())
    shown = report(answer.decision, answer.at)
    if output == "json":
        click.echo(shown.model_dump_json(indent=2))
    else:
        click.echo("\n".join(lines(shown)))
    verdict = answer.decision.verdict
    if verdict is not Verdict.PASS:
        sys.exit(ExitCode.FAILED if verdict is Verdict.FAIL else ExitCode.INCONCLUSIVE)
