"""The agent's console: read-only pages people read at a glance, rendered on the server with
Jinja2 templates that ship in the package, from the same data the JSON routes serve (no second
evaluation path): every SLO worst first (`/`, from `/v1/slos`), the gate's recent decisions
(`/gate`, from `/v1/gate/decisions`) and the audit trail (`/actions`, from `/v1/actions`).
Filters are query parameters (plain links and forms that work without script); a small inline
script refreshes the page's live part in place."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from sloguard import yamltext
from sloguard.agent import Agent
from sloguard.burnrate import tiers_for
from sloguard.charts import (
    Chart,
    Drawn,
    comparison,
    draw,
    evidence,
    per_second,
    percent,
    shift,
    sparkline,
    times,
)
from sloguard.errors import UnknownTarget
from sloguard.evaluating import Histories
from sloguard.evaluation.history import RANGES, History, Line, Trends
from sloguard.evaluation.model import Evaluation, Status
from sloguard.evaluation.report import by_budget, rfc3339
from sloguard.gate.model import Verdict
from sloguard.links import dashboard_url
from sloguard.reporting import SETTLE_SECONDS, PeriodReports, Which
from sloguard.server.recent import Filter, Recent, audit_entries, decisions, records
from sloguard.spec.durations import format_seconds
from sloguard.spec.model import SLO, ServiceSLOs, Tier

# How much of the past an SLO's page shows: its window, or the recent past.
Within = Annotated[Literal["window", "1h", "6h", "1d", "7d"], Query(alias="range")]
TREND_WAIT_SECONDS = 1.0  # the overview shows no sparklines rather than wait longer
CHART_POINTS = 120  # drawn per line: about a point every 3 pixels
PAGE_ROWS = 100  # rows of the overview per page: readable, and quick at 1,000 SLOs
GROUP_ROWS = 5  # rows of a per-label SLO's other groups that need a look
TEAM_LABEL = "team"  # the definitions' label the overview filters teams by
REFRESH_SECONDS = 15

# Status by text and shape, never colour alone.
SYMBOLS = {
    Status.NO_DATA: "?",
    Status.EXHAUSTED: "✖",
    Status.CRITICAL: "▲",
    Status.WARNING: "◆",
    Status.OK: "●",
}
LABELS = {
    Status.NO_DATA: "no data",
    Status.EXHAUSTED: "exhausted",
    Status.CRITICAL: "critical",
    Status.WARNING: "warning",
    Status.OK: "ok",
}
VERDICT_SYMBOLS = {Verdict.FAIL: "✖", Verdict.INCONCLUSIVE: "?", Verdict.PASS: "●"}
SHIFT_CAPTION = (
    "how much higher the canary's error ratio is than the baseline's (Mann-Whitney: the shift "
    "and its interval), against the bound the interval must clear to fail the canary."
)
EVIDENCE_CAPTION = (
    "how strongly the counts of errors say the canary fails more often than the baseline (the "
    "likelihood ratio, log scale), against the ratio that fails the canary."
)
_templates = Environment(
    loader=PackageLoader("sloguard.server", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=False,
)
_templates.globals.update(refresh_seconds=REFRESH_SECONDS)


@dataclass(frozen=True)
class Overview:
    """What the overview is asked to show: filters (empty: all) and the page."""

    service: str = ""
    team: str = ""
    status: Status | None = None
    search: str = ""
    page: int = 1
    groups: bool = False  # every group of a per-label SLO a row (else those needing a look)


_templates.filters["when"] = lambda at: when(str(at))
_templates.filters["path"] = lambda part: quote(str(part), safe="")


def add_console(
    app: FastAPI,
    agent: Agent,
    recent: Recent,
    histories: Histories,
    reports: PeriodReports,
    grafana_url: str = "",
) -> None:
    """The console's pages."""

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def report_index() -> HTMLResponse:
        return html_page(render_reports(reports))

    @app.get("/slos/{service}/{slo}", response_class=HTMLResponse, include_in_schema=False)
    async def slo_page(service: str, slo: str, within: Within = "window") -> HTMLResponse:
        spec, found = find_slo(agent.services, service, slo)
        version, seconds = agent.definitions.version, RANGES.get(within)
        seen = await histories.read(spec, found, time.time(), version, seconds)
        evaluations = agent.current() if agent.cycles else []
        now = next((e for e in evaluations if (e.service, e.slo) == (service, slo)), None)
        files = agent.files(service)
        return html_page(render_slo(spec, found, seen, now, files, grafana_url, within))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def overview(
        service: Filter = "", team: Filter = "", status: Status | Literal[""] = "",
        q: Filter = "", page: int = 1, groups: Literal["", "all"] = "",
    ) -> HTMLResponse:  # fmt: skip
        asked = Overview(
            service, team, status or None, q, max(1, min(page, 10_000)), groups == "all"
        )
        evaluations = agent.current() if agent.cycles else None
        services, version = agent.services, agent.definitions.version
        trends = await histories.trends(services, time.time(), version, TREND_WAIT_SECONDS)
        rendered = await asyncio.to_thread(render_overview, evaluations, services, asked, trends)
        return html_page(rendered)

    @app.get("/gate", response_class=HTMLResponse, include_in_schema=False)
    def gate(
        service: Filter = "",
        verdict: Verdict | Literal[""] = "",
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> HTMLResponse:
        found = records(decisions(recent.decisions, service, verdict or None, limit))
        kept, size = len(recent.decisions), recent.decisions.size
        return html_page(render_gate(found, service, verdict or None, kept, size))

    @app.get("/actions", response_class=HTMLResponse, include_in_schema=False)
    def actions(service: Filter = "", action: Filter = "", result: Filter = "") -> HTMLResponse:
        found = [e.model_dump() for e in audit_entries(recent.audit, service, action, result)]
        return html_page(render_actions(found, {"service": service, "action": action,
                                                   "result": result}))  # fmt: skip


# What every page is sent with: never cached (it is live, and may be behind auth), never
# framed, never sniffed as another type, and no address leaked to the links it holds.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def html_page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers=PAGE_HEADERS)


def render_overview(
    evaluations: Sequence[Evaluation] | None,
    services: Sequence[ServiceSLOs] = (),
    asked: Overview = Overview(),
    trends: Trends | None = None,
) -> str:
    """The overview page; `None` before the first evaluation. `trends` draws each SLO's
    budget over its window beside its figure."""
    template = _templates.get_template("overview.html")
    if evaluations is None:
        return template.render(page="slos", evaluated=False, total=0)
    teams = _teams(services)
    windows = {(s.service, slo.name): slo.window_seconds for s in services for slo in s.slos}
    tiers = {(s.service, slo.name): tiers_for(slo) for s in services for slo in s.slos}
    every = [row for e in by_budget(evaluations) for row in (e, *_groups_shown(e, asked.groups))]
    slos = {id(e) for e in evaluations}  # the rows that are SLOs, not other groups of one
    chosen = [e for e in every if _matches(e, asked, teams)]
    pages = max(1, math.ceil(len(chosen) / PAGE_ROWS))
    number = min(asked.page, pages)
    shown = chosen[(number - 1) * PAGE_ROWS : number * PAGE_ROWS]
    filters = {
        "service": asked.service,
        "team": asked.team,
        "status": asked.status.value if asked.status else "",
        "q": asked.search,
        "groups": "all" if asked.groups else "",
    }
    return template.render(
        page="slos",
        evaluated=True,
        total=len(evaluations),
        attention=sum(1 for e in evaluations if e.status is not Status.OK),
        counts=[(s, sum(1 for e in evaluations if e.status is s)) for s in SYMBOLS],
        rows=[
            {
                # A group's own row has no sparkline: the trend is the SLO's worst group's.
                **_row(e, teams, _spark(e, trends or {}, windows) if id(e) in slos else ""),
                "tiers": _tiers(e, tiers.get((e.service, e.slo), [])),
                "other_group": id(e) not in slos,
                "more_groups": len(e.others) - len(_groups_shown(e, asked.groups)),
            }
            for e in shown
        ],
        matching=len(chosen),
        rows_total=len(every),
        first=(number - 1) * PAGE_ROWS + 1,
        number=number,
        pages=pages,
        links={
            "previous": _query(filters, page=number - 1) if number > 1 else "",
            "next": _query(filters, page=number + 1) if number < pages else "",
        },
        status_links={s: _query({**filters, "status": s.value}) for s in SYMBOLS},
        all_groups=_query({**filters, "groups": "all"}),
        filters=filters,
        services=sorted({e.service for e in evaluations}),
        teams=sorted(set(teams.values())),
        statuses=list(SYMBOLS),
        symbols=SYMBOLS,
        labels=LABELS,
        at=rfc3339(max((e.at for e in evaluations), default=0.0)),
    )


def find_slo(services: Sequence[ServiceSLOs], service: str, slo: str) -> tuple[ServiceSLOs, SLO]:
    """The service and SLO of that name; UnknownTarget (404) when there is none."""
    for spec in services:
        if spec.service == service:
            for candidate in spec.slos:
                if candidate.name == slo:
                    return spec, candidate
            raise UnknownTarget(f"slo: {service!r} has no SLO named {slo!r}")
    raise UnknownTarget(f"service: no SLOs are defined for {service!r}")


def render_slo(
    spec: ServiceSLOs,
    slo: SLO,
    seen: History,
    now: Evaluation | None,
    files: Sequence[tuple[str, str]],
    grafana_url: str = "",
    within: str = "window",
) -> str:
    """One SLO's page: where it stands, its charts over the window, its alerts' firing, and its
    definition (with anything secret-looking in it redacted)."""
    series = seen.series
    firing = [(f.start, f.end) for f in seen.firing]
    starts = [(seen.window_start, "window start")] if slo.calendar else []
    shown = (seen.start, seen.end)
    name = f"{spec.service} {slo.name}"
    charts = [
        ("SLI against the objective (5m rate)", draw(Chart(
            f"{name}: the SLI over the window against the objective {percent(seen.objective)}",
            percent, levels=[(seen.objective, "objective")], marks=starts, spans=firing,
            floor=None, lines=_lines(series["sli"], "SLI"), within=shown))),
        ("Error budget left", draw(Chart(
            f"{name}: error budget left over the window{_last(series['budget'], percent)}",
            percent, levels=[(0.0, "spent")], marks=starts, spans=firing,
            lines=_lines(series["budget"], "budget left"), within=shown))),
        ("Burn rate per alert window", draw(Chart(
            f"{name}: burn rate per alert window, the tiers' thresholds drawn",
            times, levels=sorted({(t.factor, t.severity) for t in seen.thresholds}),
            spans=firing, lines=_lines(series["burn_rate"], ""), within=shown))),
        ("Traffic", draw(Chart(
            f"{name}: events per second{_last(series['traffic'], per_second)}",
            per_second, spans=firing, lines=_lines(series["traffic"], "events/s"), within=shown))),
    ]  # fmt: skip
    runbook = slo.alerting.runbook
    dashboard = slo.alerting.dashboard or (
        dashboard_url(spec.service, slo.name, grafana_url) if grafana_url else ""
    )
    return _templates.get_template("slo.html").render(
        page="slos",
        spec=spec,
        slo=slo,
        seen=seen,
        now=_row(now, _teams([spec])) if now is not None else None,
        symbols=SYMBOLS,
        labels=LABELS,
        charts=charts,
        firing=seen.firing,
        description=redacted_text(slo.description),
        definition=yamltext.dump(redacted(slo.model_dump(mode="json", exclude_defaults=True))),
        files=[(name, redacted_yaml(text)) for name, text in files],
        links=[
            (text, redacted_text(url))
            for text, url in (("Runbook", runbook), ("Dashboard", dashboard))
            if url and _safe_link(url)
        ],
        within=within,
        ranges=["window", *RANGES],
        when=lambda at: when(rfc3339(at)),
        duration=lambda seconds: roughly(seconds) if seconds >= 60 else f"{seconds:.0f}s",
    )


# Names whose values are secrets (a field, a query or fragment parameter), as words of the
# name: `api_key`, `X-Auth-Token`, `client_secret`, `pwd`, but not `author` or `monkey`.
SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "key",
        "apikey",
        "auth",
        "authorization",
        "sig",
        "signature",
        "credential",
        "credentials",
        "session",
        "jwt",
        "bearer",
        "cookie",
        "webhook",
        "hook",
    }
)
_USERINFO = re.compile(r"(//)[^/@\s]+@")
_PARAMETER = re.compile(r"([?&#;]([\w.-]+)=)([^&#;\s]*)")


