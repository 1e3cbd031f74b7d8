"""SLOs over their windows, for people to look at (pure): the range queries that read one SLO
from the recorded series (the SLI against the objective, the budget left, the burn rate per
alert window, the traffic, the alerts' firing), and their answers shaped into bounded series
and firing periods, which the SLO's page draws and `GET /v1/slos/{service}/{slo}/history`
serves; and every SLO's budget trend from one query, for the overview's sparklines."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from sloguard import promql
from sloguard.burnrate import tiers_for
from sloguard.evaluation.readings import period_start
from sloguard.spec.model import SLO, ServiceSLOs

POINTS = 240  # per series: enough for a chart as wide as a page
# What a page may ask to see besides the SLO's whole window (the default): the recent past.
RANGES = {"1h": 3600, "6h": 6 * 3600, "1d": 86400, "7d": 7 * 86400}
MAX_SERIES = 12  # per chart: series beyond these (from no query of ours) are counted, not drawn
MAX_PERIODS = 100  # firing periods kept, the newest; the rest counted
MIN_STEP = 15  # seconds: the last hour in 240 points
KINDS = ("sli", "budget", "burn_rate", "traffic", "alerts")
Points = list[tuple[float, float]]
Trends = dict[tuple[str, str], Points]  # (service, SLO) -> budget left over its window
RangeAnswer = Sequence[tuple[Mapping[str, str], Sequence[tuple[float, float]]]]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class Line(_Model):
    """One series: its labels (the group of a per-label SLO, or the burn rate's window)."""

    labels: dict[str, str]
    points: Points = Field(description="(Unix time, value) pairs.")


class Firing(_Model):
    """An alert of the SLO firing from `start` to `end` (the range's end while it still fires)."""

    alertname: str
    severity: str
    group: dict[str, str] = Field(description="The group of a per-label SLO.")
    start: float
    end: float
    ongoing: bool


class Threshold(_Model):
    severity: str
    factor: float
    long: str
    short: str


class History(_Model):
    """One SLO over its window, as the recorded series have it."""

    service: str
    slo: str
    objective: float = Field(description="The objective as a ratio.")
    window: str
    start: float
    end: float
    step: float
    window_start: float = Field(description="Where the window began (a calendar period's start).")
    thresholds: list[Threshold] = Field(description="The alert tiers' burn-rate factors.")
    series: dict[str, list[Line]] = Field(description="`sli`, `budget`, `burn_rate`, `traffic`.")
    firing: list[Firing]
    left_out: dict[str, int] = Field(
        description="Per kind, series (over 12) or firing periods (over 100) not kept."
    )
    missing: dict[str, str] = Field(description="Per kind, why it could not be read.")


def span(slo: SLO, at: float, seconds: float | None = None) -> tuple[float, float, float]:
    """Start, end and step of the range that shows the `seconds` (the SLO's window when None)
    ending at `at`, in whole minutes."""
    seconds = seconds or slo.window_seconds
    step = max(MIN_STEP, math.ceil(seconds / POINTS / MIN_STEP) * MIN_STEP)
    return at - seconds, at, float(step)


def queries(spec: ServiceSLOs, slo: SLO) -> dict[str, str]:
    """The range query of each kind. A per-label SLO is drawn by its worst group at each time
    (the lowest SLI and budget, the highest burn rate) and its whole traffic, so every answer
    is a handful of series however many groups there are. The budget and burn rates are read
    as the SLO was defined at each time: after its labels change, the shared rules record its
    old series on for as long as a window reaches back (the 5m rates and alerts stop)."""
    labels = {"service": spec.service, "slo": slo.name}
    keys = spec.labels_of(slo).keys()
    info = promql.recorded(promql.INFO, labels)
    burn = promql.selector(labels, '__name__=~"slo:burn_rate:.+"')
    alerts = promql.selector(labels, 'alertstate="firing"')
    severity = promql.ALERT_SEVERITY_LABEL
    budget = promql.recorded(promql.BUDGET_REMAINING, labels)
    return {
        "sli": f"min({promql.sli_ratio(labels)})",
        "budget": f"min({promql.as_defined(budget, keys, info)})",
        "burn_rate": f"max by (__name__) ({promql.as_defined(burn, keys, info)})",
        "traffic": f"sum({promql.recorded(promql.TOTAL, labels)})",
        "alerts": f"max by (alertname, {severity}) (ALERTS{alerts})",
    }


def history(
    service: str,
    slo: SLO,
    at: float,
    answers: Mapping[str, RangeAnswer],
    missing: Mapping[str, str],
    seconds: float | None = None,
) -> History:
    """The SLO's history from the answers to `queries` over `span(slo, at, seconds)`."""
    start, end, step = span(slo, at, seconds)
    series: dict[str, list[Line]] = {}
    left_out: dict[str, int] = {}
    grouping = promql.slo_grouping(slo)
    for kind in KINDS[:-1]:
        lines = sorted(
            (
                _line(kind, grouping, labels, _within(points, start, end, step))
                for labels, points in answers.get(kind, ())
            ),
            key=lambda line: sorted(line.labels.items()),
        )
        series[kind] = lines[:MAX_SERIES]
        if len(lines) > MAX_SERIES:
            left_out[kind] = len(lines) - MAX_SERIES
    alerts = [
        (labels, _within(points, start, end, step)) for labels, points in answers.get("alerts", ())
    ]
    periods = firing(alerts, grouping, step, end)
    if len(periods) > MAX_PERIODS:
        left_out["alerts"] = len(periods) - MAX_PERIODS
    calendar = slo.calendar
    return History(
        service=service,
        slo=slo.name,
        objective=float(slo.objective) / 100,
        window=slo.window,
        start=start,
        end=end,
        step=step,
        window_start=period_start(calendar, end) if calendar else start,
        thresholds=[
            Threshold(severity=t.severity.value, factor=t.factor, long=t.long, short=t.short)
            for t in tiers_for(slo)
        ],
        series=series,
        firing=periods[-MAX_PERIODS:],
        left_out=left_out,
        missing=dict(missing),
    )


def firing(answer: RangeAnswer, grouping: Sequence[str], step: float, end: float) -> list[Firing]:
    """Each alert's firing periods: runs of samples no further apart than a step and a half
    (a missed evaluation is not a resolution), oldest first."""
    periods = []
    for labels, points in answer:
        times = sorted(t for t, _ in points)
        run_start = previous = None
        for t in [*times, math.inf]:
            if previous is not None and t - previous > 1.5 * step:
                assert run_start is not None
                ongoing = previous >= end - step
                periods.append(
                    Firing(
                        alertname=labels.get("alertname", ""),
                        severity=labels.get(promql.ALERT_SEVERITY_LABEL)
                        or labels.get("severity", ""),
                        group={k: labels[k] for k in grouping if k in labels},
                        start=run_start,
                        end=end if ongoing else previous,
                        ongoing=ongoing,
                    )
                )
                run_start = None
            if run_start is None:
                run_start = t
            previous = t
    return sorted(periods, key=lambda p: (p.start, p.alertname, p.severity))


def _within(
    points: Sequence[tuple[float, float]], start: float, end: float, step: float
) -> list[tuple[float, float]]:
    """The points inside the range (a step of slack either side): a timestamp that is not a
    time in it (NaN, infinite, years away) is no point of this chart."""
    return [(t, v) for t, v in points if start - step <= t <= end + step]


def _line(
    kind: str,
    grouping: Sequence[str],
    labels: Mapping[str, str],
    points: Sequence[tuple[float, float]],
) -> Line:
    own = {k: labels[k] for k in grouping if k in labels}
    if kind == "burn_rate":
        own["window"] = labels.get("__name__", "").rpartition(":")[2]
    kept = [(t, v) for t, v in points if math.isfinite(v)]
    return Line(labels=own, points=kept[-POINTS - 1 :])


TREND_POINTS = 30  # a sparkline's points over the longest window


def trend_span(services: Sequence[ServiceSLOs], at: float) -> tuple[float, float, float]:
    """Start, end and step of the one range query that reads every SLO's budget trend: the
    longest window, in `TREND_POINTS` steps."""
    longest = max((slo.window_seconds for s in services for slo in s.slos), default=86400)
    step = max(MIN_STEP, math.ceil(longest / TREND_POINTS))
    return at - longest, at, float(step)


def trends(services: Sequence[ServiceSLOs], answer: RangeAnswer, at: float) -> Trends:
    """Each SLO's error budget left over its own window, from one range query of every budget
    over the longest (`trend_span`): a per-label SLO's worst group at each time."""
    windows = {(s.service, slo.name): slo.window_seconds for s in services for slo in s.slos}
    worst: dict[tuple[str, str], dict[float, float]] = {}
    for labels, points in answer:
        key = (labels.get("service", ""), labels.get("slo", ""))
        window = windows.get(key)
        if window is None:
            continue
        kept = worst.setdefault(key, {})
        for t, v in points:
            if at - window <= t <= at and math.isfinite(v):
                kept[t] = min(v, kept.get(t, v))
    return {key: sorted(kept.items())[-TREND_POINTS - 1 :] for key, kept in worst.items() if kept}


def trend_query(services: Sequence[ServiceSLOs]) -> str:
    """Every SLO's budget left, its worst group's, as the SLO was defined at each time (see
    `queries`): one series per SLO."""
    keys = promql.joined_keys(services)
    return f"min by (service, slo) ({promql.as_defined(promql.BUDGET_REMAINING, keys)})"
