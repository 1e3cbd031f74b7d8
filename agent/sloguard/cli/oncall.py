"""Commands for the person on call: `silence` (create, list and expire silences of sloguard's
alerts through Alertmanager's v2 API)."""

from __future__ import annotations

import asyncio
import getpass
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from sloguard.alertmanager import Alertmanager
from sloguard.cli.common import main, reports_errors
from sloguard.errors import AlertmanagerError, printable
from sloguard.routing import silence, silenced_scope
from sloguard.spec.base import NAME_PATTERN
from sloguard.spec.durations import format_seconds, parse_seconds

T = TypeVar("T")
# A silence longer than this is a decision to stop alerting, not a quiet period.
LONGEST_SILENCE_SECONDS = 30 * 86400


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if not 60 <= seconds <= LONGEST_SILENCE_SECONDS:
        raise click.BadParameter("must be between 1m and 30d")
    return seconds


def _name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(NAME_PATTERN.removesuffix("$"), value):
        raise click.BadParameter(f"{value!r} is not a service or SLO name")
    return value


def _silence_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9A-Fa-f-]{1,64}", value):
        raise click.BadParameter(f"{value!r} is not a silence ID (see --list)")
    return value


@main.command(name="silence")
@click.argument("service", required=False, callback=_name)
@click.option("--slo", default=None, callback=_name, help="Only this SLO of SERVICE.")
@click.option(
    "--for",
    "duration",
    default=None,
    callback=_duration,
    metavar="DURATION",
    help="How long, e.g. 30m or 2h (1m to 30d).",
)
@click.option("--reason", default=None, help="Why (Alertmanager's comment): required.")
@click.option(
    "--author",
    default=None,
    help="Who silences (Alertmanager's createdBy) [default: your user name].",
)
@click.option("--list", "listing", is_flag=True, help="List the silences of sloguard's alerts.")
@click.option(
    "--expire",
    "expire_id",
    default=None,
    callback=_silence_id,
    metavar="ID",
    help="Expire this silence now.",
)
@click.option("--json", "as_json", is_flag=True, help="With --list: JSON instead of a table.")
@click.option(
    "--alertmanager",
    "alertmanager_url",
    envvar="SLOGUARD_ALERTMANAGER_URL",
    required=True,
    metavar="URL",
    help="The Alertmanager (env SLOGUARD_ALERTMANAGER_URL), e.g. http://alertmanager:9093.",
)
@reports_errors
def silence_command(
    service: str | None,
    slo: str | None,
    duration: float | None,
    reason: str | None,
    author: str | None,
    listing: bool,
    expire_id: str | None,
    as_json: bool,
    alertmanager_url: str,
) -> None:
    """Silence a service's SLO alerts (page and ticket), or one SLO's, in Alertmanager.

    \b
      sloguard silence checkout --for 30m --reason "failover test"
      sloguard silence checkout --slo latency --for 2h --reason "load test"
      sloguard silence --list [SERVICE]
      sloguard silence --expire ID

    The silence matches `service` (and `slo`) and `sloguard_severity`, so only alerts sloguard
    generated are held back. Exit 2 when Alertmanager cannot be reached or refuses.
    """
    creating = {"--slo": slo, "--for": duration, "--reason": reason, "--author": author}
    given = [flag for flag, value in creating.items() if value is not None]
    if listing + (expire_id is not None) > 1:
        raise click.UsageError("--list and --expire are separate uses")
    if listing or expire_id is not None:
        if given or (expire_id is not None and service):
            use = "--list [SERVICE]" if listing else "--expire ID"
            raise click.UsageError(f"{use} takes none of {', '.join(given) or 'SERVICE'}")
    elif as_json:
        raise click.UsageError("--json goes with --list")
    if listing:
        _list(alertmanager_url, service, as_json)
        return
    if expire_id is not None:
        click.echo(_run(alertmanager_url, lambda am: _expire(am, expire_id)))
        return
    if service is None:
        raise click.UsageError("name the SERVICE to silence (or use --list / --expire ID)")
    if duration is None or not (reason or "").strip():
        raise click.UsageError("a silence needs --for DURATION and --reason TEXT")
    assert reason is not None
    starts = datetime.now(UTC)
    ends = starts + timedelta(seconds=duration)
    document = silence(service, slo, starts, ends, reason.strip(), author or _user())
    silence_id = _run(alertmanager_url, lambda am: am.create_silence(document))
    what = f"{service}/{slo}" if slo else service
    until = ends.strftime("%Y-%m-%d %H:%M:%S UTC")
    click.echo(f"silenced {what} for {format_seconds(int(duration))} (until {until}): {silence_id}")


async def _expire(alertmanager: Alertmanager, silence_id: str) -> str:
    """Expire the silence and read it back: only Alertmanager saying it expired counts."""
    if _state(await alertmanager.silence(silence_id)) == "expired":
        return f"silence {silence_id} had already expired"
    await alertmanager.expire_silence(silence_id)
    if _state(await alertmanager.silence(silence_id)) != "expired":
        raise AlertmanagerError(f"silence {silence_id} is still in force after expiring it")
    return f"expired silence {silence_id}"


def _state(silence: dict[str, Any]) -> str | None:
    status = silence.get("status")
    state = status.get("state") if isinstance(status, dict) else None
    return state if isinstance(state, str) else None


def _list(url: str, service: str | None, as_json: bool) -> None:
    found = _run(url, lambda am: am.silences())
    rows = []
    for item in found:
        scope = silenced_scope(item)
        state = _state(item)
        if scope is None or state not in ("active", "pending"):
            continue
        if service is not None and scope["service"] != service:
            continue
        rows.append({"id": printable(str(item.get("id"))), "state": state, **scope, **_texts(item)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no silences of sloguard's alerts")
        return
    for row in rows:
        what = printable(f"{row['service']}/{row['slo']}" if "slo" in row else row["service"])
        click.echo(
            f"{row['id']}  {row['state']:<7} {what}  until {row['endsAt']}  "
            f"by {row['createdBy']}: {row['comment']}"
        )


def _texts(item: dict[str, Any]) -> dict[str, str]:
    """The silence's own words, one line each, as a terminal may show them (a comment is
    anyone's text)."""
    return {
        key: printable(" ".join(str(item.get(key, "")).split())[:200])
        for key in ("endsAt", "createdBy", "comment")
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "sloguard"


def _run(url: str, call: Callable[[Alertmanager], Awaitable[T]]) -> T:
    async def run() -> T:
        client = Alertmanager(url)
        try:
            return await call(client)
        finally:
            await client.aclose()

    return asyncio.run(run())
