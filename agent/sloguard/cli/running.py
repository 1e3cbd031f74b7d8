"""`sloguard run`: the agent as a service, with the gate, the OTLP receiver and the actions."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sloguard.cli.common import (
    F,
    decorated,
    main,
    paths_argument,
    prometheus_options,
    prometheus_settings,
    reports_errors,
    trace_backend,
    trace_backend_options,
)
from sloguard.loading import default_paths

if TYPE_CHECKING:  # imported where used: `sloguard --help` stays quick
    from sloguard.assembly import Assembly, Settings

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _gate_options(command: F) -> F:
    """Flags of the promotion gate's endpoint."""
    options = [
        click.option(
            "--gate-token",
            envvar="SLOGUARD_GATE_TOKEN",
            default=None,
            metavar="TOKEN",
            help="Bearer token callers of the gate must present (env SLOGUARD_GATE_TOKEN; "
            "prefer it or --gate-token-file to a flag other processes can read).",
        ),
        click.option(
            "--gate-token-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="File holding the gate's bearer token (a mounted Secret; re-read on change).",
        ),
        click.option(
            "--gate-allow",
            multiple=True,
            metavar="USER_OR_GROUP",
            help="Also accept Kubernetes tokens (checked with TokenReview) of this user or "
            "group, e.g. system:serviceaccount:argo-rollouts:argo-rollouts (repeatable).",
        ),
        click.option(
            "--gate-audience",
            multiple=True,
            metavar="AUDIENCE",
            help="Audience the reviewed tokens must carry (repeatable; default: the API's).",
        ),
        click.option(
            "--kubeconfig",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="Kubeconfig for the API (default: the in-cluster service account, else "
            "~/.kube/config).",
        ),
        click.option(
            "--gate-time-budget",
            type=click.FloatRange(min=0.1),
            default=5.0,
            show_default=True,
            help="Seconds a decision may take; past it the answer is inconclusive (Argo's "
            "web provider gives up at 10 s).",
        ),
        click.option(
            "--gate-cache",
            type=click.FloatRange(min=0),
            default=5.0,
            show_default=True,
            help="Seconds an identical request's decision is reused (repeated polls).",
        ),
        click.option(
            "--gate-log",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Append one JSON line per gate decision to this file; the console's /gate "
            "starts from its last lines after a restart.",
        ),
    ]
    return decorated(command, options)


def _action_options(command: F) -> F:
    """Flags of the actions (rollback, scaling) the leader takes on the cluster."""
    options = [
        click.option(
            "--actions",
            "actions_switch",
            type=click.Choice(["as-defined", "dry-run", "off"]),
            envvar="SLOGUARD_ACTIONS",
            default="as-defined",
            show_default=True,
            help="Global switch: `as-defined` runs each action in its definition's mode "
            "(dry-run unless `mode: enforce`), `dry-run` makes every action a dry run, `off` "
            "takes none (env SLOGUARD_ACTIONS).",
        ),
        click.option(
            "--leader-election/--no-leader-election",
            default=True,
            show_default=True,
            help="Act only while holding the Lease (several replicas; all serve the gate).",
        ),
        click.option(
            "--lease",
            default="sloguard",
            show_default=True,
            metavar="[NAMESPACE/]NAME",
            help="The coordination.k8s.io Lease (namespace default: the pod's own).",
        ),
        click.option(
            "--identity",
            envvar="SLOGUARD_IDENTITY",
            default=None,
            help="This replica's name in the Lease and Events (default: the host name, which "
            "is the pod name).",
        ),
        click.option(
            "--audit-log",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Append one JSON line per action, dry run, hold or failure to this file.",
        ),
        click.option(
            "--alertmanager",
            "alertmanager_url",
            envvar="SLOGUARD_ALERTMANAGER_URL",
            default="",
            metavar="URL",
            help="Tell on-call of every action: an alert to this Alertmanager "
            "(POST /api/v2/alerts; env SLOGUARD_ALERTMANAGER_URL).",
        ),
        click.option(
            "--console",
            type=click.Choice(["on", "off", "guarded"]),
            default="on",
            show_default=True,
            help="Serve the read-only console (SLOs, gate decisions, actions) at / on the API's "
            "port; `guarded` asks for the gate's token (or a TokenReview identity) on the pages "
            "and the JSON they read, `off` serves the API alone.",
        ),
        click.option(
            "--grafana-url",
            default="",
            metavar="URL",
            help="Mark each rollout's pass or fail and each action on the dashboards: an "
            "annotation in this Grafana (POST /api/annotations, tags sloguard, service, SLO, "
            "verdict or action); failures are counted, never in the way.",
        ),
        click.option(
            "--grafana-token",
            envvar="SLOGUARD_GRAFANA_TOKEN",
            default="",
            metavar="TOKEN",
            help="Service account token for --grafana-url, which may write annotations "
            "(env SLOGUARD_GRAFANA_TOKEN).",
        ),
    ]
    return decorated(command, options)


