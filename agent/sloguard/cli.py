"""The `sloguard` command: the composition root that turns flags and SLOGUARD_* variables into
calls on the pure core and the file, promtool and (later) cluster shells."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from sloguard import __version__
from sloguard.dashboard_scripts import render_scripts
from sloguard.dashboards.output import configmap_files, dashboard_files
from sloguard.errors import PublishError, SloguardError, SpecError
from sloguard.files import drift, write_files
from sloguard.loading import DEFAULT_DEFINITIONS, Loaded, default_paths, load
from sloguard.proving import Verdict, prove
from sloguard.rules.generation import RuleOptions
from sloguard.rules.output import RuleFormat, render_rule_files
from sloguard.spec.writing import SCHEMA_FILE, native_yaml, schema_text

EXIT_DRIFT = 1
EXIT_INVALID = 2

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    """Print sloguard errors plainly (no traceback) with the documented exit codes."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo(f"{len(exc.problems)} problem(s) found; nothing was written.", err=True)
            sys.exit(EXIT_INVALID)
        except SloguardError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INVALID)

    return wrapper  # type: ignore[return-value]


SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
rules_out_option = click.option(
    "--rules-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("alert-rules"),
    show_default=True,
    help="Directory for the rule files.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in RuleFormat]),
    default=RuleFormat.PROMETHEUS.value,
    show_default=True,
    help="Plain Prometheus rule files, or prometheus-operator PrometheusRule objects.",
)
grafana_option = click.option(
    "--grafana-url",
    default="",
    metavar="URL",
    help="Grafana base URL for the dashboard links in alerts (relative links when unset).",
)
dashboards_out_option = click.option(
    "--dashboards-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dashboards"),
    show_default=True,
    help="Directory for the dashboard JSON; its *.dashboard.py scripts are rendered too.",
)
configmaps_out_option = click.option(
    "--configmaps-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write one ConfigMap per dashboard here, labelled grafana_dashboard=1 for the "
    "Grafana sidecar.",
)
configmap_namespace_option = click.option(
    "--configmap-namespace", default="", metavar="NS", help="Namespace of the ConfigMaps."
)
configmap_folder_option = click.option(
    "--configmap-folder",
    default="",
    metavar="FOLDER",
    help="Grafana folder for the sidecar (the grafana_folder annotation).",
)


def _output_options(command: F) -> F:
    for option in reversed(
        [
            rules_out_option,
            format_option,
            grafana_option,
            dashboards_out_option,
            configmaps_out_option,
            configmap_namespace_option,
            configmap_folder_option,
        ]
    ):
        command = option(command)
    return command


@contextlib.contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while rendering: a thousand SLOs allocate millions of
    short-lived, acyclic dicts, which it would otherwise rescan again and again (~0.4 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Outputs:
    """Where generated files go; every directory is rendered in full before any is written."""

    rules_out: Path
    fmt: str
    grafana_url: str
    dashboards_out: Path
    configmaps_out: Path | None
    configmap_namespace: str
    configmap_folder: str

    def render(self, loaded: Loaded) -> list[tuple[Path, dict[str, str], str]]:
        """(directory, files, what) for every output, rules first."""
        with _bulk_allocation():
            return self._render(loaded)

    def _render(self, loaded: Loaded) -> list[tuple[Path, dict[str, str], str]]:
        rules = render_rule_files(
            loaded.services,
            loaded.sources,
            RuleFormat(self.fmt),
            RuleOptions(grafana_url=self.grafana_url),
        )
        dashboards = dashboard_files(loaded.services, loaded.sources)
        scripts = render_scripts(self.dashboards_out)
        clash = sorted(set(dashboards) & set(scripts))
        if clash:
            raise SloguardError(
                f"{self.dashboards_out}: a *.dashboard.py renders to {', '.join(clash)}, which "
                "sloguard generates itself: rename the script"
            )
        dashboards.update(scripts)
        outputs = [
            (self.rules_out, rules, "rule file(s)"),
            (self.dashboards_out, dashboards, "dashboard(s)"),
        ]
        if self.configmaps_out is not None:
            configmaps = configmap_files(
                dashboards, self.configmap_namespace or None, self.configmap_folder or None
            )
            outputs.append((self.configmaps_out, configmaps, "ConfigMap(s)"))
        return outputs


def _load(paths: tuple[Path, ...]) -> Loaded:
    return load(list(paths) or default_paths())


def _summary(loaded: Loaded) -> str:
    files = len({f for fs in loaded.sources.values() for f in fs})
    return f"{files} file(s), {len(loaded.services)} service(s), {loaded.slo_count} SLO(s)"


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "SLOGUARD"}
)
@click.version_option(__version__, prog_name="sloguard")
def main() -> None:
    """sloguard: SLOs as code and an agent that guards them. One set of definitions
    (slo-definitions/) drives Prometheus recording and multi-window, multi-burn-rate alert
    rules, Grafana dashboards, and the agent that evaluates every SLO continuously
    (`evaluate` once, `run` as a service, `demo` on this machine).

    Definitions may be sloguard's native YAML, Sloth (prometheus/v1 or the
    PrometheusServiceLevel CRD) or OpenSLO v1; the format is detected per document. PATHS
    default to slo-definitions/. Every flag can also be set as SLOGUARD_<COMMAND>_<FLAG>.

    Exit codes: 0 success, 1 drift, a failed proof or rejected dashboards, 2 invalid
    definitions, usage, or a tool or service that could not be used.
    """


