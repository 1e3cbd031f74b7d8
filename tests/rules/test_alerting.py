"""The generated rules' behaviour, proven with `promtool test rules` on raw request counters.

The same SLO (shop availability, 99.9% over 30d) is read from native, Sloth (both forms) and
OpenSLO files; every scenario runs against the rules each one generates.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from sloguard import yamltext
from sloguard.loading import load
from sloguard.rules.output import RuleFormat, render_rule_files
from sloguard.scenarios import counter_values
from tests.support.repo import FORMATS, shop_file
from tests.support.scenarios import DAY, HOUR, assert_holds, firing, never, silent

OK = 'http_requests_total{job="shop",code="200"}'
BAD = 'http_requests_total{job="shop",code="500"}'
PAGE = 'ALERTS{alertname="SLOErrorBudgetBurn",alertstate="firing",service="shop",slo="availability",sloguard_severity="page"}'
TICKET = PAGE.replace('severity="page"', 'severity="ticket"')

pytestmark = [pytest.mark.usefixtures("promtool"), pytest.mark.integration]
SHOP_SLI = (
    '{events: {errors: "sum(rate(http_requests_total{job=\\"shop\\",code=~\\"5..\\"}[{{window}}]))", '
    'total: "sum(rate(http_requests_total{job=\\"shop\\"}[{{window}}]))"}}'
)


def rules_from(source: str | Path, tmp_path: Path) -> str:
    """Rules of the shop SLO in format `source`, or of the file `source`."""
    loaded = load([shop_file(source) if isinstance(source, str) else source])
    files = render_rule_files(loaded.services, loaded.sources, RuleFormat.PROMETHEUS)
    [(name, text)] = files.items()
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name


def rules_of(definitions: str, tmp_path: Path) -> str:
    """Rules of the native `definitions` (YAML text)."""
    (tmp_path / "shop.yaml").write_text(definitions, encoding="utf-8")
    return rules_from(tmp_path / "shop.yaml", tmp_path)


def shop_slos(slos: str, tmp_path: Path) -> str:
    """Rules of the shop service with the native `slos` (a YAML list), `SLI` standing for the
    shop's request counters."""
    listed = textwrap.indent(textwrap.dedent(slos).strip(), "  ")
    return rules_of(f"service: shop\nslos:\n{listed}\n".replace("SLI", SHOP_SLI), tmp_path)


def raw_ratio_rules(error_ratio: str, tmp_path: Path) -> str:
    """Rules of the shop SLO (99.9%) read from a raw error ratio."""
    sli = {"raw": {"error_ratio": error_ratio}}
    slo = {"name": "availability", "objective": 99.9, "sli": sli}
    return rules_of(yamltext.dump({"service": "shop", "slos": [slo]}), tmp_path)


