"""Commands over definitions and what is generated from them: validate, generate, check,
schema, import, publish, prove."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import click
from click.core import ParameterSource

from sloguard import __version__, tools
from sloguard.cli.common import (
    ExitCode,
    F,
    load_definitions,
    main,
    paths_argument,
    reports_errors,
    summary,
)
from sloguard.dashboard_scripts import render_scripts
from sloguard.dashboards.output import OVERVIEW_ORIGIN, configmap_files, dashboard_files
from sloguard.errors import PublishError, SloguardError
from sloguard.files import Commit, Staged, commit_together, drift, write_files
from sloguard.loading import DEFAULT_DEFINITIONS, Loaded, default_paths
from sloguard.proving import ScenarioResult, prove
from sloguard.routing import HEADER, AlertmanagerFormat, alertmanager_file, written_by_sloguard
from sloguard.rules.generation import RuleOptions
from sloguard.rules.output import RuleFormat, render_rule_files
from sloguard.spec.writing import SCHEMA_FILE, native_yaml, schema_text
from sloguard.staging import write_together

DEFAULT_RULES = Path("alert-rules")
DEFAULT_DASHBOARDS = Path("dashboards")
OUTPUTS = ("rules_out", "dashboards_out", "configmaps_out", "alertmanager_out")

rules_out_option = click.option(
    "--rules-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Directory for the rule files [default: {DEFAULT_RULES}/ when no PATHS are given; "
    "with PATHS only the outputs named are written].",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in RuleFormat]),
    default=RuleFormat.PROMETHEUS.value,
    show_default=True,
    help="Plain Prometheus rule files (Prometheus, Thanos Ruler, vmalert), prometheus-operator "
    "PrometheusRule objects, or Mimir/Cortex ruler namespace files (mimirtool rules load).",
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
    default=None,
    help="Directory for the dashboard JSON; its *.dashboard.py scripts are rendered too "
    f"[default: {DEFAULT_DASHBOARDS}/ when no PATHS are given].",
)
configmaps_out_option = click.option(
    "--configmaps-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write one ConfigMap per dashboard here, labelled grafana_dashboard=1 for the "
    "Grafana sidecar.",
)
alertmanager_out_option = click.option(
    "--alertmanager-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the Alertmanager routing of the definitions' `oncall` to this file.",
)
alertmanager_format_option = click.option(
    "--alertmanager-format",
    type=click.Choice([f.value for f in AlertmanagerFormat]),
    default=None,
    help="A fragment to merge into your configuration, a whole configuration whose receivers "
    "you fill in, or prometheus-operator's AlertmanagerConfig object [default: fragment; "
    "operator with --format operator].",
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
            alertmanager_out_option,
            alertmanager_format_option,
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


class Output(NamedTuple):
    """Files to write into a directory; `whole` when they are all it should hold of what
    sloguard generates (so the rest is pruned, or stale), not one file among others."""

    directory: Path
    files: Mapping[str, str]
    what: str
    whole: bool = True

    def owns(self, roots: list[Path]) -> Callable[[str], bool]:
        return _owner(roots, self.directory) if self.whole else lambda _: False


@dataclass(frozen=True)
class Outputs:
    """Where generated files go; every directory is rendered in full before any is written."""

    rules_out: Path | None
    fmt: str
    grafana_url: str
    dashboards_out: Path | None
    configmaps_out: Path | None
    configmap_namespace: str
    configmap_folder: str
    alertmanager_out: Path | None
    alertmanager_format: str

    @classmethod
    def chosen(cls, paths: tuple[Path, ...], **options: Any) -> Outputs:
        """The repository's layout when no definitions are named; with PATHS, only the outputs
        named: generating rules for other definitions must not rewrite (and prune) this
        repository's dashboards."""
        if not paths:
            options["rules_out"] = options["rules_out"] or DEFAULT_RULES
            options["dashboards_out"] = options["dashboards_out"] or DEFAULT_DASHBOARDS
        elif not any(options[key] for key in OUTPUTS):
            raise click.UsageError(
                "with PATHS, name where to write: " + ", ".join(map(_flag, OUTPUTS))
            )
        _one_output_a_directory({k: options[k] for k in OUTPUTS[:3] if options[k] is not None})
        if options["alertmanager_out"] is None and _given("alertmanager_format"):
            raise click.UsageError("--alertmanager-format needs --alertmanager-out FILE")
        if options["alertmanager_format"] is None:
            # Cluster objects for the rules, a cluster object for the routing.
            operator = options["fmt"] == RuleFormat.OPERATOR.value
            chosen = AlertmanagerFormat.OPERATOR if operator else AlertmanagerFormat.FRAGMENT
            options["alertmanager_format"] = chosen.value
        return cls(**options)

    def render(self, loaded: Loaded) -> list[Output]:
        """(directory, files, what) for every output, rules first; the texts are made when
        they are read (run that inside `_bulk_allocation`)."""
        outputs = []
        if self.rules_out is not None:
            rules = render_rule_files(
                loaded.services,
                loaded.sources,
                RuleFormat(self.fmt),
                RuleOptions(grafana_url=self.grafana_url),
            )
            outputs.append(Output(self.rules_out, rules, "rule file(s)"))
        if self.dashboards_out is not None or self.configmaps_out is not None:
            outputs += self._dashboards(loaded)
        if self.alertmanager_out is not None:
            outputs.append(self._alertmanager(loaded, self.alertmanager_out))
        return outputs

    def _alertmanager(self, loaded: Loaded, target: Path) -> Output:
        """The routing file: never a rule file (promtool would refuse the rule directory) and
        never over a file sloguard did not write."""
        if self.rules_out is not None and target.resolve().parent == self.rules_out.resolve():
            raise click.UsageError(
                f"--alertmanager-out {target}: not in --rules-out {self.rules_out}/, whose files "
                "Prometheus loads as rules"
            )
        fmt = AlertmanagerFormat(self.alertmanager_format)
        text = alertmanager_file(loaded.services, loaded.sources, fmt)
        # Through a symlink to the file it names: replacing the link would leave that stale.
        target = target.resolve() if target.is_symlink() else target
        return Output(target.parent, {target.name: text}, "Alertmanager configuration", False)

    def _dashboards(self, loaded: Loaded) -> list[Output]:
        outputs = []
        dashboards = dashboard_files(loaded.services, loaded.sources)
        if self.dashboards_out is not None:
            scripts = render_scripts(self.dashboards_out)
            clash = sorted(set(dashboards) & set(scripts))
            if clash:
                raise SloguardError(
                    f"{self.dashboards_out}: a *.dashboard.py renders to {', '.join(clash)}, "
                    "which sloguard generates itself: rename the script"
                )
            dashboards = dashboards.with_texts(scripts)
            outputs.append(Output(self.dashboards_out, dashboards, "dashboard(s)"))
        if self.configmaps_out is not None:
            configmaps = configmap_files(
                dashboards, self.configmap_namespace or None, self.configmap_folder or None
            )
            outputs.append(Output(self.configmaps_out, configmaps, "ConfigMap(s)"))
        return outputs


