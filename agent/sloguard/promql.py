"""Every PromQL string and recorded metric name sloguard builds, in one place.

Rules, dashboards and live queries all take their expressions from here, so a metric name or a
window list can never drift between them.

Recording scheme (per SLO; all series carry `service` and `slo`):
  slo:sli_errors:rate5m, slo:sli_total:rate5m     the SLI's own queries at the 5m base window
  slo:sli_errors:rate30m, slo:sli_total:rate30m   5m rates averaged over 30m, for the budget
  slo:sli_errors:rate1h, slo:sli_total:rate1h     ... over 1h, for calendar-window SLOs only
  slo:sli_errors:uncounted, slo:sli_total:uncounted  the newest events the 30m averages do
                                                  not count yet, for windows of a day or more
  slo:sli_errors:window_sum, slo:sli_total:window_sum  events over the whole SLO window, from
                                                  the 30m averages, recorded with them every
                                                  10m (errors only where the budget reads them)
  slo:burn_rate:<window>                          error ratio over the window / error budget
  slo:tier_burn_rate:<severity>                   the long window's burn rate of the first of
                                                  a severity's tiers whose two windows burn
                                                  past its factor, else 0 (the alert of that
                                                  severity fires on it)
  slo:error_budget_remaining:ratio                1 - burn rate over the whole SLO window
  slo:sli_events:window                           events over the whole SLO window (the two
                                                  carry the window sums forward every 2m, so
                                                  an instant query always finds them)
  slo:objective:ratio, slo:error_budget:ratio, sloguard_slo_info   metadata

Where each window's error ratio comes from:
- up to 1h, the SLI's own queries at that range (cheap: an hour of raw samples), so a full
  outage trips the fastest tier in the workbook's ~1 minute, with no smoothing lag;
- longer windows, the recorded 5m rates averaged over the window: a ratio of sums, so traffic
  weighs every minute exactly (Sloth's average of 5m ratios drifts under uneven traffic), read
  from one series per SLO instead of hours of raw samples, and scaled by the share of the
  window recorded (`coverage`: what the rules have not recorded yet counts as clean);
- a day or more (the ticket tiers' long windows and the whole SLO window), the 30m averages,
  recorded every 10m, completed by the newest 5m rates: 20x fewer samples than the 5m rates
  alone, and the window still ends now (the averages alone would end 15-25 minutes ago, and
  tickets would trail the arithmetic by as much).
Every division is guarded: no traffic gives 0, never NaN. Every rate of an SLI is read as the
events counted over its window (`counted`), so Prometheus and VictoriaMetrics agree.

Dashboards read only these recorded series (plus `ALERTS`), through the functions at the end.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import promql_parser

from sloguard.burnrate import BASE_WINDOW_SECONDS
from sloguard.spec.base import WINDOW_PLACEHOLDER
from sloguard.spec.counters import quoted
from sloguard.spec.durations import format_seconds, parse_seconds
from sloguard.spec.model import SLI, SLO, Calendar, Latency, ServiceSLOs
from sloguard.spec.promtext import le_pattern, number
from sloguard.spec.traces import Traces

BASE_WINDOW = format_seconds(BASE_WINDOW_SECONDS)  # "5m": every SLI's recorded rate
COARSE_WINDOW = "30m"
COARSE_INTERVAL = "10m"  # how often the coarse group records
HOURLY_WINDOW = "1h"  # the slots calendar budgets are summed from
RAW_WINDOW_MAX_SECONDS = 3600
COARSE_FROM_SECONDS = 86400
# Over how long a recorded series' spacing is measured for a window's coverage (`coverage`).
COVERAGE_DENSITY = "1h"

ERRORS = "slo:sli_errors:rate5m"
TOTAL = "slo:sli_total:rate5m"
ERRORS_COARSE = "slo:sli_errors:rate30m"
TOTAL_COARSE = "slo:sli_total:rate30m"
ERRORS_UNCOUNTED = "slo:sli_errors:uncounted"
TOTAL_UNCOUNTED = "slo:sli_total:uncounted"
ERRORS_WINDOW_SUM = "slo:sli_errors:window_sum"
TOTAL_WINDOW_SUM = "slo:sli_total:window_sum"
ERRORS_HOURLY = "slo:sli_errors:rate1h"
TOTAL_HOURLY = "slo:sli_total:rate1h"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
WINDOW_EVENTS = "slo:sli_events:window"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
INFO = "sloguard_slo_info"
TRACE_EVENTS = "sloguard_trace_events_total"  # spans the agent counted for trace SLIs
# Labels only the info series carries (besides those every series of an SLO carries).
INFO_LABELS = ("objective", "window", "sli", "dashboard_uid")
# Set on every alert to `page` or `ticket`, whatever a definition does with `severity`: what
# Alertmanager routes and inhibits on, and what dashboards and proofs select alerts by.
ALERT_SEVERITY_LABEL = "sloguard_severity"


def burn_rate_metric(window: str) -> str:
    """Recorded burn rate over `window`, e.g. `slo:burn_rate:1h`."""
    return f"slo:burn_rate:{window}"


@dataclass(frozen=True)
class OneOf:
    """A label value that may be any of `values`: the SLOs one rule computes for together."""

    values: tuple[str, ...]


# Labels of a selector: each equal to a value, or to any of several.
Labels = Mapping[str, "str | OneOf"]
_Value = TypeVar("_Value", bound="str | OneOf")


def selector(labels: Labels, *extra: str) -> str:
    """`{a="x",b="y"}`, values quoted as Go's %q would (JSON quoting is equivalent here), a
    `OneOf` as `one_of` writes it (`=` for a single value); `extra` matchers (such as a regex)
    are appended as written."""
    pairs = tuple(sorted(labels.items()))
    if sum(map(len, extra)) > CACHED_MATCHERS_MAX:
        return _render_selector(pairs, extra)
    return _selector(pairs, extra)


def regex_matcher(label: str, pattern: str) -> str:
    """`label=~"pattern"`, quoted as `selector` quotes values."""
    return f"{label}=~{json.dumps(pattern)}"


def _render_selector(labels: tuple[tuple[str, str | OneOf], ...], extra: tuple[str, ...]) -> str:
    matchers = [_matcher(k, v) for k, v in labels]
    return "{" + ",".join([*matchers, *extra]) + "}"


def _matcher(label: str, value: str | OneOf) -> str:
    if isinstance(value, str):  # as it is, beyond ASCII: PromQL refuses JSON's surrogate pairs
        return f"{label}={quoted(value)}"
    if len(value.values) == 1:
        return _matcher(label, value.values[0])
    return one_of(label, value.values)


# Matchers longer than this (the agent's list of a shard's services) are not cached: each set
# of definitions would leave megabytes behind in the cache.
CACHED_MATCHERS_MAX = 1024
_selector = functools.lru_cache(maxsize=4096)(_render_selector)


@functools.lru_cache(maxsize=1024)
def render_window(template: str, window: str) -> str:
    """Put a range into a `{{window}}` query template."""
    return WINDOW_PLACEHOLDER.sub(window, template)


def sli_rates(sli: SLI, window: str = BASE_WINDOW, *, fill: bool = True) -> tuple[str, str]:
    """(errors, total) rate expressions of the SLI over `window`.

    With `fill`, errors fall back to zero wherever total has data, so a never-seen 5xx series
    does not blank the ratio and both recorded series always have the same samples. Without
    it the bad-events query is left bare, for ratios that guard their own division. Rates over
    the window are read as the events counted over it (`counted`), the same on every engine.
    """
    errors, total = _sli_rates(sli, window)
    if fill and _bare_errors(sli):
        errors = f"({errors}) or (0 * ({total}))"
    counted_errors, counted_total = counted(errors, window), counted(total, window)
    if counted_errors is None or counted_total is None:
        return errors, total  # both as written, so that they are read alike
    return counted_errors, counted_total


def recorded_rates(sli: SLI, labels: Labels) -> tuple[str, str]:
    """(errors, total) at the 5m base as the fast group records them, the total first: where
    the bad events need a fallback to zero, it is the total just recorded, matched ignoring
    the labels the rules set (`labels`, which the SLI's result lacks), rather than the SLI's
    total read a second time."""
    errors, total = sli_rates(sli, fill=False)
    if not _bare_errors(sli):
        return errors, total
    return f"({errors}) or {_ignoring(labels)}0 * {_slo_total(labels)}", total


def _ignoring(labels: Labels) -> str:
    return f"ignoring({', '.join(sorted(labels))}) "


def slo_ids(labels: Mapping[str, _Value]) -> dict[str, _Value]:
    """The labels of an SLO's series that name it, `service` and `slo`, out of all of them."""
    return {"service": labels["service"], "slo": labels["slo"]}


def _slo_total(labels: Labels) -> str:
    """The SLO's recorded 5m total, selected by its service and name alone: the rule reading
    it records it too, so it has no series under other labels."""
    return TOTAL + selector(slo_ids(labels))


def _bare_errors(sli: SLI) -> bool:
    """Whether the SLI's bad events are a query of their own, which has no series where none
    has failed yet (a 5xx series is created at the first 5xx) while total has data."""
    return sli.traces is not None or (sli.events is not None and sli.events.errors is not None)


def _sli_rates(sli: SLI, window: str) -> tuple[str, str]:
    """(errors, total) as the SLI's queries give them: bare errors where `_bare_errors`."""
    if sli.events is not None:
        total = render_window(sli.events.total, window)
        if sli.events.errors is not None:
            return render_window(sli.events.errors, window), total
        # Without good events every event is bad: the fill is needed either way.
        good = render_window(sli.events.good or "", window)
        return f"({total}) - (({good}) or (0 * ({total})))", total
    if sli.latency is not None:
        return latency_rates(sli.latency, window)
    if sli.traces is not None:
        return trace_rates(sli.traces, window)
    assert sli.raw is not None
    # A raw ratio has no events: weigh every evaluation alike (one "event" per second). Without
    # traffic it is NaN (0 / 0), which would make every average it enters NaN for as long as
    # the window: only a ratio of 0 or more counts, so a quiet spell is a gap. Above 1 (two
    # counters' rates extrapolated apart in a full outage) it counts as 1: never hidden.
    ratio = f"clamp_max(({render_window(sli.raw.error_ratio, window)}) >= 0, 1)"
    return ratio, f"(0 * ({ratio})) + 1"


def latency_rates(latency: Latency, window: str = BASE_WINDOW) -> tuple[str, str]:
    """Slow requests over all requests from a classic histogram's `_bucket` and `_count`."""
    le = f'le=~"{le_pattern(latency.threshold_seconds)}"'
    total = f"sum(rate({latency.metric}_count{selector(latency.selector)}[{window}]))"
    fast = f"sum(rate({latency.metric}_bucket{selector(latency.selector, le)}[{window}]))"
    return f"{total} - {fast}", total


def trace_rates(traces: Traces, window: str = BASE_WINDOW) -> tuple[str, str]:
    """Bad spans over all spans, from the counters the agent keeps for this trace SLI (the bad
    spans' series absent until a span has been bad)."""
    key = f'sli="{traces.key}"'
    total = f"sum(rate({TRACE_EVENTS}{{{key}}}[{window}]))"
    errors = f'sum(rate({TRACE_EVENTS}{{{key},outcome="bad"}}[{window}]))'
    return errors, total


def window_rate(metric: str, labels: Labels, window: str, *matchers: str) -> str:
    """Average of a recorded rate over `window`: the rate over that window."""
    if window == BASE_WINDOW and metric in (ERRORS, TOTAL):
        return f"{metric}{selector(labels, *matchers)}"
    return f"avg_over_time({metric}{selector(labels, *matchers)}[{window}])"


def reads_raw(window: str) -> bool:
    """Whether a window's ratio is computed from the SLI's own queries (see module docs)."""
    return window != BASE_WINDOW and parse_seconds(window) <= RAW_WINDOW_MAX_SECONDS


def reads_coarse(window: str) -> bool:
    """Whether a window's ratio averages the recorded 30m averages (see module docs)."""
    return parse_seconds(window) >= COARSE_FROM_SECONDS


def smoothing_lag_seconds(window: str) -> float:
    """How much later than the raw counters a window's ratio sees a step change."""
    if parse_seconds(window) <= RAW_WINDOW_MAX_SECONDS:
        return 0.0
    return parse_seconds(BASE_WINDOW) / 2


def error_ratio(sli: SLI, labels: Labels, window: str) -> str:
    """Error ratio over `window` as a ratio of sums; 0 (not NaN) where the recorded 5m total
    has data but the window had no traffic (or no bad-events series yet).

    For a window read from the SLI's own queries, `labels` must be every label the rule sets:
    the SLI's result lacks them, and the fallback is matched ignoring them, so it fills only
    the gaps and never duplicates a series. It reads the 5m total recorded just before rather
    than the SLI's total over the window a second time (a third of the rule's cost).
    """
    fallback = _slo_total(labels)
    if reads_coarse(window):
        errors = _events_to_now(ERRORS_COARSE, ERRORS_UNCOUNTED, labels, window)
        total = _events_to_now(TOTAL_COARSE, TOTAL_UNCOUNTED, labels, window)
        covered = coverage(TOTAL_COARSE, labels, _coarse_span(window), COVERAGE_DENSITY)
    elif reads_raw(window):
        bare_errors, bare_total = sli_rates(sli, window, fill=False)
        errors, total = f"({bare_errors})", f"({bare_total})"
        return _guarded(errors, total, fallback, _ignoring(labels))
    else:
        errors = window_rate(ERRORS, labels, window)
        total = window_rate(TOTAL, labels, window)
        covered = coverage(TOTAL, labels, window, COVERAGE_DENSITY)
    return _guarded(errors, total, fallback, scale=covered)


def coverage(metric: str, labels: Labels, window: str, density: str) -> str:
    """The share of `window` the recorded `metric` covers (at most 1). A window read from
    recorded series holds only what the rules have recorded, so when they were first loaded,
    or the SLO was added or relabelled, the time before counts as clean rather than as the
    average of the minutes recorded (a tier would fire on a burn far shorter than its long
    window).

    1 where the recording began before the window (a sample in the `density` before its
    start); else its samples in the window against as many as its spacing over the last
    `density` gives. The spacing is measured, not assumed, so the rules read the same under
    `promtool test rules`, which evaluates every group at its own interval; intervals, not
    samples, are counted over `density`, so that a range closed at both ends errs towards 1,
    and so does a gap within the last `density` (the window's own average then stands for
    it, as it does for a gap once the recording is older than the window)."""
    sel = selector(labels)
    seconds, per = parse_seconds(window), parse_seconds(density)
    older = f"0 * last_over_time({metric}{sel}[{density}] offset {window}) + 1"
    counted = (
        f"clamp_max(count_over_time({metric}{sel}[{window}]) / "
        f"((count_over_time({metric}{sel}[{density}]) - 1) * {seconds} / {per}), 1)"
    )
    return f"({older} or {counted})"


def _guarded(
    errors: str, total: str, fallback: str, matching: str = "", scale: str | None = None
) -> str:
    """`errors / total` (times `scale`), and 0 where `fallback` has data but `total` is 0 or
    missing (matched as `matching` says, on every label by default)."""
    scaled = f" * {scale}" if scale else ""
    return f"({errors} / ({total} > 0){scaled} or {matching}0 * {fallback})"


def _events_to_now(coarse: str, uncounted: str, labels: Labels, window: str) -> str:
    """Events (a rate times seconds) over a long `window`, up to now: the coarse group's 30m
    averages, each standing for the 10m between recordings, and the newest events they leave
    uncounted (`uncounted_events`). The oldest averages reach back up to 30m before their
    recording, the more so the older: they are read half an average's span short, so the
    window starts, on average, where it should."""
    span = _coarse_span(window)
    return f"({coarse_events(coarse, labels, span)} + {uncounted}{selector(labels)})"


def _coarse_span(window: str) -> str:
    """How far back a long window reads the 30m averages (see `_events_to_now`)."""
    return format_seconds(int(parse_seconds(window)) - int(parse_seconds(COARSE_WINDOW)) // 2)


def coarse_events(coarse: str, labels: Labels, span: str, *matchers: str) -> str:
    """Events (a rate times seconds) over `span` from the coarse group's 30m averages, each
    standing for the 10m between recordings."""
    step = number(parse_seconds(COARSE_INTERVAL))
    return f"sum_over_time({coarse}{selector(labels, *matchers)}[{span}]) * {step}"


def uncounted_events(coarse: str, base: str, labels: Labels) -> str:
    """The newest events the coarse group's 30m averages leave uncounted, from the 5m rates.

    Summed, the averages (recorded every 10m) count every 5m rate once, except the newest: the
    10m before the last recording count a third, the 10m before those two thirds, and the
    time since not at all. The 5m rates make up those thirds (`n` = 3 averages cover each):

        sum over k < n of S(since + k * interval) / n
          = (S(interval) + ... + S((n - 1) * interval) + f * S(n * interval)) / n

    where S(x) is the 5m rates' sum over the last x and f the share of an interval since the
    last recording; within the newest interval the rates are taken as even, so the equality
    is exact for steady rates. Without it a long window would end at the averages' middle,
    15-25 minutes ago, and tickets trail the arithmetic by as much. Recorded once per SLO for
    all its long windows; plain selectors and functions only, so the rules evaluate the same
    whether Prometheus runs them or promtool backfills them. 0 without a recording in the
    last 15m (the averages alone then)."""
    interval = int(parse_seconds(COARSE_INTERVAL))
    covering = int(parse_seconds(COARSE_WINDOW)) // interval
    # The last recording's own time: `timestamp` of a selector (of a function's result it
    # would give the evaluation's), now, or else stepped through the minutes of an interval
    # and a half; the steps fall on whole minutes, so only the first sees a recording made
    # since the last whole minute.
    lookback = format_seconds(interval * 3 // 2)
    recorded = f"timestamp({coarse}{selector(labels)})"
    last = f"({recorded} or last_over_time({recorded}[{lookback}:1m]))"
    since = f"clamp((time() - {last}) / {interval}, 0, 1)"

    def summed(k: int) -> str:
        return f"{window_rate(base, labels, format_seconds(k * interval))} * {k * interval}"

    whole = " + ".join(summed(k) for k in range(1, covering))
    return f"({whole} + {since} * {summed(covering)}) / {covering} or 0 * {base}{selector(labels)}"


def burn_rate(sli: SLI, labels: Labels, window: str, budget: Decimal) -> str:
    """Burn rate over `window`: error ratio divided by the error budget."""
    return f"{error_ratio(sli, labels, window)} / {number(budget)}"


def budget_remaining(labels: Labels, budget: Decimal, calendar: Calendar | None = None) -> str:
    """Share of the error budget left over the SLO window (negative when overspent): a rolling
    window (a day or more, as every SLO's is) from its sums, a calendar window over the current
    month or week so far."""
    if calendar is not None:
        return f"1 - {calendar_error_ratio(labels, calendar)} / {number(budget)}"
    # The window's sums as the coarse group last recorded them: what a month's budget misses of
    # its last minutes is nothing, and reading the window's averages once per recording instead
    # of every evaluation is a fifth of the cost.
    errors, total = _latest(ERRORS_WINDOW_SUM, labels), _latest(TOTAL_WINDOW_SUM, labels)
    # No sums, no budget: a gap in the coarse group is not a month without errors.
    return f"1 - {_guarded(errors, total, total)} / {number(budget)}"


# A step's slot ends at the step, so its period is the one a second earlier: the step at
# Monday 00:00 closes Sunday's last slot.
_SLOT_END = "vector(time() - 1)"
# Weeks start on Monday (UTC); the epoch was a Thursday, four days after one.
_MONDAY_OFFSET, _WEEK_SECONDS = 4 * 86400, 7 * 86400
_WEEK = f"floor(({{t}} - {_MONDAY_OFFSET}) / {_WEEK_SECONDS})"


def _calendar_sums(labels: Labels, calendar: Calendar) -> tuple[str, str]:
    """Sums of the hourly error and event rates since the current calendar month or week began.

    PromQL ranges have a fixed length, so a subquery walks the longest such period in hourly
    steps, keeps the steps that fall in the same period as now, and takes the newest hourly
    average recorded before each step (a range one second short of the step, so a sample on a
    boundary counts once). The coarse group records those averages at a fixed offset every 10m,
    so the picked hours tile time. Hourly steps keep a month to 744 points per subquery, which
    promtool's sample limit allows; the smoothing blurs the first hour of a period.
    """
    # "Now" inside the subquery: the objective sample the same group records just before the
    # budget, pinned by `@ end()` to the rule's evaluation time at every step (a plain
    # selector, so Prometheus reads it once, and it exists whenever the rules run).
    now = f"timestamp({OBJECTIVE}{selector(labels)} @ end())"
    if calendar is Calendar.MONTH:
        longest, same = "31d", f"month({_SLOT_END}) == on() month({now})"
    else:
        longest, same = "7d", f"{_WEEK.format(t=_SLOT_END)} == on() {_WEEK.format(t=now)}"
    slot = format_seconds(int(parse_seconds(HOURLY_WINDOW)) - 1)

    def period_sum(metric: str) -> str:
        step = f"last_over_time({metric}{selector(labels)}[{slot}])"
        return f"sum_over_time(({step} and on() ({same}))[{longest}:{HOURLY_WINDOW}])"

    return period_sum(ERRORS_HOURLY), period_sum(TOTAL_HOURLY)


def calendar_error_ratio(labels: Labels, calendar: Calendar) -> str:
    """Error ratio since the start of the current calendar month or week (UTC)."""
    errors, total = _calendar_sums(labels, calendar)
    return _guarded(errors, total, TOTAL + selector(labels))


def window_events(labels: Labels, window_seconds: int, calendar: Calendar | None) -> str:
    """Events over the whole SLO window (recorded, so the agent reads one sample per SLO):
    the 30m averages each standing for the 10m between recordings, or for a calendar window
    the hourly averages summed since the period began."""
    if calendar is not None:
        _, total = _calendar_sums(labels, calendar)
        return f"{total} * {number(parse_seconds(HOURLY_WINDOW))}"
    return _latest(TOTAL_WINDOW_SUM, labels)


def window_sum(coarse: str, labels: Labels, window_seconds: int) -> str:
    """Events over the whole SLO window: the 30m averages, each standing for the 10m between
    recordings. Recorded by the coarse group right after the averages."""
    return coarse_events(coarse, labels, format_seconds(window_seconds))


def _latest(coarse: str, labels: Labels) -> str:
    """The newest value of a series the coarse group records, found whatever the time since
    (its 10m spacing is longer than an instant query's 5m lookback) as long as no more than
    two recordings in a row were missed; none after 30m."""
    lookback = format_seconds(int(parse_seconds(COARSE_INTERVAL)) * 3)
    return f"last_over_time({coarse}{selector(labels)}[{lookback}])"


def tier_burn_rate_metric(severity: str) -> str:
    """Recorded burn rate of the first of a severity's tiers that holds, e.g.
    `slo:tier_burn_rate:page`: what the alert of that severity fires on."""
    return f"slo:tier_burn_rate:{severity}"


def tier_burn_rate(labels: Labels, tiers: Sequence[tuple[str, str, float]], min_events: int) -> str:
    """The long window's burn rate of the first of `tiers` (long, short, factor) that holds,
    else 0 wherever the SLO records its traffic: a series at every evaluation, so that the
    alert reading it never reads an older one (a series recorded only while a tier holds is
    not marked stale by a restarted Prometheus, and would be read for 5 minutes on)."""
    holding = [
        tier_condition(labels, long, short, factor, min_events) for long, short, factor in tiers
    ]
    return f"{any_of(holding)}\nor\n0 * {_slo_total(labels)}"


def tier_firing(severity: str, labels: Labels) -> str:
    """A severity's alert: its recorded tiers (`tier_burn_rate`) where one holds."""
    return f"{tier_burn_rate_metric(severity)}{selector(labels)} > 0"


def burning(labels: Labels, window: str, factor: float) -> str:
    """The recorded burn rate over `window` where it exceeds `factor`."""
    return f"{burn_rate_metric(window)}{selector(labels)} > {number(factor)}"


def enough_events(labels: Labels, window: str, minimum: int) -> str:
    """At least `minimum` events in `window` (the low-traffic guard)."""
    seconds = number(parse_seconds(window))
    return f"{window_rate(TOTAL, labels, window)} * {seconds} >= {minimum}"


def tier_condition(labels: Labels, long: str, short: str, factor: float, min_events: int) -> str:
    """Both windows burn faster than `factor`; its value, the long window's burn, is what the
    tier rule records and the alert passes on."""
    parts = [burning(labels, long, factor), burning(labels, short, factor)]
    if min_events:
        parts.append(enough_events(labels, short, min_events))
    return "(" + " and ".join(parts) + ")"


def any_of(conditions: list[str]) -> str:
    """Fire on any condition; one alert per severity, not one per tier."""
    return "\nor\n".join(conditions)


def hourly_rate(metric: str, labels: Labels) -> str:
    """A 5m base rate averaged over the hour, summed per calendar period (see above)."""
    return window_rate(metric, labels, HOURLY_WINDOW)


def coarse_rate(metric: str, labels: Labels) -> str:
    """A 5m base rate averaged over 30m, recorded every 10m for the day-long windows."""
    return window_rate(metric, labels, COARSE_WINDOW)


def constant(value: Decimal | float) -> str:
    return f"vector({number(value)})"


# Dashboard reads. `matchers` are extra label matchers, such as a Grafana variable's
# `slo=~"$slo"`; every panel query is built here so it always reads what the rules record.


def sli_ratio(labels: Mapping[str, str], *matchers: str) -> str:
    """The SLI (good share of events) at the 5m base, as the rules record it."""
    sel = selector(labels, *matchers)
    return f"1 - {ERRORS}{sel} / ({TOTAL}{sel} > 0)"


def window_sli(labels: Mapping[str, str], keys: Iterable[str], *matchers: str) -> str:
    """The SLI over the whole SLO window, from the budget left: 1 - spent * budget, matched on
    the definition's label names (`keys`) too, as the SLO's own rule records its budget only
    under the labels it has now (see `as_defined`)."""
    sel = selector(labels, *matchers)
    # The budget is one series per SLO; per-label SLOs have one budget left per label value.
    return (
        f"1 - (1 - {BUDGET_REMAINING}{sel}) * on({_slo_and(keys)}) group_left {ERROR_BUDGET}{sel}"
    )


def recorded(metric: str, labels: Labels, *matchers: str) -> str:
    """A recorded series as it is, e.g. the budget left or a burn rate."""
    return f"{metric}{selector(labels, *matchers)}"


def alert_state(labels: Mapping[str, str], *matchers: str) -> str:
    """2 while an alert matching `labels` fires, 1 while pending, 0 otherwise (never empty)."""

    def state(name: str) -> str:
        return f"max(ALERTS{selector(labels, *matchers, f'alertstate={json.dumps(name)}')})"

    return f"{state('firing')} * 2 or {state('pending')} or on() vector(0)"


def window_start_ms(
    labels: Mapping[str, str], window_seconds: int, calendar: Calendar | None
) -> str:
    """When the SLO window that ends at the query's end began, in epoch milliseconds (a Grafana
    annotation reads it as the time to mark). Constant over a range query: it is taken from
    the objective's newest sample `@ end()`."""
    now = f"timestamp({OBJECTIVE}{selector(labels)} @ end())"
    if calendar is Calendar.MONTH:
        start = f"({now} - {now} % 86400 - (day_of_month({now}) - 1) * 86400)"
    elif calendar is Calendar.WEEK:
        start = f"({now} - ({now} - {_MONDAY_OFFSET}) % {_WEEK_SECONDS})"
    else:
        start = f"({now} - {window_seconds})"
    return f"{start} * 1000"


def budget_overview(services: Sequence[str], keys: Iterable[str], *matchers: str) -> str:
    """Budget left of every SLO of `services`, with the objective and window of its info, as
    each SLO was defined at the time (`keys`: the definitions' label names; see `as_defined`)."""
    sel = _services(services, *matchers)
    return (
        f"{BUDGET_REMAINING}{sel} * on({_slo_and(keys)}) "
        f"group_left(objective, window, dashboard_uid) {INFO}{sel}"
    )


def _services(services: Sequence[str], *matchers: str) -> str:
    return selector({}, one_of("service", services), *matchers)


def one_of(label: str, values: Iterable[str]) -> str:
    """`label=~"a|b"`: any of `values`, and nothing else."""
    # Go's RE2 and Python agree on escaping the characters names may hold (`.`).
    return regex_matcher(label, "|".join(re.escape(v) for v in values))


def label_values(series: str, label: str) -> str:
    """A Grafana variable query (Grafana's own function): the values of `label` on `series`."""
    return f"label_values({series}, {label})"


def overview_count(expr: str) -> str:
    """How many series `expr` returns; 0 rather than nothing."""
    return f"count({expr}) or on() vector(0)"


def firing_slo_alerts(services: Sequence[str], *matchers: str) -> str:
    """Firing alerts of sloguard's SLOs (an `ALERTS` series joined to an SLO's info)."""
    return (
        f'ALERTS{{alertstate="firing"}} and on(service, slo) {INFO}{_services(services, *matchers)}'
    )


def slo_grouping(slo: SLO) -> tuple[str, ...]:
    """Labels the SLO's SLI keeps per series (`sum by (...)`): a per-label SLO's."""
    sli = slo.sli
    query = sli.events.total if sli.events else sli.raw.error_ratio if sli.raw else ""
    return grouping_labels(query) if query else ()


@functools.lru_cache(maxsize=4096)
def grouping_labels(query: str) -> tuple[str, ...]:
    """Labels a query keeps with `sum by (...)`: per-label SLOs record one series per value."""
    found = _outer_aggregation(query)
    if found is None or found.modifier is None:
        return ()
    if found.modifier.type != promql_parser.AggModifierType.By:
        return ()
    return tuple(found.modifier.labels)


@functools.lru_cache(maxsize=4096)
def drops_labels(query: str) -> bool:
    """Whether a query's result is grouped by what `without (...)` leaves: labels that cannot
    be named, so its series could not be told apart in routes, templates or dashboards."""
    found = _outer_aggregation(query)
    return (
        found is not None
        and found.modifier is not None
        and found.modifier.type != promql_parser.AggModifierType.By
    )


def _outer_aggregation(query: str) -> promql_parser.AggregateExpr | None:
    """The aggregation that decides a query's result labels: through parentheses, signs,
    arithmetic with a number (`1 - sum by (...)`), the left side of other arithmetic, and
    functions that keep their argument's labels (`clamp_max(sum by (...), 1)`)."""
    try:
        expr = promql_parser.parse(render_window(query, BASE_WINDOW))
    except ValueError:
        return None
    while True:
        if isinstance(expr, promql_parser.ParenExpr | promql_parser.UnaryExpr):
            expr = expr.expr
        elif isinstance(expr, promql_parser.BinaryExpr):
            number = isinstance(expr.lhs, promql_parser.NumberLiteral)
            expr = expr.rhs if number else expr.lhs
        elif isinstance(expr, promql_parser.Call):
            vectors = [a for a in expr.args if not isinstance(a, promql_parser.NumberLiteral)]
            if not vectors:
                return None
            expr = vectors[0]
        elif isinstance(expr, promql_parser.AggregateExpr):
            return expr
        else:
            return None


# The agent's combined reads (`a or b or ...`, one query answering for many windows, SLOs or
# versions): each part carries one label naming it (`sloguard_part="5m/errors"`), so `or`
# keeps every part. One label_replace per part: a label per name cost Prometheus a third
# more CPU on the gate's range queries.
PART_LABEL = "sloguard_part"


def tagged(expr: str, *names: str) -> str:
    """`expr` labelled with its part's `names` (label_replace on an always-matching regex)."""
    return f'label_replace({expr}, "{PART_LABEL}", {json.dumps("/".join(names))}, "", "")'


def part_of(labels: Mapping[str, str]) -> list[str]:
    """The names `tagged` gave the part a result came from (none for an untagged one)."""
    value = labels.get(PART_LABEL)
    return value.split("/") if value else []


def recorded_burn_rates(services: Sequence[str]) -> str:
    """Every burn rate recorded for the SLOs of `services`."""
    return selector(
        {}, regex_matcher("__name__", burn_rate_metric(".+")), one_of("service", services)
    )


def recorded_events(
    windows: Iterable[str], services: Sequence[str], only_where_recorded: Collection[str] = ()
) -> str:
    """Events of the recorded SLOs of `services` within each window, tagged with it, in one
    query; a window of `only_where_recorded` only for the SLOs that record a burn rate over it
    (those whose tiers read it: a 28d SLO's 28m, not a 30d SLO's).

    Windows over an hour sum the 30m averages, each standing for the 10m between recordings:
    20x fewer samples than the 5m rates (a thousand SLOs' 3d windows would otherwise read
    11 million), and a window only partly covered by data counts only what happened (an
    average times the range would extrapolate). Up to an hour, where the min-events guard
    reads, the 5m rates are averaged.
    """
    selected = one_of("service", services)
    parts = []
    for window in windows:
        if parse_seconds(window) > RAW_WINDOW_MAX_SECONDS:
            count = coarse_events(TOTAL_COARSE, {}, window, selected)
        else:
            seconds = number(parse_seconds(window))
            count = f"{window_rate(TOTAL, {}, window, selected)} * {seconds}"
        if window in only_where_recorded:
            count = (
                f"({count}) and on(service, slo) {recorded(burn_rate_metric(window), {}, selected)}"
            )
        parts.append(tagged(f"({count})", window))
    return " or ".join(parts)


def raw_readings(sli: SLI, ranges: Mapping[str, str]) -> str:
    """The SLI's own error and event rates over each range (keyed), in one query."""
    parts = []
    for key, window in ranges.items():
        errors, total = sli_rates(sli, window, fill=False)
        parts.append(tagged(f"({errors})", key, "errors"))
        parts.append(tagged(f"({total})", key, "total"))
    return " or ".join(parts)


@functools.lru_cache(maxsize=4096)
def counted(query: str, window: str) -> str | None:
    """`query` with each `rate(<selector>[window])` read as `increase` over the window divided
    by its seconds. On Prometheus that is the same number (its `rate` is its `increase` over
    the range's seconds). On VictoriaMetrics it is the events counted: MetricsQL's `rate`
    divides a series' increase by the time its samples cover, so series born inside a long
    window (pods that came and went, a canary) would weigh more than their events, and the 5m
    rates would not tile time. Text inside quotes is never touched. None where a `rate` is
    left that is not of that form (an offset, a subquery, another range): the query's rates
    would not all be read alike."""
    seconds = number(parse_seconds(window))
    rate = rf"(?<![\w:])rate\s*\(({_SELECTOR_TEXT})\[\s*{re.escape(window)}\s*\]\s*\)"

    def rewrite(found: re.Match[str]) -> str:
        if found[2] is None:  # a quoted string, as it is
            return found[0]
        return f"(increase({found[2].strip()}[{window}]) / {seconds})"

    rewritten = re.sub(rf"({_QUOTED})|{rate}", rewrite, query)
    left = re.finditer(rf"({_QUOTED})|(?<![\w:])rate\s*\(", rewritten)
    return None if any(found[1] is None for found in left) else rewritten


# A quoted string, or one never closed, to the end: each is read once, so that no text of
# quotes and backslashes costs quadratic time (possessive, and an escape takes any character).
_QUOTED = r"""(?s:"(?:[^"\\]|\\.?)*+(?:"|\Z)|'(?:[^'\\]|\\.?)*+(?:'|\Z)|`[^`]*+(?:`|\Z))"""
# A vector selector's text: anything but brackets and parentheses outside quoted strings.
_SELECTOR_TEXT = rf"""(?:[^\[\]()"'`]|{_QUOTED})*"""


def report_events(services: Sequence[str], window: str | None = None) -> str:
    """Bad and all events of every SLO of `services` (each SLO's groups summed), told apart by
    an `events` label. Without `window`, per second, sampled every 5m: the recorded 5m rates
    tile time. With it, the recorded 5m rates summed over the window, in proportion to the
    events, for their ratio: each sample counts once, whatever series it is in. An average
    per series would count a group that served part of the window, or an SLO whose labels
    changed within it (its series before and after), as if each had served all of it."""
    sel = _services(services)

    def rate(metric: str) -> str:
        return f"sum_over_time({metric}{sel}[{window}])" if window else f"{metric}{sel}"

    return " or ".join(
        f'label_replace(sum by (service, slo) ({rate(metric)}), "events", "{kind}", "", "")'
        for metric, kind in ((ERRORS, "bad"), (TOTAL, "total"))
    )


def as_defined(expr: str, keys: Iterable[str], info: str = INFO) -> str:
    """`expr`'s series of an SLO at each time the SLO's definition gave them their labels
    (`keys` are the definition's label names): joined to the SLO's info series (`info`, a
    selector of it), whose own rule stops recording under labels the SLO no longer has at
    once, where the shared rules record the old series on for as long as a window reaches
    back. A label the definition no longer names at all is not told apart."""
    return f"({expr}) and on({_slo_and(keys)}) {info}"


def joined_keys(services: Sequence[ServiceSLOs]) -> list[str]:
    """The definitions' label names that a join of every SLO's series to its info series can
    match on (see `as_defined`): all of them but those an SLO groups its SLI by, which its
    recorded series carry and its info series does not."""
    grouping = {label for spec in services for slo in spec.slos for label in slo_grouping(slo)}
    named = {key for spec in services for slo in spec.slos for key in spec.labels_of(slo)}
    return sorted(named - grouping)


def _slo_and(keys: Iterable[str]) -> str:
    return ", ".join(["service", "slo", *sorted(set(keys))])


def report_alerts(services: Sequence[str], window: str, *, count: bool) -> str:
    """The firing samples of the SLO alerts of `services` over `window` (a range selector,
    read raw), or with `count` how many there are per SLO and severity."""
    sel = _services(services, 'alertstate="firing"', f'{ALERT_SEVERITY_LABEL}=~"page|ticket"')
    if count:
        return (
            f"sum by (service, slo, {ALERT_SEVERITY_LABEL}) "
            f"(count_over_time(ALERTS{sel}[{window}]))"
        )
    return f"ALERTS{sel}[{window}]"


def report_counted(metric: str, labels: Sequence[str], services: Sequence[str], window: str) -> str:
    """How much a counter of the agent's grew over `window`, by `labels`."""
    return f"sum by ({', '.join(labels)}) (increase({metric}{_services(services)}[{window}]))"