def scenario(
    rule_file: str,
    segments: list[tuple[float, float, float]],
    sample: int,
    evaluation: int,
    checks: list[dict[str, Any]],
) -> dict[str, Any]:
    good, bad = counter_values(segments, sample)
    return {
        "rule_files": [rule_file],
        "evaluation_interval": f"{evaluation}s",
        "tests": [
            {
                "interval": f"{sample}s",
                "input_series": [{"series": OK, "values": good}, {"series": BAD, "values": bad}],
                "promql_expr_test": checks,
            }
        ],
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_outage_pages_within_a_minute(fmt: str, tmp_path: Path) -> None:
    # 10 req/s scraped every 15s, rules every 30s. At 99.9% the 14.4x tier needs 1.44% errors
    # over 1h: 52s of a full outage. The first evaluation after that is at +60s.
    rule_file = rules_from(fmt, tmp_path)
    onset = 6 * HOUR
    assert_holds(
        tmp_path,
        scenario(
            rule_file,
            [(onset, 10, 0), (10 * 60, 0, 10)],
            15,
            30,
            [
                silent(PAGE, onset),
                silent(PAGE, onset + 30),
                firing(PAGE, onset + 60),
                firing(PAGE, onset + 10 * 60),
            ],
        ),
    )


def test_an_outage_pages_even_when_the_error_series_first_appears_with_it(tmp_path: Path) -> None:
    # Client libraries create the code="500" series at the first error: no zero before it.
    rule_file = rules_from("native", tmp_path)
    onset = 2 * HOUR
    good, bad = counter_values([(onset, 10, 0), (10 * 60, 0, 10)], 15)
    bad_values = f"_x{onset // 15 - 1} " + bad.split(" ", 1)[1]
    document = scenario(rule_file, [], 15, 30, [silent(PAGE, onset), firing(PAGE, onset + 90)])
    document["tests"][0]["input_series"] = [
        {"series": OK, "values": good},
        {"series": BAD, "values": bad_values},
    ]
    assert_holds(tmp_path, document)


def test_an_outage_soon_after_a_gap_in_the_counters_still_pages(tmp_path: Path) -> None:
    # Half an hour without samples (the target down, Prometheus restarted) leaves no 5m rate
    # recorded for 25 minutes. A full outage five minutes after the counters return still
    # pages as fast as without the gap: the 1h window reads the counters, not the 5m rates.
    rule_file = rules_from("native", tmp_path)
    every, gap, back = 15, 2 * HOUR, 2 * HOUR + 30 * 60
    onset, end = back + 5 * 60, back + 20 * 60
    counters = ([], [])
    level = [0.0, 0.0]
    for at in range(0, end, every):
        for i, rate in enumerate((0, 10) if at >= onset else (10, 0)):
            level[i] += rate * every
            counters[i].append("_" if gap <= at < back else f"{level[i]:g}")
    document = scenario(rule_file, [], every, 30, [silent(PAGE, onset), firing(PAGE, onset + 90)])
    document["tests"][0]["input_series"] = [
        {"series": series, "values": " ".join(values)}
        for series, values in zip((OK, BAD), counters, strict=True)
    ]
    assert_holds(tmp_path, document)


def test_a_raw_ratio_slo_keeps_its_long_windows_through_a_quiet_spell(tmp_path: Path) -> None:
    # 1% errors (10x at 99.9%) for a day, then ten minutes without traffic, then 1% again.
    # The raw ratio is 0 / 0 there; were it recorded as NaN, every window over it would be
    # NaN, so the burn rates 0 and the budget unknown, for as long as each window reaches back
    # (30 days the budget).
    rule_file = raw_ratio_rules(
        'sum(rate(http_requests_total{job="shop",code="500"}[{{window}}]))'
        ' / sum(rate(http_requests_total{job="shop"}[{{window}}]))',
        tmp_path,
    )
    good, bad = counter_values([(25 * HOUR, 9.9, 0.1), (600, 0, 0), (3000, 9.9, 0.1)], 60)

    def rounded(expr: str, value: float) -> dict[str, Any]:
        return {
            "expr": f"round({expr})",
            "eval_time": f"{26 * HOUR}s",
            "exp_samples": [{"labels": '{service="shop",slo="availability"}', "value": value}],
        }

    document = scenario(
        rule_file,
        [],
        60,
        60,
        [
            *(rounded(f"slo:burn_rate:{w}", 10) for w in ("5m", "1h", "2h", "6h", "1d")),
            rounded("slo:error_budget_remaining:ratio", -9),
        ],
    )
    document["tests"][0]["input_series"] = [
        {"series": OK, "values": good},
        {"series": BAD, "values": bad},
    ]
    assert_holds(tmp_path, document)


def test_a_raw_ratio_above_one_in_an_outage_counts_as_one(tmp_path: Path) -> None:
    # A full outage counted by two counters whose rates come out apart: the ratio reads 1.1.
    # Were it dropped as out of range, the outage would be a gap; it counts as every request
    # failing, and pages.
    rule_file = raw_ratio_rules(
        "sum(rate(failed_total[{{window}}])) / sum(rate(served_total[{{window}}]))", tmp_path
    )
    onset = 2 * HOUR
    _, served = counter_values([(onset + 10 * 60, 0, 10)], 60)
    _, failed = counter_values([(onset, 0, 0), (10 * 60, 0, 11)], 60)
    document = scenario(
        rule_file,
        [],
        60,
        60,
        [
            silent(PAGE, onset - 60),
            firing(PAGE, onset + 5 * 60),
            {
                "expr": "slo:sli_errors:rate5m",
                "eval_time": f"{onset + 5 * 60}s",
                "exp_samples": [
                    {
                        "labels": 'slo:sli_errors:rate5m{service="shop",slo="availability"}',
                        "value": 1,
                    }
                ],
            },
        ],
    )
    document["tests"][0]["input_series"] = [
        {"series": "served_total", "values": served},
        {"series": "failed_total", "values": failed},
    ]
    assert_holds(tmp_path, document)


def test_a_burn_only_the_6h_tier_catches_pages_from_the_slow_group_s_burn_rates(
    tmp_path: Path,
) -> None:
    # 1% errors = 10x burn: under the 14.4x tier's factor, so only the 6h/30m tier can page,
    # once the 6h window averages 6x: 3.6h after the step, plus the 5m averaging lag. Its
    # burn rates are recorded by the slow group and read by the fast group's page alert.
    rule_file = rules_from("native", tmp_path)
    fast, slow, _ = yaml.safe_load((tmp_path / rule_file).read_text())["groups"]
    assert "slo:burn_rate:6h" in {r.get("record") for r in slow["rules"]}
    assert "SLOErrorBudgetBurn" in {r.get("alert") for r in fast["rules"]}
    onset = 7 * HOUR
    due = onset + 6 * HOUR * 6 / 10
    assert_holds(
        tmp_path,
        scenario(
            rule_file,
            [(onset, 10, 0), (4 * HOUR, 9.9, 0.1)],
            60,
            60,
            [silent(PAGE, due - 5 * 60), firing(PAGE, due + 6 * 60)],
        ),
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_slow_2x_burn_opens_a_ticket_and_never_pages(fmt: str, tmp_path: Path) -> None:
    # 0.2% errors = 2x burn. Only the 1x tier (3d long, 6h short) can fire, once the 3d window
    # averages above 1x: 1.5d after the step, plus the 5m averaging lag. (Rules run every 4m
    # here: promtool runs every group at one interval, which must stay under the 5m lookback.)
    rule_file = rules_from(fmt, tmp_path)
    onset, run = 3 * DAY, 2 * DAY
    assert_holds(
        tmp_path,
        scenario(
            rule_file,
            [(onset, 10, 0), (run, 9.98, 0.02)],
            60,
            240,
            [
                silent(TICKET, onset + 1.4 * DAY - 960),
                firing(TICKET, onset + 1.5 * DAY + 1920),
                never(PAGE, onset + run - 60),
            ],
        ),
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_half_burn_stays_silent_for_days(fmt: str, tmp_path: Path) -> None:
    rule_file = rules_from(fmt, tmp_path)
    run = 4 * DAY
    assert_holds(
        tmp_path,
        scenario(
            rule_file,
            [(run, 9.995, 0.005)],
            60,
            240,
            [
                never(PAGE, run - 60),
                never(TICKET, run - 60),
            ],
        ),
    )


LOW_TRAFFIC = """
    service: shop
    slos:
      - name: availability
        objective: 99.9
        sli:
          events:
            errors: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{window}}]))
            total: sum(rate(http_requests_total{job="shop"}[{{window}}]))
        alerting:
          min_events: %d
"""


@pytest.mark.parametrize(("min_events", "pages"), [(100, False), (0, True)])
def test_one_failed_request_on_a_low_traffic_service(
    min_events: int, pages: bool, tmp_path: Path
) -> None:
    # The workbook's example: 10 requests an hour, one fails: a 100x burn over 1h. With a minimum
    # of 100 events no short window (5m..6h holds <= 60 requests) is trusted and all stays
    # silent; without it (the control) the same failure pages.
    rule_file = rules_of(textwrap.dedent(LOW_TRAFFIC % min_events), tmp_path)
    rate = 10 / HOUR
    onset = 7 * HOUR
    segments = [(onset, rate, 0), (60, rate, 1 / 60), (7 * HOUR, rate, 0)]
    checks = (
        [firing(PAGE, onset + 5 * 60)]
        if pages
        else [never(PAGE, 2 * onset), never(TICKET, 2 * onset)]
    )
    assert_holds(tmp_path, scenario(rule_file, segments, 60, 60, checks))


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_30d_budget_is_exact_under_uneven_traffic(fmt: str, tmp_path: Path) -> None:
    # A month of 10 req/s at 0.05% errors, broken by a busy peak, a quiet night with a high
    # error ratio and a short incident. The exact budget is errors / requests over the 30 days;
    # an average of 5m ratios (Sloth's period rule) would overweight the quiet night.
    rule_file = rules_from(fmt, tmp_path)
    base = (10 * 0.9995, 10 * 0.0005)
    shape = [  # (seconds, good requests/s, bad requests/s)
        (5 * DAY, *base),
        (8 * HOUR, 100 * 0.995, 100 * 0.005),
        (7 * DAY - 8 * HOUR, *base),
        (12 * HOUR, 1 * 0.95, 1 * 0.05),
        (8 * DAY - 12 * HOUR, *base),
        (1 * HOUR, 50 * 0.98, 50 * 0.02),
        (10 * DAY + 2 * HOUR - 1 * HOUR, *base),
    ]
    segments = [(seconds, good, bad) for seconds, good, bad in shape]
    end = sum(seconds for seconds, _, _ in segments) - 600  # the last evaluation with data
    start = end - 30 * DAY
    errors = total = 0.0
    ratios: list[float] = []
    at = 0.0
    for seconds, good, bad in segments:
        inside = max(0.0, min(at + seconds, end) - max(at, start))
        errors += bad * inside
        total += (good + bad) * inside
        ratios += [bad / (good + bad)] * int(inside // 300)
        at += seconds
    exact = 1 - (errors / total) / 0.001
    average_of_ratios = 1 - (sum(ratios) / len(ratios)) / 0.001
    assert abs(exact - average_of_ratios) > 0.1  # the traffic is uneven enough to matter

    check = {
        "expr": f"abs(slo:error_budget_remaining:ratio - {exact!r}) < bool 1e-3",
        "eval_time": f"{int(end)}s",
        "exp_samples": [{"labels": '{service="shop",slo="availability",team="web"}', "value": 1}],
    }
    # Rules every 10m keep promtool to 4,320 evaluations; the traffic changes only on whole
    # hours, so 5m rates sampled every 10m still see every segment in its true proportion.
    # The figure comes out exact (5e-15) when promtool runs the groups in file order; in the
    # runs where it orders them otherwise, a 30m average may miss its newest 5m sample and the
    # figure moves by up to 1.4e-4 (0.014% of the budget). The tolerance, 0.1% of the budget,
    # is a hundred times tighter than the average-of-ratios error asserted above.
    assert_holds(tmp_path, scenario(rule_file, segments, 150, 600, [check]))


def an_hour_of(
    rule_file: str, ratios: str, alerts: list[dict[str, Any]], hours: int = 1
) -> dict[str, Any]:
    """A promtool test: `probe_failed_ratio` at `ratios` every 30s, and the SLO's alerts an
    hour (`hours`) in."""
    return {
        "rule_files": [rule_file],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "30s",
                "input_series": [{"series": "probe_failed_ratio", "values": ratios}],
                "alert_rule_test": [
                    {
                        "eval_time": f"{hours}h",
                        "alertname": "SLOErrorBudgetBurn",
                        "exp_alerts": alerts,
                    }
                ],
            }
        ],
    }


def test_alert_annotations_render_for_the_person_on_call(tmp_path: Path) -> None:
    # A constant 50% error ratio at 99% for 25 hours: every window up to 1d burns at exactly
    # 50x, and the budget left over what the window holds is 1 - 50 = -4900%. The figures read the SLO's series under the labels
    # its definition gives now (any text), not those recorded under its old owner's.
    owner = 'blue "on-call" \\ `ü\U0001f680`'
    rule_file = rules_of(
        textwrap.dedent("""
        service: shop
        slos:
          - name: ratio
            objective: 99
            labels: {owner: 'OWNER'}
            description: Half of all probes fail.
            sli:
              raw:
                error_ratio: avg_over_time(probe_failed_ratio[{{window}}])
            alerting:
              runbook: https://runbooks.example.com/shop/ratio
              # When the ticket became active depends on the order promtool runs the groups
              # in (the 1d window reads the coarse group): its cost is the page's to show here.
              ticket:
                annotations:
                  burn_cost: as the page says
    """).replace("OWNER", owner),
        tmp_path,
    )

    def expected(severity: str, tiers: str, fired: str, cost: str) -> dict[str, Any]:
        return {
            "exp_labels": {
                "owner": owner,
                "service": "shop",
                "slo": "ratio",
                "severity": severity,
                "sloguard_severity": severity,
            },
            "exp_annotations": {
                "summary": "shop/ratio is burning its error budget 50.0x too fast",
                "description": (
                    "Half of all probes fail. Objective 99% over 30d. The error budget is being "
                    f"spent 50.0x faster than the window allows (this {severity} fires at {tiers}). "
                    "Budget left: -4900%."
                ),
                "dashboard_url": "/d/slo-shop?var-slo=ratio",
                "runbook_url": "https://runbooks.example.com/shop/ratio",
                # The figures a notification lays out, each its own annotation.
                "objective": "99%",
                "window": "30d",
                "burn_rate": "50.0",
                "burn_windows": fired,
                "budget_left": "-4900%",
                "budget_exhausted_in": "already spent",
                # 50x for the 25 hours it has been active: 50 x 25h / 30d = 173.6%.
                "burn_cost": cost,
            },
        }

    page = expected(
        "page",
        "14.4x over 1h and 5m (2% of budget), 6x over 6h and 30m (5% of budget)",
        "1h and 5m (over 14.4x)",
        "173.6% of the error budget in 1d 1h 0m 0s",
    )
    ticket = expected(
        "ticket",
        "3x over 1d and 2h (10% of budget), 1x over 3d and 6h (10% of budget)",
        "1d and 2h (over 3x)",
        "as the page says",
    )
    document = an_hour_of(rule_file, "0.5x3000", [page, ticket], 25)
    document["tests"][0]["input_series"].append(
        {
            "series": 'slo:error_budget_remaining:ratio{service="shop",slo="ratio",owner="a"}',
            "values": "0.5x240",
        }
    )
    assert_holds(tmp_path, document)


def test_the_time_to_exhaustion_is_the_budget_left_at_the_alert_s_burn_rate(
    tmp_path: Path,
) -> None:
    # Half the budget's rate since the start (a ticket tier at 0.25x sees it): half the budget
    # is left, and at 0.5x it lasts the whole 30d window again.
    rule_file = rules_of(
        textwrap.dedent("""
        service: shop
        slos:
          - name: ratio
            objective: 99
            sli:
              raw:
                error_ratio: avg_over_time(probe_failed_ratio[{{window}}])
            alerting:
              windows:
                - {severity: page, long: 1h, short: 5m, factor: 14.4}
                - {severity: ticket, long: 1h, short: 5m, factor: 0.25}
              ticket:
                annotations:
                  # When it began depends on the order promtool runs the groups in.
                  burn_cost: not shown here
    """),
        tmp_path,
    )
    labels = {"service": "shop", "slo": "ratio", "severity": "ticket"}
    ticket = {
        "exp_labels": {**labels, "sloguard_severity": "ticket"},
        "exp_annotations": {
            "summary": "shop/ratio is burning its error budget 0.5x too fast",
            "description": "Objective 99% over 30d. The error budget is being spent 0.5x "
            "faster than the window allows (this ticket fires at 0.25x over 1h and 5m (0% of "
            "budget)). Budget left: 50%.",
            "dashboard_url": "/d/slo-shop?var-slo=ratio",
            "objective": "99%",
            "window": "30d",
            "burn_rate": "0.5",
            "burn_windows": "1h and 5m (over 0.25x)",
            "budget_left": "50%",
            "budget_exhausted_in": "in 30d 0h 0m 0s at this rate",
            "burn_cost": "not shown here",
        },
    }
    assert_holds(tmp_path, an_hour_of(rule_file, "0.005x240", [ticket]))


def test_a_calendar_week_budget_counts_from_monday(tmp_path: Path) -> None:
    # promtool's clock starts on Thursday 1970-01-01; the next week starts on Monday 1970-01-05
    # (day 4). 1% errors for 3 days, none on the 4th, then 0.05% (half the 99.9% budget).
    rule_file = rules_of(
        textwrap.dedent("""
        service: shop
        slos:
          - name: weekly
            objective: 99.9
            window: week
            sli:
              events:
                errors: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{window}}]))
                total: sum(rate(http_requests_total{job="shop"}[{{window}}]))
    """),
        tmp_path,
    )
    segments = [(3 * DAY, 9.9, 0.1), (DAY, 10, 0), (2 * DAY, 9.995, 0.005)]
    labels = '{service="shop",slo="weekly"}'

    def within(at: float, expected: float, tolerance: float) -> dict[str, Any]:
        return {
            "expr": f"abs(slo:error_budget_remaining:ratio - {expected!r}) < bool {tolerance}",
            "eval_time": f"{int(at)}s",
            "exp_samples": [{"labels": labels, "value": 1}],
        }

    # Sunday 23:00: the week (since Monday 1969-12-29) holds 3 days at 1% of 4: a 7.5x burn,
    # -6.5 left (measured -6.588: the data only starts on Thursday, and its first 5m rates and
    # hourly averages are partial). Tuesday noon: only Monday and half of Tuesday at half the
    # budget, so 0.5 is left, where the rolling 7d budget would still be overspent (measured
    # 0.5016: the hourly averages smooth Sunday into the week's first hour).
    checks = [within(4 * DAY - HOUR, 1 - 7.5, 0.2), within(5.5 * DAY, 0.5, 0.005)]
    assert_holds(tmp_path, scenario(rule_file, segments, 60, 600, checks))


def test_a_calendar_month_budget_counts_from_the_first(tmp_path: Path) -> None:
    # January 1970 at a 5x burn overspends the month; from February 1 (day 31) errors drop to
    # 0.5x, so on February 2 at noon half the budget is left. Measured 0.4857: the first
    # hourly slot of February reaches back up to one coarse interval (10m) into January, at a
    # 4.5x higher burn: up to 0.021 over 36 hours, hence the tolerance.
    rule_file = rules_of(
        textwrap.dedent("""
        service: shop
        slos:
          - name: monthly
            objective: 99.9
            window: month
            sli:
              events:
                errors: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{window}}]))
                total: sum(rate(http_requests_total{job="shop"}[{{window}}]))
    """),
        tmp_path,
    )
    segments = [(31 * DAY, 9.95, 0.05), (2 * DAY, 9.995, 0.005)]
    checks = [
        {
            "expr": "abs(slo:error_budget_remaining:ratio - 0.5) < bool 0.03",
            "eval_time": f"{int(32.5 * DAY)}s",
            "exp_samples": [{"labels": '{service="shop",slo="monthly"}', "value": 1}],
        }
    ]
    assert_holds(tmp_path, scenario(rule_file, segments, 60, 600, checks))


def test_a_calendar_slo_relabelled_mid_month_keeps_its_budget(tmp_path: Path) -> None:
    # Until an hour in, the SLO's team was `old`, and its hourly averages were recorded under
    # it at a 50% error ratio. The budget and the window's events are the SLO's own rules,
    # reading the month's hours: they read them under the labels the definition gives now
    # (two series that are one once the rule's labels are set fail the rule for the month).
    slo = {"name": "monthly", "objective": 99, "window": "month", "sli": yaml.safe_load(SHOP_SLI)}
    rule_file = rules_of(
        yamltext.dump({"service": "shop", "labels": {"team": "new"}, "slos": [slo]}), tmp_path
    )
    old = '{service="shop",slo="monthly",team="old"}'
    document = scenario(rule_file, [(4 * HOUR, 9.95, 0.05)], 30, 30, [])
    document["tests"][0]["input_series"] += [
        {"series": f"slo:sli_errors:rate1h{old}", "values": "5x120"},
        {"series": f"slo:sli_total:rate1h{old}", "values": "10x120"},
    ]
    new = '{service="shop",slo="monthly",team="new"}'
    document["tests"][0]["promql_expr_test"] = [
        {  # 0.5% errors at 99%: half the budget spent
            "expr": "round(slo:error_budget_remaining:ratio, 0.01)",
            "eval_time": f"{4 * HOUR}s",
            "exp_samples": [{"labels": new, "value": 0.5}],
        },
        {
            "expr": "count by (team) (slo:sli_events:window > 0)",
            "eval_time": f"{4 * HOUR}s",
            "exp_samples": [{"labels": '{team="new"}', "value": 1}],
        },
    ]
    assert_holds(tmp_path, document)


def test_slos_sharing_rules_each_get_their_own_burn_rates_and_budget(tmp_path: Path) -> None:
    # Three SLOs on the same counters at 1% errors: the rules that read only recorded series
    # are shared (one rule per name, each objective's SLOs joined with `or`), and the 6h burn
    # rate, fast for the guarded SLO and slow for the others, is shared in one group and the
    # SLOs' own in the other. Each SLO still gets its own budget's figures: a 10x burn at
    # 99.9%, 1x at 99%, and the budget left to match. What the alerts fire on is one rule
    # per severity too, the guarded SLO's tiers (with their minimum of events) joined to the
    # others' with `or`: the 10x burns ticket and the guarded SLO pages (6h/30m). The strict
    # SLO's 6h/30m burn rates are the slow group's, which at this test's 10-minute interval
    # the fast group reads as stale: its page is not checked here.
    rule_file = shop_slos(
        """
        - {name: strict, objective: 99.9, sli: SLI}
        - {name: loose, objective: 99, sli: SLI}
        - {name: guarded, objective: 99.9, sli: SLI, alerting: {min_events: 10}}
        """,
        tmp_path,
    )
    fast, slow, _ = yaml.safe_load((tmp_path / rule_file).read_text())["groups"]
    six_hours = [
        (group["name"], rule.get("labels", {}).get("slo"))
        for group in (fast, slow)
        for rule in group["rules"]
        if rule.get("record") == "slo:burn_rate:6h"
    ]
    assert six_hours == [
        ("sloguard-shop-fast", None),
        ("sloguard-shop-slow", "strict"),
        ("sloguard-shop-slow", "loose"),
    ]

    def near(expr: str, at: float, expected: dict[str, float], tolerance: float) -> dict[str, Any]:
        return {
            "expr": f"abs({expr} - on(slo) group_left() ("
            + " or ".join(
                f'label_replace(vector({v}), "slo", "{s}", "", "")' for s, v in expected.items()
            )
            + f")) < bool {tolerance}",
            "eval_time": f"{int(at)}s",
            "exp_samples": [
                {"labels": f'{{service="shop",slo="{s}"}}', "value": 1} for s in expected
            ],
        }

    burns: dict[str, float] = {"strict": 10, "loose": 1, "guarded": 10}
    at = 3 * DAY
    checks = [
        near(f"slo:burn_rate:{w}", at, burns, 0.2) for w in ("5m", "30m", "1h", "2h", "6h", "1d")
    ]
    # The window's error ratio is that of the three days it holds: 10x and 1x the budget.
    checks.append(
        near(
            "slo:error_budget_remaining:ratio",
            at,
            {s: 1 - b for s, b in burns.items()},
            0.05,
        )
    )
    alerts = [
        {
            "expr": f'ALERTS{{alertstate="firing",sloguard_severity="{severity}",slo=~"{"|".join(slos)}"}}',
            "eval_time": f"{int(at)}s",
            "exp_samples": [
                {
                    "labels": f'ALERTS{{alertname="SLOErrorBudgetBurn",alertstate="firing",'
                    f'service="shop",slo="{s}",severity="{severity}",'
                    f'sloguard_severity="{severity}"}}',
                    "value": 1,
                }
                for s in slos
            ],
        }
        for severity, slos in (("page", ["guarded"]), ("ticket", ["strict", "guarded"]))
    ]
    checks += alerts
    assert_holds(tmp_path, scenario(rule_file, [(3 * DAY + HOUR, 9.9, 0.1)], 60, 600, checks))


def test_the_tiers_an_alert_fires_on_are_recorded_at_every_evaluation(tmp_path: Path) -> None:
    # A restarted Prometheus does not mark stale the series its last run recorded: were the
    # tiers an alert fires on recorded only while one held, the alert would go on reading the
    # last burning sample for 5 minutes after a restart. Over clean traffic they read 0, a
    # sample at every evaluation that overwrites anything older.
    rule_file = shop_slos("- {name: availability, objective: 99.9, sli: SLI}", tmp_path)
    checks = [
        {
            "expr": f"{severity}{{}}",
            "eval_time": f"{at}s",
            "exp_samples": [
                {"labels": f'{severity}{{service="shop",slo="availability"}}', "value": 0}
            ],
        }
        for severity in ("slo:tier_burn_rate:page", "slo:tier_burn_rate:ticket")
        for at in (60, 3600)
    ]
    assert_holds(
        tmp_path, scenario(rule_file, [(HOUR, 10, 0)], 30, 30, [*checks, silent(PAGE, 3600)])
    )


def test_a_per_label_slo_fills_the_gaps_of_each_label_value_alone(tmp_path: Path) -> None:
    # Route a serves 1% errors; route b has never had an error series; route c has had no
    # traffic for two hours. The recorded 5m errors and the burn rates read from the SLI's own
    # queries fall back to 0 per route, from the recorded 5m total, matched ignoring the labels
    # the rules set: each route once, and no route's 0 hiding another's burn.
    rule_file = rules_of(
        textwrap.dedent("""
        service: shop
        labels: {team: web}
        slos:
          - name: routes
            objective: 99.9
            labels: {tier: "1"}
            sli:
              events:
                errors: sum by (route) (rate(http_requests_total{job="shop",code="500"}[{{window}}]))
                total: sum by (route) (rate(http_requests_total{job="shop"}[{{window}}]))
    """),
        tmp_path,
    )
    series = 'http_requests_total{{job="shop",route="{}",code="{}"}}'
    document = {
        "rule_files": [rule_file],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series.format("a", "200"), "values": "0+594x240"},
                    {"series": series.format("a", "500"), "values": "0+6x240"},
                    {"series": series.format("b", "200"), "values": "0+600x240"},
                    {"series": series.format("c", "200"), "values": "0+600x60 36000+0x180"},
                ],
                "promql_expr_test": [
                    {
                        "expr": f"round(slo:burn_rate:{window}, 0.1)",
                        "eval_time": "4h",
                        "exp_samples": [
                            {
                                "labels": f'{{route="{route}",service="shop",slo="routes",'
                                'team="web",tier="1"}',
                                "value": value,
                            }
                            for route, value in (("a", 10), ("b", 0), ("c", 0))
                        ],
                    }
                    for window in ("1h", "30m", "5m")
                ]
                + [
                    {
                        "expr": "round(slo:sli_errors:rate5m, 0.01)",
                        "eval_time": "4h",
                        "exp_samples": [
                            {
                                "labels": f'{{route="{route}",service="shop",slo="routes",'
                                'team="web",tier="1"}',
                                "value": value,
                            }
                            for route, value in (("a", 0.1), ("b", 0), ("c", 0))
                        ],
                    }
                ],
            }
        ],
    }
    assert_holds(tmp_path, document)