def secret_name(name: str) -> bool:
    return any(word in SECRET_WORDS for word in re.split(r"[^a-z0-9]+", name.lower()) if word)


def redacted(value: Any) -> Any:
    """`value` (a definition as JSON) with credentials in URLs (wherever they appear in text)
    and the values of secret-named fields replaced by `REDACTED`."""
    if isinstance(value, dict):
        return {k: "REDACTED" if secret_name(str(k)) and v not in (None, "", [], {})
                else redacted(v) for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [redacted(v) for v in value]
    if isinstance(value, str):
        return redacted_text(value)
    return value


def redacted_text(text: str) -> str:
    """`text` with the user and password of any URL in it, and the values of secret-named
    query and fragment parameters, replaced by `REDACTED` (the rest left as written)."""
    text = _USERINFO.sub(r"\1REDACTED@", text)
    return _PARAMETER.sub(
        lambda m: m.group(1) + "REDACTED" if secret_name(m.group(2)) else m.group(0), text
    )


_YAML_KEY = re.compile(r"""^(\s*(?:-\s+)?["']?([\w.-]+)["']?\s*:\s*)(\S.*)$""")


def redacted_yaml(text: str) -> str:
    """A definition file as written, with the value of every secret-named key and the
    credentials in any URL replaced by `REDACTED` (line by line: a block scalar under a
    secret-named key is a value too)."""
    lines = []
    hidden = -1  # the indent under which lines belong to a secret-named key's value
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if hidden >= 0 and (indent > hidden or not line.strip()):
            lines.append(" " * indent + "REDACTED" if line.strip() else line)
            continue
        hidden = -1
        found = _YAML_KEY.match(line)
        if found and secret_name(found.group(2)):
            lines.append(found.group(1) + "REDACTED")
            if found.group(3).strip() in ("|", ">", "|-", ">-"):
                hidden = indent
            continue
        if found is None and line.rstrip().endswith(":"):
            key = line.strip().rstrip(":").strip("\"'- ")
            if secret_name(key):
                hidden = indent
        lines.append(redacted_text(line))
    return "\n".join(lines)


def _safe_link(url: str) -> bool:
    """Only web links are made links (a `javascript:` runbook would run on a click)."""
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:
        return False


def _lines(lines: Sequence[Line], name: str) -> list[Drawn]:
    def called(line: Line) -> str:
        words = [f"{k}={v}" for k, v in line.labels.items() if k != "window"]
        return " ".join([line.labels.get("window", name), *words]).strip()

    return [Drawn(called(line), line.points) for line in lines]


def _last(lines: Sequence[Line], value: Callable[[float], str]) -> str:
    ends = [line.points[-1][1] for line in lines if line.points]
    return f", now {', '.join(value(v) for v in ends)}" if ends else ", no data"


def render_gate(
    found: list[dict[str, Any]], service: str, verdict: Verdict | None, kept: int, size: int
) -> str:
    """The gate's recent decisions (records as `/v1/gate/decisions` serves them)."""
    for record in found:
        record["charts"] = {
            slo: comparison(thinned(samples["canary"]), thinned(samples["baseline"]))
            for slo, samples in record["samples"].items()
            if samples["canary"] or samples["baseline"]
        }
        record["comparisons"] = {
            slo["slo"]: drawn
            for slo in record["decision"]["slos"]
            for check in slo["checks"]
            if check["name"] == "comparison" and (drawn := _comparison_drawn(check["values"]))
        }
    return _templates.get_template("gate.html").render(
        page="gate",
        records=found,
        kept=kept,
        size=size,
        filters={"service": service, "verdict": verdict.value if verdict else ""},
        verdicts=list(VERDICT_SYMBOLS),
        symbols=VERDICT_SYMBOLS,
        figure=_figure,
    )


def _comparison_drawn(values: Mapping[str, Any]) -> tuple[str, str] | None:
    """The comparison's figures drawn, with the caption that says what the picture shows."""

    def number(name: str) -> float | None:
        value = values.get(name)
        return float(value) if isinstance(value, int | float) else None

    estimate, bound = number("shift_estimate"), number("tolerance_bound")
    if estimate is not None and bound is not None:
        confidence = number("confidence") or 0.0
        drawn = shift(estimate, number("shift_low"), number("shift_high"), bound, confidence)
        return drawn, SHIFT_CAPTION
    ratio, needed = number("likelihood_ratio"), number("likelihood_ratio_needed")
    errors, expected = number("canary_errors"), number("canary_errors_expected")
    if ratio is None or needed is None or errors is None or expected is None:
        return None
    return evidence(ratio, needed, errors, expected), EVIDENCE_CAPTION


def thinned(points: Sequence[Any], most: int = CHART_POINTS) -> Sequence[Any]:
    """At most `most` of `points`, evenly spread, the last kept: a chart is no wider."""
    if len(points) <= most:
        return points
    every = len(points) / most
    return [points[min(len(points) - 1, round((i + 1) * every) - 1)] for i in range(most)]


def render_reports(reports: PeriodReports) -> str:
    """The reports page: the current and previous period's report, whole and per service."""
    settings = reports.settings
    shown: list[tuple[Which, str]] = [
        ("current", f"This {settings.every} so far"),
        ("previous", f"Last {settings.every}"),
    ]
    periods = [
        {"which": which, "label": label, "name": reports.period(which).name}
        for which, label in shown
    ]
    return _templates.get_template("reports.html").render(
        page="reports",
        periods=periods,
        services=reports.services(),
        every=settings.every.value,
        out=settings.out,
        settle=format_seconds(int(SETTLE_SECONDS)),
    )


def render_actions(found: list[dict[str, Any]], filters: Mapping[str, str]) -> str:
    """The audit trail (entries as `/v1/actions` serves them)."""
    return _templates.get_template("actions.html").render(
        page="actions", entries=found, filters=filters
    )


def _teams(services: Sequence[ServiceSLOs]) -> dict[tuple[str, str], str]:
    """The team label of every SLO (its own, else its service's)."""
    teams = {}
    for spec in services:
        for slo in spec.slos:
            team = slo.labels.get(TEAM_LABEL) or spec.labels.get(TEAM_LABEL)
            if team:
                teams[(spec.service, slo.name)] = team
    return teams


def _matches(e: Evaluation, asked: Overview, teams: Mapping[tuple[str, str], str]) -> bool:
    if asked.service and e.service != asked.service:
        return False
    if asked.team and teams.get((e.service, e.slo)) != asked.team:
        return False
    if asked.status is not None and e.status is not asked.status:
        return False
    if asked.search:
        words = asked.search.casefold().split()
        text = " ".join([e.service, e.slo, e.reason, *e.group.values()]).casefold()
        return all(word in text for word in words)
    return True


def _query(filters: Mapping[str, str], **more: object) -> str:
    wanted = {k: v for k, v in {**filters, **more}.items() if v not in ("", None)}
    return "?" + urlencode(wanted) if wanted else "?"


def _groups_shown(e: Evaluation, every: bool) -> tuple[Evaluation, ...]:
    """The other groups of a per-label SLO that get rows of their own: all of them when asked,
    else those that need a look (not ok), the worst few."""
    if every:
        return e.others
    return tuple(g for g in e.others if g.status is not Status.OK)[:GROUP_ROWS]


def _tiers(e: Evaluation, tiers: Sequence[Tier]) -> list[dict[str, Any]]:
    """The burn rates by alert tier: each tier's factor, its two windows' rates, and whether
    both burn past it (the tier's alert condition, before its event minimum)."""
    found = []
    for tier in tiers:
        rates = [(w, e.burn_rates.get(w)) for w in (tier.long, tier.short)]
        found.append(
            {
                "severity": tier.severity.value,
                "factor": f"{tier.factor:g}x",
                "windows": [(w, "—" if r is None else f"{r:.2f}x") for w, r in rates],
                "burning": all(r is not None and r > tier.factor for _, r in rates),
            }
        )
    return found


def _spark(e: Evaluation, trends: Trends, windows: Mapping[tuple[str, str], int]) -> str:
    key = (e.service, e.slo)
    window = windows.get(key)
    return sparkline(trends.get(key, []), e.at - window, e.at) if window else ""


def _row(e: Evaluation, teams: Mapping[tuple[str, str], str], spark: str = "") -> dict[str, Any]:
    budget = e.error_budget_remaining
    return {
        "status": e.status,
        "service": e.service,
        "slo": e.slo,
        "team": teams.get((e.service, e.slo), ""),
        "group": dict(e.group),
        "objective": f"{e.objective * 100:.10g}",  # a ratio, shown as people write it
        "window": e.window,
        "budget": budget,
        "budget_text": None if budget is None else f"{budget:.1%}",
        "bar": 0 if budget is None else round(min(max(budget, 0.0), 1.0) * 100, 1),
        "sli": "—" if e.sli is None else f"{e.sli * 100:.3f}%",
        "exhausted_in": "—" if e.exhausted_in_seconds is None else roughly(e.exhausted_in_seconds),
        "reason": e.reason,
        "spark": spark,
    }


def roughly(seconds: float) -> str:
    """A time to come as people say it, to two figures at most (`70d`, `1d 6h`, `45m`)."""
    if not math.isfinite(seconds):
        return "—"
    minutes = max(1, round(seconds / 60))
    if minutes < 120:
        return f"{minutes}m"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"{hours}h"
    days, rest = divmod(hours, 24)
    return f"{days}d {rest}h" if days < 10 and rest else f"{round(seconds / 86400)}d"


def when(at: str) -> str:
    """An RFC 3339 time from a record, to the second (`2026-12-03 19:55:03 UTC`)."""
    return at[:19].replace("T", " ") + " UTC"


def _figure(value: object) -> str:
    """A check's value as people read it (four significant digits)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)
