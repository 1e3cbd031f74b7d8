"""The references written from the code: the configuration reference (docs/configuration.md),
from click itself: every command, every flag with its environment variable and default, and
the variables read elsewhere; and the HTTP API's OpenAPI document (docs/openapi.json), from the
app `sloguard run` serves. `make generate` rewrites both; a test fails when either drifts.

Run: python -m sloguard.cli.reference [configuration|openapi]
"""

from __future__ import annotations

import click

# Read outside click, by the parts that use them.
OTHER_VARIABLES = (
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "`run`: where the agent sends its own spans (OTLP/HTTP)",
    ),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "`run`: the same, with `/v1/traces` appended"),
    ("OTEL_SDK_DISABLED", "`run`: `true` turns the agent's own tracing off"),
    ("OTEL_TRACES_EXPORTER", "`run`: `none` turns the agent's own tracing off"),
    ("OTEL_SERVICE_NAME", "`run`: the service name on the agent's spans (default `sloguard`)"),
    ("PROMETHEUS_BIN", "`demo`: the Prometheus server to start (default `prometheus` on PATH)"),
)


def configuration_reference(group: click.Group) -> str:
    """The page's Markdown."""
    lines = [
        "# Configuration reference",
        "",
        "Every flag of every command, the environment variable that sets it, and its default.",
        "Generated from the code by `make generate` (`python -m sloguard.cli.reference`); the",
        "tests fail when this page and the code differ.",
        "",
    ]
    for name in sorted(group.commands):
        command = group.commands[name]
        lines += [f"## `sloguard {name}`", "", _summary(command), ""]
        options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
        if not options:
            continue
        lines += ["| Flag | Environment | Default | Meaning |", "|---|---|---|---|"]
        lines += [_row(option) for option in options]
        lines.append("")
    lines += ["## Other environment variables", "", "| Variable | Meaning |", "|---|---|"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in OTHER_VARIABLES]
    return "\n".join(lines) + "\n"


def _summary(command: click.Command) -> str:
    text = (command.help or "").strip()
    return " ".join(text.split("\n\n")[0].split())


def _row(option: click.Option) -> str:
    flags = " / ".join(f"`{o}`" for o in [*option.opts, *option.secondary_opts])
    envvar = option.envvar
    names = [envvar] if isinstance(envvar, str) else list(envvar or [])
    environment = ", ".join(f"`{n}`" for n in names)
    default = option.default
    unset = default in (None, (), "") or callable(default) or str(default).startswith("Sentinel.")
    shown = "required" if option.required else "" if unset else f"`{default}`"
    if option.is_flag and not option.secondary_opts:
        shown = "off" if not default else "on"
    meaning = " ".join((option.help or "").split()).replace("|", "\\|")
    return f"| {flags} | {environment} | {shown} | {meaning} |"


def api_document() -> str:
    """The OpenAPI document of the agent with every route: the gate guarded by a token, the
    OTLP receiver (as `sloguard run` serves it when a token is configured)."""
    import asyncio
    import json

    from sloguard.assembly import GateAuthSettings, Settings, assemble
    from sloguard.sources.prometheus import PrometheusSettings

    settings = Settings(
        paths=(),
        prometheus=PrometheusSettings(url="http://prometheus:9090"),
        gate_auth=GateAuthSettings(token="a token"),
    )
    assembly = assemble(settings)
    document = assembly.app().openapi()
    asyncio.run(assembly.aclose())
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover - the Makefile's entry point
    import sys

    from sloguard.cli import main

    wanted = sys.argv[1] if len(sys.argv) > 1 else "configuration"
    if wanted not in ("configuration", "openapi"):
        sys.exit("usage: python -m sloguard.cli.reference [configuration|openapi]")
    page = configuration_reference(main) if wanted == "configuration" else api_document()
    click.echo(page, nl=False)