def test_an_slo_relabelled_mid_burn_still_tickets_from_its_new_series(tmp_path: Path) -> None:
    # The SLO's team was `old` until its definition said `new`. The shared rules go on
    # recording the old series for as long as a window reaches back, so for a while both burn.
    # The alerts read only the series under the labels the definition gives now: two series
    # that are one alert once the alert's labels are set would fail the rule, and no alert
    # would fire at all. 20x for 5 hours: the ticket (1d over its 5 hours recorded, 2h) and
    # the page (1h, 5m), under each team's series.
    slo = {"name": "availability", "objective": 99.9, "sli": yaml.safe_load(SHOP_SLI)}
    definition = {"service": "shop", "labels": {"team": "new"}, "slos": [slo]}
    rule_file = rules_of(yamltext.dump(definition), tmp_path)
    old = '{service="shop",slo="availability",team="old"}'
    document = scenario(rule_file, [(6 * HOUR, 9.8, 0.2)], 15, 30, [])
    document["tests"][0]["input_series"] += [
        {"series": f"slo:sli_errors:rate5m{old}", "values": "0.4x720"},
        {"series": f"slo:sli_total:rate5m{old}", "values": "20x720"},
    ]
    ticket = TICKET.replace("}", ',team="new"}')
    at = 5 * HOUR
    document["tests"][0]["promql_expr_test"] = [
        firing(ticket, at),
        firing(TICKET, at),
        {
            "expr": "count(ALERTS)",
            "eval_time": f"{at}s",
            "exp_samples": [{"labels": "{}", "value": 2}],
        },
    ]
    assert_holds(tmp_path, document)