@main.command()
@paths_argument
@_reports_errors
def validate(paths: tuple[Path, ...]) -> None:
    """Check definitions: schema, PromQL syntax, windows, tiers that can never fire, duplicates.

    Every problem names its file, line, SLO and field; all files are checked before exiting 2.
    """
    loaded = _load(paths)
    click.echo(f"valid: {_summary(loaded)}")


@main.command()
@paths_argument
@_output_options
@_reports_errors
def generate(paths: tuple[Path, ...], **options: Any) -> None:
    """Write rule files and dashboards (atomically; nothing is written if any input is bad).

    One rule file and one dashboard per service, an overview dashboard, and the JSON of every
    *.dashboard.py (grafanalib) script in the dashboards directory.
    """
    started = time.perf_counter()
    loaded = _load(paths)
    outputs = Outputs(**options).render(loaded)
    for directory, files, _ in outputs:
        write_files(directory, files)
    written = ", ".join(
        f"{len(files)} {what} in {directory}/" for directory, files, what in outputs
    )
    click.echo(
        f"generated {written} from {_summary(loaded)} in {time.perf_counter() - started:.2f}s"
    )


@main.command()
@paths_argument
@_output_options
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Also compare this JSON Schema file (default: "
    f"slo-definitions/{SCHEMA_FILE} when it exists).",
)
@_reports_errors
def check(paths: tuple[Path, ...], schema_file: Path | None, **options: Any) -> None:
    """Exit 1 when committed rules, dashboards or schema differ from what `generate` would
    write (for CI)."""
    loaded = _load(paths)
    outputs = Outputs(**options).render(loaded)
    reports = [report for directory, files, _ in outputs for report in drift(directory, files)]
    schema_file = schema_file or _default_schema_file()
    if schema_file is not None:
        reports += drift(schema_file.parent, {schema_file.name: schema_text()})
    if reports:
        for report in reports:
            click.echo(report, err=True)
        click.echo(
            "generated files are stale: run `sloguard generate` (and `sloguard schema "
            "--out ...`) and commit the result",
            err=True,
        )
        sys.exit(EXIT_DRIFT)
    counted = ", ".join(
        f"{len(files)} {what} in {directory}/" for directory, files, what in outputs
    )
    click.echo(f"up to date: {counted} ({_summary(loaded)})")


