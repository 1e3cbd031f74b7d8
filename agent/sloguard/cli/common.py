"""What every command shares: the group, error reporting with the documented exit codes,
loading definitions, and the flags that reach Prometheus and trace backends."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from sloguard import __version__
from sloguard.errors import SloguardError, SpecError
from sloguard.loading import Loaded, default_paths, load


class ExitCode(IntEnum):
    """What a command's exit status means, the same for every command."""

    OK = 0
    # The answer is no: stale generated files, a dashboard Grafana rejected, a scenario that did
    # not hold, a canary that fails.
    FAILED = 1
    INVALID = 2  # bad definitions, flags or request: nothing was done
    INCONCLUSIVE = 3  # the gate cannot tell yet (after --wait)


F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Print sloguard errors plainly (no traceback) with the documented exit codes."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo(f"{len(exc.problems)} problem(s) found; nothing was written.", err=True)
            sys.exit(ExitCode.INVALID)
        except SloguardError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.INVALID)

    return wrapper  # type: ignore[return-value]


def environment_by_rule(group: click.Group) -> None:
    """Every flag reads SLOGUARD_<COMMAND>_<FLAG> (its long name, `-` as `_`), as `--help`
    says, beside the shared variable some also read (SLOGUARD_PROMETHEUS_URL): click's own
    rule names the variable after the Python parameter, which for `--format` is `fmt`."""
    for name, command in group.commands.items():
        for param in command.params:
            flags = [o for o in param.opts if o.startswith("--")]
            if not isinstance(param, click.Option) or not flags:
                continue
            ruled = f"SLOGUARD_{name}_{flags[0][2:]}".upper().replace("-", "_")
            shared = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
            param.envvar = [*shared, ruled] if ruled not in shared else shared


paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


def load_definitions(paths: Sequence[Path]) -> Loaded:
    """Definitions at `paths` (the default place when none are named); what was read but left
    out is printed as warnings on standard error."""
    loaded = load(list(paths) or default_paths())
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    return loaded


def summary(loaded: Loaded) -> str:
    files = len({f for fs in loaded.sources.values() for f in fs})
    return f"{files} file(s), {len(loaded.services)} service(s), {loaded.slo_count} SLO(s)"


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "SLOGUARD"}
)
@click.version_option(__version__, prog_name="sloguard")
def main() -> None:
    """sloguard: SLOs as code and an agent that guards them. One set of definitions
    (slo-definitions/) drives Prometheus recording and multi-window, multi-burn-rate alert
    rules, Grafana dashboards, the agent that evaluates every SLO continuously (`evaluate`
    once, `run` as a service, `demo` on this machine), the promotion gate for canary and
    blue-green rollouts (`gate` once; POST /v1/analysis and Flagger's webhooks in `run`), and
    rollback and scaling in the cluster (`run`; `rollout` by hand).

    Definitions may be sloguard's native YAML, Sloth (prometheus/v1 or the
    PrometheusServiceLevel CRD), OpenSLO (v1 or v1alpha) or Pyrra; the format is detected
    per document. PATHS
    default to slo-definitions/. Every flag can also be set as SLOGUARD_<COMMAND>_<FLAG>.

    Exit codes: 0 success, 1 drift, a failed proof, rejected dashboards or a failing canary,
    2 invalid definitions, usage, or a tool or service that could not be used, 3 a canary
    still inconclusive (`gate`).
    """


def decorated(command: F, options: Sequence[Callable[[Any], Any]]) -> F:
    """`command` with `options` applied, the first listed first in `--help`."""
    for option in reversed(options):
        command = option(command)
    return command


def prometheus_options(command: F) -> F:
    """Flags (and SLOGUARD_* variables) that say how to reach Prometheus."""
    options = [
        click.option(
            "--prometheus",
            "prometheus_url",
            required=True,
            multiple=True,
            metavar="URL",
            envvar="SLOGUARD_PROMETHEUS_URL",
            help="Prometheus-compatible API base URL, e.g. http://prometheus:9090 or a Mimir "
            "/prometheus prefix (env SLOGUARD_PROMETHEUS_URL, URLs separated by spaces). "
            "Repeat it for replicas of the same data (an HA pair): the agent reads from one "
            "at a time, fails over to the next when it is unavailable, back to the first a "
            "minute later, and says which it read (sloguard_prometheus_active, /v1/slos).",
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
            help="Seconds a query may take in all (connecting, sending, reading the whole "
            "answer) before it counts as failed.",
        ),
        click.option(
            "--max-answer-size",
            type=click.IntRange(1, 1024),
            default=16,
            show_default=True,
            metavar="MIB",
            help="Largest answer read from Prometheus, in MiB; a larger one is dropped as it "
            "streams in and counts as a failed query (too_large), so a runaway query or a "
            "hostile endpoint cannot bloat the agent (at most this much times "
            "--max-queries-in-flight is read at once).",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 10),
            default=2,
            show_default=True,
            help="Retries of a transient failure (timeout, 5xx, garbage), with backoff.",
        ),
        click.option(
            "--max-queries-in-flight",
            type=click.IntRange(1, 256),
            default=8,
            show_default=True,
            help="Queries the agent runs at once against Prometheus; more wait their turn "
            "(in order), so a burst of gate requests cannot swamp it.",
        ),
    ]
    return decorated(command, options)


def prometheus_settings(options: dict[str, Any]) -> Any:
    from sloguard.sources.prometheus import PrometheusSettings

    headers = {}
    for header in options.pop("headers"):
        name, sep, value = header.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{header!r} is not NAME=VALUE", param_hint="--header")
        headers[name.strip()] = value.strip()
    password_file = options.pop("basic_auth_password_file")
    first, *replicas = options.pop("prometheus_url")
    return PrometheusSettings(
        url=first,
        replicas=tuple(replicas),
        token_file=options.pop("bearer_token_file"),
        username=options.pop("basic_auth_user"),
        password=password_file.read_text(encoding="utf-8").strip() if password_file else None,
        ca_file=options.pop("ca_file"),
        cert_file=options.pop("cert_file"),
        key_file=options.pop("key_file"),
        headers=headers,
        timeout_seconds=options.pop("query_timeout"),
        max_answer_bytes=options.pop("max_answer_size") * 2**20,
        retries=options.pop("retries"),
        max_in_flight=options.pop("max_queries_in_flight"),
    )


def trace_backend_options(command: F) -> F:
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
    return decorated(command, options)


def trace_backend(options: dict[str, Any]) -> Any:
    """The trace backend the flags name (`TraceBackendSettings`), or None."""
    from sloguard.assembly import TraceBackendSettings

    kind, url = options.pop("traces_backend"), options.pop("traces_url")
    if kind is None:
        return None
    if not url:
        raise click.BadParameter("--traces-backend needs --traces-url", param_hint="--traces-url")
    return TraceBackendSettings(kind, url)


def moment(text: str | None) -> float:
    """RFC 3339 (or any ISO 8601) time; a time without a zone is UTC; default now."""
    if not text:
        return time.time()
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an RFC 3339 time", param_hint="--at") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