@pytest.mark.parametrize(
    ("burn", "minutes", "page", "ticket"),
    [
        # 8x for 40 minutes: 0.74% of the budget. Six hours of history would hold the 6h
        # window at 0.9x; the minutes recorded alone read 8x, and it paged 45 minutes in.
        (8, 40, None, None),
        # 10x from the start: the 6h/30m page at 3.6 hours and the 1d/2h ticket at 7.2,
        # as with a whole history.
        (10, 600, 3.6 * HOUR, 7.2 * HOUR),
    ],
)
def test_windows_the_rules_have_not_recorded_yet_count_as_clean(
    burn: float, minutes: int, page: float | None, ticket: float | None, tmp_path: Path
) -> None:
    # The counters have served for 6 hours when the SLO's rules are first loaded (the SLI
    # answers only once `loaded` has a value); its burn starts 5 minutes later. Windows read
    # from recorded series hold only what has been recorded since: the time before counts as
    # clean, not as the average of the minutes recorded.
    gated = SHOP_SLI.replace("[{{window}}]))", "[{{window}}])) and on() loaded")
    slo = {"name": "availability", "objective": 99.9, "sli": yaml.safe_load(gated)}
    rule_file = rules_of(yamltext.dump({"service": "shop", "slos": [slo]}), tmp_path)
    load, start, every = 6 * HOUR, 6 * HOUR + 300, 30
    bad = burn * 0.001 * 10
    segments = [(start, 10, 0), (minutes * 60, 10 - bad, bad), (12 * HOUR, 10, 0)]
    end = start + 9 * HOUR
    checks = []
    for alert, due in ((PAGE, page), (TICKET, ticket)):
        if due is None:
            checks.append(never(alert, end))
        else:  # the smoothing lag of the recorded windows, and their minutes of evaluation
            checks += [silent(alert, start + due - 600), firing(alert, start + due + 900)]
    document = scenario(rule_file, segments, every, every, checks)
    document["tests"][0]["input_series"].append(
        {"series": "loaded", "values": f"_x{load // every} 1x{(end - load) // every}"}
    )
    assert_holds(tmp_path, document)