def _default_schema_file() -> Path | None:
    candidate = DEFAULT_DEFINITIONS / SCHEMA_FILE
    return candidate if candidate.is_file() else None


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema here (atomically) instead of standard output.",
)
@_reports_errors
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the native definition format (point your editor at it)."""
    if out is None:
        click.echo(schema_text(), nl=False)
    else:
        write_files(out.parent, {out.name: schema_text()}, prune=False)
        click.echo(f"wrote {out}")


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the native definitions, one <service>.yaml each.",
)
@_reports_errors
def import_(paths: tuple[Path, ...], out: Path) -> None:
    """Convert Sloth or OpenSLO definitions to sloguard's native YAML (validated first)."""
    loaded = load(list(paths))
    files = {
        f"{spec.service}.yaml": native_yaml(
            spec, ", ".join(sorted(set(loaded.sources[spec.service])))
        )
        for spec in loaded.services
    }
    write_files(out, files, prune=False)
    click.echo(f"imported {_summary(loaded)} into {out}/")


@main.command()
@click.option(
    "--grafana-url",
    required=True,
    metavar="URL",
    envvar="SLOGUARD_GRAFANA_URL",
    help="Grafana base URL, e.g. https://grafana.example.com (env SLOGUARD_GRAFANA_URL).",
)
@click.option(
    "--dashboards",
    "directory",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("dashboards"),
    show_default=True,
    help="Directory of dashboard JSON to upload (what `generate` wrote).",
)
@click.option(
    "--token",
    envvar="SLOGUARD_GRAFANA_TOKEN",
    default=None,
    help="Service account token (env SLOGUARD_GRAFANA_TOKEN; prefer it or --token-file).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Read the token from this file (e.g. a mounted Secret).",
)
@click.option("--folder-uid", default="", metavar="UID", help="Grafana folder to upload into.")
@click.option(
    "--overwrite/--no-overwrite",
    default=True,
    show_default=True,
    help="Replace dashboards changed in Grafana since; without it they are reported (412).",
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@_reports_errors
def publish(
    grafana_url: str,
    directory: Path,
    token: str | None,
    token_file: Path | None,
    folder_uid: str,
    overwrite: bool,
    timeout: float,
) -> None:
    """Create or update every dashboard of a directory in Grafana through its HTTP API.

    Exit 1 when Grafana refused some dashboards (a 412 version conflict or a bad request),
    2 when it refused the credentials or could not be reached.
    """
    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
    if not token:
        raise PublishError("no Grafana token: set SLOGUARD_GRAFANA_TOKEN or pass --token-file")
    boards = sorted(directory.glob("*.json"))
    if not boards:
        raise PublishError(f"{directory}: no dashboard JSON to publish: run `sloguard generate`")
    from sloguard import grafana as api  # httpx only for the command that needs it

    user_agent = f"sloguard/{__version__}"
    with api.client(grafana_url, token, timeout, user_agent) as client:
        grafana = api.Grafana(client, folder_uid=folder_uid or None, overwrite=overwrite)
        rejected = 0
        for path in boards:
            try:
                dashboard = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise PublishError(f"{path}: not dashboard JSON: {exc}") from exc
            result = grafana.upsert(path.name, dashboard)
            if isinstance(result, api.Published):
                click.echo(f"published {path.name} -> {result.url} (version {result.version})")
            else:
                rejected += 1
                click.echo(f"REJECTED {path.name}: {result.status} {result.reason}", err=True)
    if rejected:
        hint = "" if overwrite else " (--overwrite replaces dashboards changed in Grafana)"
        click.echo(f"{rejected} of {len(boards)} dashboard(s) rejected{hint}", err=True)
        sys.exit(EXIT_DRIFT)
    click.echo(f"published {len(boards)} dashboard(s) to {grafana_url}")


def _decorated(command: F, options: Sequence[Callable[[Any], Any]]) -> F:
    """`command` with `options` applied, the first listed first in `--help`."""
    for option in reversed(options):
        command = option(command)
    return command


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
    ]
    return _decorated(command, options)


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
    ]
    return _decorated(command, options)