def _one_output_a_directory(directories: dict[str, Path]) -> None:
    """Each output prunes the files it no longer generates: two in one directory would remove
    each other's."""
    seen: dict[Path, str] = {}
    for option, directory in directories.items():
        if (other := seen.setdefault(directory.resolve(), option)) != option:
            raise click.UsageError(
                f"{_flag(other)} and {_flag(option)} name the same directory {directory}: "
                "each output removes there what it no longer generates, so each needs its own"
            )


def _flag(option: str) -> str:
    return f"--{option.replace('_', '-')}"


def _given(name: str) -> bool:
    """Whether the user set this option (a flag or its environment variable), not its default."""
    source = click.get_current_context().get_parameter_source(name)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _foreign(output: Output) -> list[str]:
    """A single file that exists but was not written by sloguard: reported, never shown (a
    user's Alertmanager configuration holds secrets)."""
    if output.whole:
        return []
    path = output.directory / next(iter(output.files))
    if not path.exists() or _ours(path):
        return []
    return [f"{path}: not written by sloguard; not compared (and not shown)"]


def _refuse_foreign(chosen: Outputs) -> None:
    """`--alertmanager-out` replaces only a file sloguard wrote: not a user's configuration (and
    its secrets), a definition, or a `full` configuration whose receivers were filled in."""
    target = chosen.alertmanager_out
    if target is None or not target.exists():
        return
    full = chosen.alertmanager_format == AlertmanagerFormat.FULL.value
    if full or not _ours(target):
        why = "a full configuration is written once, to fill in" if full else "not written by it"
        raise SloguardError(f"{target}: exists and sloguard will not replace it ({why})")


