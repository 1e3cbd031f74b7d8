"""Tickets on time: the generated rules, evaluated over days of backfilled history at their
groups' own intervals (30s, 2m, 10m), open a ticket within minutes of the moment the burn-rate
arithmetic on the raw counts says a tier holds. (Read from the 30m averages alone, the day-long
windows ended 15-25 minutes ago, and tickets trailed the arithmetic by as much.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sloguard import promql, yamltext
from sloguard.loading import load
from sloguard.rules.output import RuleFormat, render_rule_files
from tests.support.backfilled import prometheus_with_history
from tests.support.running import run_promtool_test

pytestmark = pytest.mark.integration  # starts Prometheus, backfills with promtool

DAY, HOUR, MINUTE = 86400, 3600, 60
RATE, BUDGET = 10.0, 0.001  # requests a second; 99.9%
BEFORE, AFTER = 0.5, 4.0  # the burn rate before the onset and after it
TICKET_TIERS = [(DAY, 2 * HOUR, 3.0), (3 * DAY, 6 * HOUR, 1.0)]  # (long, short, factor)

DEFINITION = """
service: shop
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{code="500"}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"""


def counters(onset: int) -> Callable[[int], float]:
    """Bad requests served up to `t`: at `BEFORE` times the budget, then `AFTER`."""

    def bad(t: int) -> float:
        return RATE * BUDGET * (BEFORE * min(t, onset) + AFTER * max(0, t - onset))

    return bad


def arithmetic_onset(bad: Callable[[int], float], start: int, end: int) -> int:
    """The first minute at which a ticket tier holds on the exact counts."""

    def burn(t: int, window: int) -> float:
        return (bad(t) - bad(t - window)) / (RATE * window) / BUDGET

    for t in range(start, end, MINUTE):
        if any(burn(t, long) > f and burn(t, short) > f for long, short, f in TICKET_TIERS):
            return t
    raise AssertionError("no tier ever holds")


def test_a_ticket_opens_within_minutes_of_the_arithmetic(tmp_path: Path) -> None:
    start, onset = 0, 3 * DAY + HOUR
    end = onset + 12 * HOUR
    first = int(time.time()) // DAY * DAY - end - DAY  # the history ends yesterday
    bad = counters(onset)
    minutes = range(start, end + 1, MINUTE)
    families = {
        "http_requests_total": [
            ("http_requests_total", {"code": "500"}, [(first + t, bad(t)) for t in minutes]),
            (
                "http_requests_total",
                {"code": "200"},
                [(first + t, RATE * t - bad(t)) for t in minutes],
            ),
        ]
    }
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "shop.yaml").write_text(DEFINITION, encoding="utf-8")
    loaded = load([tmp_path / "defs"])
    [text] = render_rule_files(loaded.services, loaded.sources, RuleFormat.PROMETHEUS).values()
    groups = yaml.safe_load(text)["groups"]
    for group in groups:  # what the alerts read, not the budget and metadata
        group["rules"] = [
            r
            for r in group["rules"]
            if "alert" in r
            or r["record"].startswith(("slo:sli_", "slo:burn_rate:", "slo:tier_burn_rate:"))
        ]
    rules = tmp_path / "shop.rules.yml"
    rules.write_text(yamltext.dump({"groups": groups}), encoding="utf-8")
    expected = first + arithmetic_onset(bad, onset, end)
    (tmp_path / "prometheus").mkdir()
    with prometheus_with_history(
        tmp_path / "prometheus", families, [rules], first + 10 * MINUTE, first + end
    ) as prom:
        ticket = 'ALERTS{alertstate="firing",sloguard_severity="ticket"}'
        [series] = prom.query_range(ticket, first + onset, first + end, 30)
        page = prom.query_range('ALERTS{sloguard_severity="page"}', first, first + end, 60)
    opened = float(series["values"][0][0])
    assert -MINUTE <= opened - expected <= 5 * MINUTE, (opened - expected) / MINUTE
    assert page == []  # 4x never pages


@pytest.mark.parametrize(("recorded", "share"), [(630, 0.025), (300, 0.575)])
def test_the_uncounted_events_see_the_coarse_recording_however_recent(
    tmp_path: Path, recorded: int, share: float
) -> None:
    """The share of an interval since the last 30m average is recorded decides how much of the
    newest 10 minutes the uncounted events add. Evaluated at 10m45s, an average recorded 15s
    before (inside the minute the subquery's steps skip) or 345s before (beyond an instant
    query's 5m lookback) is found; an older one at 30s must not be taken for the newest."""
    ids = {"service": "shop", "slo": "availability"}
    base = '{__name__="slo:sli_errors:rate5m",service="shop",slo="availability"}'
    coarse = '{__name__="slo:sli_errors:rate30m",service="shop",slo="availability"}'
    step = 15
    # The averages at 30s and at `recorded`; the 5m rates steady at 1 a second.
    gaps = ["1"] + ["_"] * ((recorded - 30) // step - 1) + ["1"]
    document = {
        "rule_files": [],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": f"{step}s",
                "input_series": [
                    {"series": base, "values": "1+0x60"},
                    {"series": coarse, "values": "_ _ " + " ".join(gaps)},
                ],
                "promql_expr_test": [
                    {
                        "expr": promql.uncounted_events(promql.ERRORS_COARSE, promql.ERRORS, ids),
                        "eval_time": "645s",
                        "exp_samples": [
                            {
                                "labels": '{service="shop",slo="availability"}',
                                # (S(10m) + S(20m) + f * S(30m)) / 3, S(x) = x seconds at 1/s
                                "value": (600 + 1200 + share * 1800) / 3,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    result = run_promtool_test(tmp_path, document)
    assert result.ok, result.output