def _pod_namespace() -> str:
    """The namespace of the pod sloguard runs in, as Kubernetes mounts it; else `default`."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def _prometheus_options(command: F) -> F:
    """Flags (and SLOGUARD_* variables) that say how to reach Prometheus."""
    options = [
        click.option(
            "--prometheus",
            "prometheus_url",
            required=True,
            metavar="URL",
            envvar="SLOGUARD_PROMETHEUS_URL",
            help="Prometheus-compatible API base URL, e.g. http://prometheus:9090 or a Mimir "
            "/prometheus prefix (env SLOGUARD_PROMETHEUS_URL).",
        ),
        click.option(
            "--bearer-token-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Bearer token file, re-read when it changes (a mounted service-account token).",
        ),
        click.option("--basic-auth-user", default=None, help="Basic auth user name."),
        click.option(
            "--basic-auth-password-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="File holding the basic auth password.",
        ),
        click.option(
            "--ca-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="CA bundle to verify Prometheus's certificate.",
        ),
        click.option(
            "--cert-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="Client certificate (mTLS).",
        ),
        click.option(
            "--key-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="Client certificate key (mTLS).",
        ),
        click.option(
            "--header",
            "headers",
            multiple=True,
            metavar="NAME=VALUE",
            help="Extra request header, repeatable (e.g. X-Scope-OrgID=tenant-a for Mimir).",
        ),
        click.option(
            "--query-timeout",
            type=float,
            default=10.0,
            show_default=True,
            help="Seconds per query before it counts as failed.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 10),
            default=2,
            show_default=True,
            help="Retries of a transient failure (timeout, 5xx, garbage), with backoff.",
        ),
    ]
    return _decorated(command, options)


def _prometheus_settings(options: dict[str, Any]) -> Any:
    from sloguard.sources.prometheus import PrometheusSettings

    headers = {}
    for header in options.pop("headers"):
        name, sep, value = header.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{header!r} is not NAME=VALUE", param_hint="--header")
        headers[name.strip()] = value.strip()
    password_file = options.pop("basic_auth_password_file")
    return PrometheusSettings(
        url=options.pop("prometheus_url"),
        token_file=options.pop("bearer_token_file"),
        username=options.pop("basic_auth_user"),
        password=password_file.read_text(encoding="utf-8").strip() if password_file else None,
        ca_file=options.pop("ca_file"),
        cert_file=options.pop("cert_file"),
        key_file=options.pop("key_file"),
        headers=headers,
        timeout_seconds=options.pop("query_timeout"),
        retries=options.pop("retries"),
    )


def _trace_backend_options(command: F) -> F:
    """Flags naming a trace backend that trace SLIs are read from instead of Prometheus."""
    options = [
        click.option(
            "--traces-backend",
            type=click.Choice(["tempo", "jaeger"]),
            envvar="SLOGUARD_TRACES_BACKEND",
            default=None,
            help="Read trace SLIs from Grafana Tempo (TraceQL metrics) or Jaeger (query API) "
            "instead of the agent's span counters in Prometheus (env SLOGUARD_TRACES_BACKEND).",
        ),
        click.option(
            "--traces-url",
            envvar="SLOGUARD_TRACES_URL",
            default=None,
            metavar="URL",
            help="Base URL of the trace backend, e.g. http://tempo:3200 or "
            "http://jaeger-query:16686 (env SLOGUARD_TRACES_URL).",
        ),
    ]
    return _decorated(command, options)


def _trace_backend(options: dict[str, Any], timeout_seconds: float) -> Any:
    """The trace backend the flags name, or None."""
    from sloguard.sources.traces import connect

    kind, url = options.pop("traces_backend"), options.pop("traces_url")
    if kind is None:
        return None
    if not url:
        raise click.BadParameter("--traces-backend needs --traces-url", param_hint="--traces-url")
    return connect(kind, url, timeout_seconds)


def _moment(text: str | None) -> float:
    """RFC 3339 (or any ISO 8601) time; a time without a zone is UTC; default now."""
    if not text:
        return time.time()
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an RFC 3339 time", param_hint="--at") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@main.command()
@paths_argument
@_prometheus_options
@_trace_backend_options
@click.option("--at", "at_text", default=None, metavar="RFC3339", help="Evaluate at this time.")
@click.option(
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, or JSON (one object per SLO) for programs.",
)
@_reports_errors
def evaluate(paths: tuple[Path, ...], at_text: str | None, output: str, **options: Any) -> None:
    """Evaluate every SLO once: SLI, error budget left, burn rates, status.

    Reads the generated recording rules where Prometheus has them (four queries for all SLOs)
    and the SLI's own queries where it does not; trace SLIs from --traces-backend when one is
    named. Missing data is reported as no_data with the reason, never as ok.
    """
    import asyncio

    from sloguard.evaluating import evaluate as run_evaluation
    from sloguard.evaluation.report import STATUS_STYLE, document, table
    from sloguard.sources.prometheus import Prometheus, client

    loaded = _load(paths)
    settings = _prometheus_settings(options)
    backend = _trace_backend(options, settings.timeout_seconds)
    at = _moment(at_text)

    async def once() -> list[Any]:
        async with client(settings) as http:
            try:
                source = Prometheus(http, settings)
                return await run_evaluation(loaded.services, source, at, traces=backend)
            finally:
                if backend is not None:
                    await backend.aclose()

    evaluations = asyncio.run(once())
    if output == "json":
        click.echo(json.dumps([document(e) for e in evaluations], indent=2))
    else:
        click.echo(
            table(evaluations, lambda text, status: click.style(text, **STATUS_STYLE[status]))
        )


EXIT_FAIL, EXIT_INCONCLUSIVE = 1, 3


@main.command()
@paths_argument
@_prometheus_options
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
@_reports_errors
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

    from prometheus_client import CollectorRegistry
    from pydantic import ValidationError

    from sloguard.gate.model import Verdict
    from sloguard.gate.report import lines
    from sloguard.gate.request import AnalysisRequest, problems
    from sloguard.gating import Answer, Gatekeeper, GateSettings
    from sloguard.sources.prometheus import Prometheus, client
    from sloguard.telemetry.metrics import GateMetrics

    loaded = _load(paths)
    settings = _prometheus_settings(options)
    try:
        request = AnalysisRequest(
            service=service, slos=list(slos), canary=canary, baseline=baseline, window=window
        )
    except ValidationError as exc:
        raise click.UsageError(problems(exc, "--")) from None

    async def ask() -> Answer:
        deadline = time.monotonic() + wait
        async with client(settings) as http:
            gatekeeper = Gatekeeper(
                lambda: loaded.services,
                Prometheus(http, settings),
                GateMetrics(CollectorRegistry()),
                GateSettings(time_budget_seconds=time_budget, cache_seconds=0),
            )
            while True:
                answer = await gatekeeper.analyse(request)
                left = deadline - time.monotonic()
                if answer.decision.verdict is not Verdict.INCONCLUSIVE or left <= 0:
                    return answer
                click.echo(
                    f"inconclusive ({answer.decision.reason}); asking again in "
                    f"{min(poll, left):.0f}s, {left:.0f}s left",
                    err=True,
                )
                await asyncio.sleep(min(poll, left))

    answer = asyncio.run(ask())
    if output == "json":
        click.echo(answer.report.model_dump_json(indent=2))
    else:
        click.echo("\n".join(lines(answer.report)))
    verdict = answer.decision.verdict
    if verdict is not Verdict.PASS:
        sys.exit(EXIT_FAIL if verdict is Verdict.FAIL else EXIT_INCONCLUSIVE)


@main.command(name="run")
@paths_argument
@_prometheus_options
@_trace_backend_options
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
@_gate_options
@_action_options
@_reports_errors
def run_agent(
    paths: tuple[Path, ...],
    interval: float,
    listen: str,
    log_level: str,
    gate_token: str | None,
    gate_token_file: Path | None,
    gate_time_budget: float,
    gate_cache: float,
    gate_allow: tuple[str, ...],
    gate_audience: tuple[str, ...],
    kubeconfig: Path | None,
    actions_switch: str,
    leader_election: bool,
    lease: str,
    identity: str | None,
    audit_log: Path | None,
    alertmanager_url: str,
    **options: Any,
) -> None:
    """Run the agent: evaluate every SLO each interval and serve what it sees.

    Serves /metrics (its own Prometheus metrics), /healthz, /readyz (ready once an evaluation
    completed with Prometheus answering), GET /v1/slos (the JSON of `evaluate`) and the
    promotion gate, POST /v1/analysis (see `sloguard gate --help`; OpenAPI at /docs), and
    OTLP/HTTP trace export, POST /v1/traces, counted for the definitions' trace SLIs. Definition
    files are reloaded when they change (a ConfigMap update); a bad reload keeps the last good
    set. Logs are JSON lines on stderr. Traces go over OTLP/HTTP when
    OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set.

    Services whose definitions have an `actions:` block are rolled back or scaled by the
    replica holding the Lease, within the block's limits; see --actions to force dry runs or
    stop every action.
    """
    import asyncio
    import socket
    from contextlib import asynccontextmanager

    import uvicorn
    from prometheus_client import CollectorRegistry

    from sloguard.actions.runtime import ActionRuntime, ActionSettings
    from sloguard.agent import Agent
    from sloguard.gating import Gatekeeper, GateSettings
    from sloguard.kube import TokenReviewer, api_client
    from sloguard.playbook.safety import Switch
    from sloguard.server.app import create_app
    from sloguard.server.otlp import TraceReceiver
    from sloguard.server.security import BearerToken, GateAuth
    from sloguard.sources.prometheus import Prometheus, client
    from sloguard.telemetry import logs, tracing
    from sloguard.telemetry.metrics import AgentMetrics, GateMetrics, TraceMetrics

    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen")
    logs.configure(log_level)
    settings = _prometheus_settings(options)
    registry = CollectorRegistry()
    http = client(settings)
    metrics = AgentMetrics(registry, lambda: agent.evaluations)
    traces = tracing.from_environment(os.environ)
    switch = Switch(actions_switch)
    actions = None
    if switch is not Switch.OFF:
        namespace, _, name = lease.rpartition("/")
        action_settings = ActionSettings(
            switch=switch,
            kubeconfig=kubeconfig,
            identity=identity or socket.gethostname(),
            leader_election=leader_election,
            lease_namespace=namespace or _pod_namespace(),
            lease_name=name,
            audit_log=audit_log,
            alertmanager_url=alertmanager_url,
        )
        actions = ActionRuntime(
            action_settings, Prometheus(http, settings), registry, traces.tracer
        )
    backend = _trace_backend(options, settings.timeout_seconds)
    agent = Agent(
        list(paths) or default_paths(),
        Prometheus(http, settings),
        metrics,
        interval,
        tracer=traces.tracer,
        after_cycle=actions.act if actions is not None else None,
        traces=backend,
    )
    agent.reload()  # invalid definitions at start-up: exit 2 before serving anything

    @asynccontextmanager
    async def lifespan(_: Any) -> Any:
        stop = asyncio.Event()
        loops = [asyncio.create_task(agent.run(stop))]
        if actions is not None:
            loops.append(asyncio.create_task(actions.run(stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*loops)
            await http.aclose()
            if backend is not None:
                await backend.aclose()
            traces.shutdown()

    gatekeeper = Gatekeeper(
        lambda: agent.services,
        Prometheus(http, settings),
        GateMetrics(registry),
        GateSettings(gate_time_budget, gate_cache),
        tracer=traces.tracer,
        query_errors=metrics.query_errors,
    )
    auth = GateAuth(
        BearerToken(gate_token or "", gate_token_file) if gate_token or gate_token_file else None,
        TokenReviewer(api_client(kubeconfig), gate_allow, gate_audience) if gate_allow else None,
    )
    if auth.token is None and auth.reviewer is None:
        logging.getLogger("sloguard.gate").warning(
            "the gate accepts requests without a token: set SLOGUARD_GATE_TOKEN, "
            "--gate-token-file or --gate-allow, or restrict who can reach it (NetworkPolicy)"
        )
    receiver = TraceReceiver(lambda: agent.services, TraceMetrics(registry))
    app = create_app(agent, registry, lifespan, gatekeeper, auth, receiver)
    uvicorn.run(app, host=host or "0.0.0.0", port=int(port), log_config=None, access_log=False)


@main.command(name="rollout")
@click.argument("verb", type=click.Choice(["abort", "retry", "promote"]))
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Kubeconfig for the API (default: the in-cluster service account, else ~/.kube/config).",
)
@_reports_errors
def rollout_command(verb: str, name: str, namespace: str, kubeconfig: Path | None) -> None:
    """Abort, retry or promote an Argo Rollout, as `kubectl argo rollouts` does.

    For operators after sloguard aborted a canary: `retry` starts the update again, `promote`
    moves a paused canary on (clears pause conditions, unpauses). Exit 2 when the Rollout is
    missing or the API refuses.
    """
    from sloguard.kube import Cluster, api_client
    from sloguard.playbook.model import ObjectRef
    from sloguard.playbook.rollback import control_rollout

    cluster = Cluster(api_client(kubeconfig))
    rollout = cluster.read(ObjectRef("Rollout", namespace, name))
    for patch in control_rollout(rollout, verb):
        cluster.patch(patch)
    done = {"abort": "aborted", "retry": "retrying", "promote": "promoted"}[verb]
    click.echo(f"{done} Rollout {namespace}/{name}")


@main.command(name="prove")
@paths_argument
@click.option(
    "--rules-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the generated rules here (default: a temporary directory).",
)
@_reports_errors
def prove_command(paths: tuple[Path, ...], rules_out: Path | None) -> None:
    """Generate rules, `promtool check` them, and prove every SLO's alerting with promtool
    scenarios: an outage pages, a 2x burn opens a ticket, 0.5x stays silent."""
    _prove(_load(paths), rules_out)


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
@_reports_errors
def demo(duration: float | None, refresh: float) -> None:
    """The whole loop on this machine: a throwaway Prometheus with the generated rules, a
    synthetic service whose errors and latency change every few minutes, and the agent,
    drawing the SLO table live (budget, burn rates, status) until Ctrl-C.

    Runs on ./slo-definitions/, or the bundled examples when there is none. Needs Debian's
    prometheus package (`make setup`) or PROMETHEUS_BIN. `sloguard prove` proves the alerts.
    """
    import asyncio

    from sloguard.demo.live import live
    from sloguard.evaluation.report import STATUS_STYLE

    paths = default_paths()
    click.echo(f"sloguard {__version__} demo on {', '.join(map(str, paths))}")
    loaded = load(paths)
    click.echo(f"1. validated {_summary(loaded)}")
    boards = dashboard_files(loaded.services, loaded.sources)
    click.echo(f"2. built {len(boards)} Grafana dashboards and the rules from the same definitions")
    click.echo("3. starting Prometheus, a synthetic service and the agent")
    interactive = sys.stdout.isatty()
    try:
        asyncio.run(
            live(
                loaded,
                paths,
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


def _prove(loaded: Loaded, rules_out: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="sloguard-") as temp:
        out = rules_out or Path(temp)
        click.echo(f"2. generating rules into {out}/ and checking them with promtool")

        def report(verdict: Verdict) -> None:
            mark = "PASS" if verdict.ok else "FAIL"
            click.echo(
                f"   {mark} {verdict.service}/{verdict.scenario.slo}: {verdict.scenario.claim}"
            )
            if not verdict.ok:
                click.echo(verdict.output, err=True)

        started = time.perf_counter()
        checked, verdicts = prove(loaded, out, RuleOptions(), report)
        click.echo(f"   promtool check rules: {'ok' if checked.ok else 'FAILED'}")
        if not checked.ok:
            click.echo(checked.output, err=True)
            sys.exit(EXIT_DRIFT)
        failed = [v for v in verdicts if not v.ok]
        click.echo(
            f"3. {len(verdicts) - len(failed)} of {len(verdicts)} alerting scenarios held "
            f"(promtool test rules, {time.perf_counter() - started:.1f}s)"
        )
        if failed:
            sys.exit(EXIT_DRIFT)
