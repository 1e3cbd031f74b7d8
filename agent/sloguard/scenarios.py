"""Synthetic traffic scenarios that prove an SLO's generated alerts with `promtool test rules`.

Pure: builds promtool unit-test documents. Each SLO keeps everything that shapes its alerting
(objective, window, tiers, routes, low-traffic guard) but reads a synthetic counter,
`sloguard_scenario_requests_total{outcome="ok"|"error"}`, so any SLI kind and any PromQL is
covered and the data passes through the same rate() windows real counters do.

Expected times come from burn-rate arithmetic: a step to burn rate `b` trips a tier with factor
`f < b` once its long window has averaged `f`, after `long * f / b`, plus the smoothing lag of
windows that average recorded rates (`promql.smoothing_lag_seconds`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sloguard import promql
from sloguard.burnrate import BASE_WINDOW_SECONDS, tiers_for
from sloguard.spec.durations import format_seconds, parse_seconds
from sloguard.spec.model import SLI, SLO, Events, ServiceSLOs, Severity

COUNTER = "sloguard_scenario_requests_total"
SCENARIO_SLI = SLI(
    events=Events(
        errors=f'sum(rate({COUNTER}{{outcome="error"}}[{{{{window}}}}]))',
        total=f"sum(rate({COUNTER}[{{{{window}}}}]))",
    )
)


@dataclass(frozen=True)
class Timing:
    """Spacing of input samples and of rule evaluations in one scenario (seconds)."""

    sample: int
    evaluation: int


FAST = Timing(sample=15, evaluation=30)  # a scrape and rule interval seen in production
SLOW = Timing(sample=60, evaluation=240)  # steady burns over days; < the 5m lookback
FINE = Timing(sample=60, evaluation=60)  # for a single event, which must not fall between evals


@dataclass(frozen=True)
class Scenario:
    """One promtool test case, with the claim it proves in words."""

    slo: str
    name: str
    claim: str
    test: dict[str, Any]
    timing: Timing


def scenario_spec(spec: ServiceSLOs, slo: SLO) -> ServiceSLOs:
    """The service with just this SLO, reading the synthetic counter."""
    return spec.model_copy(update={"slos": [slo.model_copy(update={"sli": SCENARIO_SLI})]})


def scenarios_for(spec: ServiceSLOs, slo: SLO) -> list[Scenario]:
    """An outage pages within the tiers' bound; a steady 2x burn tickets and never pages; 0.5x
    stays silent; and where a low-traffic guard is set, one failure on thin traffic is silent."""
    found = [_steady_burn(spec, slo, 2.0), _steady_burn(spec, slo, 0.5)]
    if first_alert_seconds(slo, 1 / float(slo.error_budget), Severity.PAGE) is not None:
        found.insert(0, _outage(spec, slo))
    if slo.alerting.min_events:
        found.append(_one_failure(spec, slo))
    return found


def first_alert_seconds(slo: SLO, burn: float, severity: Severity) -> float | None:
    """When a step to `burn` first trips a tier of `severity`, or None if none can (or that
    severity's alert is disabled)."""
    if getattr(slo.alerting, severity.value).disable:
        return None
    times = [
        parse_seconds(t.long) * t.factor / burn
        + max(promql.smoothing_lag_seconds(t.long), promql.smoothing_lag_seconds(t.short))
        for t in tiers_for(slo)
        if t.severity is severity and t.factor < burn
    ]
    return min(times) if times else None


def promtool_tests(rule_file: str, scenarios: list[Scenario]) -> dict[str, Any]:
    """A promtool unit-test file running `scenarios` against `rule_file`."""
    timings = {s.timing.evaluation for s in scenarios}
    if len(timings) != 1:  # promtool has one evaluation interval per file
        raise ValueError("scenarios of one test file must share their evaluation interval")
    return {
        "rule_files": [rule_file],
        "evaluation_interval": f"{timings.pop()}s",
        "tests": [s.test for s in scenarios],
    }


def _outage(spec: ServiceSLOs, slo: SLO) -> Scenario:
    timing = FAST
    history = _longest(slo, Severity.PAGE)
    due = first_alert_seconds(slo, 1 / float(slo.error_budget), Severity.PAGE)
    assert due is not None
    # One evaluation to see the bad samples scraped, one more to be safe from rounding.
    bound = _ceil(due, timing.evaluation) + 2 * timing.evaluation
    rate = _rate(slo)
    test = _test(
        spec,
        slo,
        timing,
        [(history, rate, 0.0), (bound, 0.0, rate)],
        [
            _alerts_at(spec, slo, Severity.PAGE, history - timing.evaluation, firing=False),
            _alerts_at(spec, slo, Severity.PAGE, history + bound, firing=True),
        ],
    )
    claim = (
        f"a full outage pages within {format_seconds(bound)} "
        f"(the tiers allow {due:.0f}s, plus two evaluations)"
    )
    return Scenario(slo.name, "outage", claim, test, timing)


def _steady_burn(spec: ServiceSLOs, slo: SLO, burn: float) -> Scenario:
    timing = SLOW
    # A healthy history first, so the step is seen against full windows of good traffic; a
    # burn that should stay silent has no step to time and starts at once.
    silent = all(first_alert_seconds(slo, burn, s) is None for s in Severity)
    history = 0 if silent else _longest(slo, None)
    checks, claims, horizon = [], [], 0
    for severity in Severity:
        due = first_alert_seconds(slo, burn, severity)
        if getattr(slo.alerting, severity.value).disable:
            claims.append(f"never {_verb(severity)} ({severity.value} alerts disabled)")
        elif due is None:
            claims.append(f"never {_verb(severity)}")
        else:
            at = _ceil(due, timing.evaluation) + 2 * timing.evaluation
            horizon = max(horizon, at)
            checks.append(_alerts_at(spec, slo, severity, history + at, firing=True))
            claims.append(f"{_verb(severity)} within {format_seconds(at)}")
    horizon = max(horizon + timing.evaluation, _longest(slo, None))
    checks += [
        _never(spec, slo, severity, history + horizon)
        for severity in Severity
        if first_alert_seconds(slo, burn, severity) is None
    ]
    rate = _rate(slo)
    bad = rate * burn * float(slo.error_budget)
    segments = [(history, rate, 0.0), (horizon, rate - bad, bad)]
    test = _test(spec, slo, timing, segments, checks)
    claim = f"a steady {burn:g}x burn " + " and ".join(claims)
    return Scenario(slo.name, f"burn-{burn:g}x", claim, test, timing)


def _one_failure(spec: ServiceSLOs, slo: SLO) -> Scenario:
    timing = FINE
    widest_short = max(parse_seconds(t.short) for t in tiers_for(slo))
    # Thin traffic: every short window holds at most half the minimum.
    rate = slo.alerting.min_events / (2 * widest_short)
    # History fills the short windows: their event counts are averaged rates times the window.
    history = watch = int(widest_short) + 3600
    one = 1 / timing.sample  # a single failed request within one sample interval
    segments = [(history, rate, 0.0), (timing.sample, rate, one), (watch, rate, 0.0)]
    until = history + timing.sample + watch
    checks = [_never(spec, slo, severity, until) for severity in Severity]
    test = _test(spec, slo, timing, segments, checks)
    claim = (
        f"one failed request at {rate * 3600:.3g} requests/h "
        f"(min_events {slo.alerting.min_events}) stays silent"
    )
    return Scenario(slo.name, "one-failure", claim, test, timing)


def _test(
    spec: ServiceSLOs,
    slo: SLO,
    timing: Timing,
    segments: Sequence[tuple[float, float, float]],
    checks: list[dict[str, Any]],
) -> dict[str, Any]:
    ok, error = counter_values(segments, timing.sample)
    return {
        "name": f"{spec.service}/{slo.name}",
        "interval": f"{timing.sample}s",
        "input_series": [
            {"series": f'{COUNTER}{{outcome="ok"}}', "values": ok},
            {"series": f'{COUNTER}{{outcome="error"}}', "values": error},
        ],
        "promql_expr_test": checks,
    }


def counter_values(segments: Sequence[tuple[float, float, float]], sample: int) -> tuple[str, str]:
    """promtool `values` of two counters (good, bad) growing at the given requests per second
    for each (seconds, good, bad) segment, sampled every `sample` seconds."""
    values: tuple[list[str], list[str]] = ([], [])
    level = [0.0, 0.0]
    for seconds, *rates in segments:
        samples = int(seconds // sample)
        if samples <= 0:
            continue
        for i, per_second in enumerate(rates):
            step = per_second * sample
            start = level[i] + (step if values[i] else 0.0)
            values[i].append(f"{_num(start)}+{_num(step)}x{samples - 1}")
            level[i] = start + step * (samples - 1)
    return " ".join(values[0]), " ".join(values[1])


def _alerts_at(
    spec: ServiceSLOs, slo: SLO, severity: Severity, at: float, firing: bool
) -> dict[str, Any]:
    return {
        "expr": _count_alerts(spec, slo, severity, ""),
        "eval_time": f"{int(at)}s",
        "exp_samples": [{"labels": "{}", "value": 1}] if firing else [],
    }


def _never(spec: ServiceSLOs, slo: SLO, severity: Severity, until: float) -> dict[str, Any]:
    return {
        "expr": _count_alerts(spec, slo, severity, f"[{int(until)}s]"),
        "eval_time": f"{int(until)}s",
        "exp_samples": [],
    }


def _count_alerts(spec: ServiceSLOs, slo: SLO, severity: Severity, over: str) -> str:
    labels = {
        "alertname": slo.alerting.name,
        "alertstate": "firing",
        "service": spec.service,
        "slo": slo.name,
        promql.ALERT_SEVERITY_LABEL: severity.value,
    }
    series = f"ALERTS{promql.selector(labels)}"
    return f"count(count_over_time({series}{over}))" if over else f"count({series})"


def _longest(slo: SLO, severity: Severity | None) -> int:
    return int(
        max(
            parse_seconds(t.long)
            for t in tiers_for(slo)
            if severity is None or t.severity is severity
        )
    )


def _rate(slo: SLO) -> float:
    """Requests per second, high enough that any low-traffic guard is met by the 5m window."""
    return max(10.0, 2 * slo.alerting.min_events / BASE_WINDOW_SECONDS)


def _ceil(seconds: float, step: int) -> int:
    return math.ceil(seconds / step) * step


def _num(value: float) -> str:
    return repr(round(float(value), 9))


def _verb(severity: Severity) -> str:
    return "pages" if severity is Severity.PAGE else "opens a ticket"