def _two_malloc_arenas() -> None:
    """At most two glibc malloc arenas (MALLOC_ARENA_MAX=2), set before any thread starts:
    with one per worker thread, the OTLP receiver's large transient buffers kept the RSS
    creeping up under a flood with garbage mixed in (128 -> 330 MB over 5 minutes, against a
    flat 156-200 MB with two; bench/traces.py --garbage). A no-op off glibc."""
    import ctypes
    import ctypes.util

    m_arena_max = -8  # mallopt's parameter number, from glibc's malloc.h
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c")).mallopt(m_arena_max, 2)


def _pod_namespace() -> str:
    """The namespace of the pod sloguard runs in, as Kubernetes mounts it; else `default`."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


@main.command(name="run")
@paths_argument
@prometheus_options
@trace_backend_options
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between evaluations.",
)
@click.option(
    "--listen",
    default="0.0.0.0:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve /metrics, /healthz, /readyz and /v1/slos.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds a request may take to arrive whole (headers and body); the connection "
    "is closed past it, so callers that trickle cannot hold the agent's connections.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Open connections served at once; past it a new one is answered 503 and closed, "
    "keeping file descriptors for reading Prometheus.",
)
@click.option(
    "--report-every",
    type=click.Choice(["month", "week"]),
    default="month",
    show_default=True,
    help="The period of the SLO reports served at /reports (the current and the previous "
    "one) and written with --report-dir; calendar months or ISO weeks, UTC.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Write each finished period's report here (JSON, HTML, Markdown; whole and per "
    "service) 10 minutes after it ends, and the last one at start if it is missing. A part "
    "Prometheus could not give is tried again every 5 minutes for a day.",
)
@_gate_options
@_action_options
@reports_errors
def run_agent(
    paths: tuple[Path, ...],
    listen: str,
    log_level: str,
    request_timeout: float,
    max_connections: int,
    **flags: Any,
) -> None:
    """Run the agent: evaluate every SLO each interval and serve what it sees.

    Serves /metrics (its own Prometheus metrics), /healthz, /readyz (ready once an evaluation
    completed with Prometheus answering), GET /v1/slos (the JSON of `evaluate`) and the
    promotion gate, POST /v1/analysis (see `sloguard gate --help`; OpenAPI at /openapi.json), and
    OTLP/HTTP trace export, POST /v1/traces, counted for the definitions' trace SLIs. Definition
    files are reloaded when they change (a ConfigMap update) and on SIGHUP; a bad reload keeps
    the last good set. On SIGTERM it stops within about 20 s (under Kubernetes' 30 s grace):
    10 s for requests in flight, 10 s for the evaluation and actions to finish. Logs are JSON
    lines on stderr. Traces go over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
    ..._TRACES_ENDPOINT) is set.

    /reports serves the SLO report of the current and the previous month (see
    `sloguard report --help`); --report-dir also writes each one once it is over.

    Services whose definitions have an `actions:` block are rolled back or scaled by the
    replica holding the Lease, within the block's limits; see --actions to force dry runs or
    stop every action.
    """
    import signal

    import uvicorn

    from sloguard.assembly import SHUTDOWN_SECONDS, assemble
    from sloguard.server.connections import ConnectionLimits, guarded
    from sloguard.telemetry import logs

    # Until the loop reloads on SIGHUP, the signal must not kill the process (its default).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _two_malloc_arenas()
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen")
    logs.configure(log_level)
    assembly = assemble(_settings(paths, flags))
    assembly.agent.reload()  # invalid definitions at start-up: exit 2 before serving anything
    if assembly.auth is None:
        logging.getLogger("sloguard.gate").warning(
            "the gate accepts requests without a token: set SLOGUARD_GATE_TOKEN, "
            "--gate-token-file or --gate-allow, or restrict who can reach it (NetworkPolicy)"
        )
    app = assembly.app(_lifespan(assembly))
    # What start-up built (modules, the app, the definitions) lives as long as the process:
    # frozen, the collector's full passes skip it; scanning it stalled the event loop for
    # 150-300 ms every few seconds under load (bench/gate.py, paced: p99 214-297 -> 62-84 ms).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host or "0.0.0.0",
        port=int(port),
        log_config=None,
        access_log=False,
        http=guarded(ConnectionLimits(request_timeout, max_connections)),
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )


def _settings(paths: tuple[Path, ...], flags: dict[str, Any]) -> Settings:
    """The agent's `Settings` from `run`'s flags and the environment."""
    import socket

    from sloguard.actions.runtime import ActionSettings
    from sloguard.assembly import GateAuthSettings, Settings
    from sloguard.gating import GateSettings
    from sloguard.playbook.safety import Switch
    from sloguard.reporting import ReportSettings
    from sloguard.spec.model import Calendar

    switch = Switch(flags.pop("actions_switch"))
    console = flags.pop("console")
    if console == "guarded" and not (
        flags["gate_token"] or flags["gate_token_file"] or flags["gate_allow"]
    ):
        raise click.UsageError(
            "--console guarded needs the gate's auth: --gate-token, --gate-token-file or "
            "--gate-allow"
        )
    namespace, _, name = flags.pop("lease").rpartition("/")
    actions = ActionSettings(
        switch=switch,
        identity=flags.pop("identity") or socket.gethostname(),
        leader_election=flags.pop("leader_election"),
        lease_namespace=namespace or _pod_namespace(),
        lease_name=name,
        audit_log=flags.pop("audit_log"),
    )
    return Settings(
        paths=paths or tuple(default_paths()),
        prometheus=prometheus_settings(flags),
        interval_seconds=flags.pop("interval"),
        traces_backend=trace_backend(flags),
        gate=GateSettings(
            flags.pop("gate_time_budget"), flags.pop("gate_cache"), flags.pop("gate_log")
        ),
        gate_auth=GateAuthSettings(
            flags.pop("gate_token"),
            flags.pop("gate_token_file"),
            flags.pop("gate_allow"),
            flags.pop("gate_audience"),
        ),
        kubeconfig=flags.pop("kubeconfig"),
        actions=None if switch is Switch.OFF else actions,
        alertmanager_url=flags.pop("alertmanager_url"),
        grafana_url=flags.pop("grafana_url"),
        console=console != "off",
        guard_reads=console == "guarded",
        reports=ReportSettings(Calendar(flags.pop("report_every")), flags.pop("report_dir")),
        grafana_token=flags.pop("grafana_token"),
        telemetry=dict(os.environ),
    )


def _lifespan(assembly: Assembly) -> Any:
    """The app's lifespan: the assembly running, and SIGHUP reading the definitions again."""
    import asyncio
    import signal
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_: Any) -> Any:
        rereads: set[asyncio.Task[None]] = set()

        def reread() -> None:
            task = asyncio.create_task(assembly.agent.reread())
            rereads.add(task)
            task.add_done_callback(rereads.discard)

        async with assembly.running():
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reread)
            yield

    return lifespan