def _ours(path: Path) -> bool:
    """Whether `path` is a file sloguard wrote: a regular file starting with its header (only
    that much is read: the path may be a pipe or a device)."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as stream:
            start = stream.read(len(HEADER.encode()) + 1)
    except OSError:
        return False
    return written_by_sloguard(start.decode("utf-8", "replace"))


def _amtool_problems(loaded: Loaded) -> list[str]:
    """What Alertmanager's amtool finds wrong with the routing (checked as a whole
    configuration, which a fragment cannot be on its own)."""
    with tempfile.TemporaryDirectory(prefix="sloguard-") as temp:
        config = Path(temp) / "alertmanager.yml"
        text = alertmanager_file(loaded.services, loaded.sources, AlertmanagerFormat.FULL)
        config.write_text(text, encoding="utf-8")
        checked = tools.check_alertmanager_config(config)
    return [] if checked.ok else [f"amtool check-config:\n{checked.output}"]


def _said(output: Output) -> str:
    if not output.whole:
        return f"{output.what} in {output.directory / next(iter(output.files))}"
    return f"{len(output.files)} {output.what} in {output.directory}/"


def _owner(roots: list[Path], directory: Path) -> Callable[[str], bool]:
    """Whether a generated file's origin is this run's, so the file may be pruned: definitions
    under the roots read now, a script in the output directory, the overview, or the dashboard
    a ConfigMap holds. Files another set of definitions generated are left alone."""
    bases = [root.resolve() for root in [*roots, directory]]

    def owns(origin: str) -> bool:
        if origin == OVERVIEW_ORIGIN or ("/" not in origin and origin.endswith(".json")):
            return True
        path = Path(origin).resolve()
        return any(path.is_relative_to(base) for base in bases)

    return owns


@main.command()
@paths_argument
@reports_errors
def validate(paths: tuple[Path, ...]) -> None:
    """Check definitions: schema, PromQL syntax, windows, tiers that can never fire, duplicates.

    Every problem names its file, line, SLO and field; all files are checked before exiting 2.
    """
    loaded = load_definitions(paths)
    click.echo(f"valid: {summary(loaded)}")


@main.command()
@paths_argument
@_output_options
@reports_errors
def generate(paths: tuple[Path, ...], **options: Any) -> None:
    """Write rule files and dashboards (atomically; nothing is written if any input is bad).

    One rule file and one dashboard per service, an overview dashboard, and the JSON of every
    *.dashboard.py (grafanalib) script in the dashboards directory.
    """
    started = time.perf_counter()
    chosen = Outputs.chosen(paths, **options)
    loaded = load_definitions(paths)
    outputs = chosen.render(loaded)
    _refuse_foreign(chosen)
    roots = list(paths) or default_paths()

    # Every output staged (side by side, its texts made and written one by one) before any is
    # put in place: one that cannot be made or written leaves all of them as they were.
    def commit(staged: list[Staged]) -> None:
        commit_together(
            [
                Commit(pending, prune=output.whole, owns=output.owns(roots))
                for output, pending in zip(outputs, staged, strict=True)
            ]
        )

    with _bulk_allocation():
        write_together([(output.directory, output.files) for output in outputs], commit)
    written = ", ".join(_said(output) for output in outputs)
    click.echo(
        f"generated {written} from {summary(loaded)} in {time.perf_counter() - started:.2f}s"
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
@reports_errors
def check(paths: tuple[Path, ...], schema_file: Path | None, **options: Any) -> None:
    """Exit 1 when committed rules, dashboards or schema differ from what `generate` would
    write (for CI)."""
    chosen = Outputs.chosen(paths, **options)
    loaded = load_definitions(paths)
    outputs = chosen.render(loaded)
    roots = list(paths) or default_paths()
    with _bulk_allocation():
        reports = [
            report
            for output in outputs
            for report in (
                _foreign(output) or drift(output.directory, output.files, output.owns(roots))
            )
        ]
    schema_file = schema_file or _default_schema_file()
    if schema_file is not None:
        reports += drift(schema_file.parent, {schema_file.name: schema_text()})
    if chosen.alertmanager_out is not None:
        if chosen.alertmanager_format == AlertmanagerFormat.FULL.value:
            raise click.UsageError(
                "check compares the fragment; a full configuration is yours once written"
            )
        reports += _amtool_problems(loaded)
    if reports:
        for report in reports:
            click.echo(report, err=True)
        click.echo(
            "generated files are stale: run `sloguard generate` (and `sloguard schema "
            "--out ...`) and commit the result",
            err=True,
        )
        sys.exit(ExitCode.FAILED)
    counted = ", ".join(_said(output) for output in outputs)
    click.echo(f"up to date: {counted} ({summary(loaded)})")


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
@reports_errors
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
@reports_errors
def import_(paths: tuple[Path, ...], out: Path) -> None:
    """Convert Sloth, OpenSLO (v1, v1alpha) or Pyrra definitions to sloguard's native YAML.

    Everything is validated first; one file per service is written, and nothing when any
    input has a problem. What is read but left out is printed as a warning.
    """
    loaded = load_definitions(paths)
    files = {
        f"{spec.service}.yaml": native_yaml(
            spec, ", ".join(sorted(set(loaded.sources[spec.service])))
        )
        for spec in loaded.services
    }
    write_files(out, files, prune=False)
    click.echo(f"imported {summary(loaded)} into {out}/")


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
@reports_errors
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
        sys.exit(ExitCode.FAILED)
    click.echo(f"published {len(boards)} dashboard(s) to {grafana_url}")


@main.command(name="prove")
@paths_argument
@click.option(
    "--rules-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the generated rules here (default: a temporary directory).",
)
@reports_errors
def prove_command(paths: tuple[Path, ...], rules_out: Path | None) -> None:
    """Generate rules, `promtool check` them, and prove every SLO's alerting with promtool
    scenarios: an outage pages, a 2x burn opens a ticket, 0.5x stays silent."""
    _prove(load_definitions(paths), rules_out)


def _prove(loaded: Loaded, rules_out: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="sloguard-") as temp:
        out = rules_out or Path(temp)
        click.echo(f"2. generating rules into {out}/ and checking them with promtool")

        def report(result: ScenarioResult) -> None:
            mark = "PASS" if result.ok else "FAIL"
            click.echo(f"   {mark} {result.service}/{result.scenario.slo}: {result.scenario.claim}")
            if not result.ok:
                click.echo(result.output, err=True)

        started = time.perf_counter()
        checked, results = prove(loaded, out, RuleOptions(), report)
        click.echo(f"   promtool check rules: {'ok' if checked.ok else 'FAILED'}")
        if not checked.ok:
            click.echo(checked.output, err=True)
            sys.exit(ExitCode.FAILED)
        failed = [v for v in results if not v.ok]
        click.echo(
            f"3. {len(results) - len(failed)} of {len(results)} alerting scenarios held "
            f"(promtool test rules, {time.perf_counter() - started:.1f}s)"
        )
        if failed:
            sys.exit(ExitCode.FAILED)
