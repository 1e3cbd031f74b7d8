"""A trace SLO gets the same rules as any other, over the agent's span counters: they pass
`promtool check rules`, and `promtool test rules` proves an outage pages, a slow burn tickets
and healthy traffic stays silent."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from sloguard.loading import load
from sloguard.rules.output import RuleFormat, render_rule_files
from sloguard.scenarios import counter_values
from tests.support.scenarios import DAY, HOUR, assert_holds, firing, never, silent

DEFINITION = """\
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      traces: {service: checkout, span: {name: POST /pay, kind: SERVER}}
"""
PAGE = 'ALERTS{alertname="SLOErrorBudgetBurn",alertstate="firing",service="checkout",slo="availability",severity="page"}'
TICKET = PAGE.replace('severity="page"', 'severity="ticket"')

pytestmark = [pytest.mark.usefixtures("promtool"), pytest.mark.integration]


def rules(tmp_path: Path) -> tuple[str, str]:
    """The rule file's name, and the trace SLI's key."""
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "checkout.yaml").write_text(DEFINITION)
    loaded = load([tmp_path / "defs"])
    [(name, text)] = render_rule_files(
        loaded.services, loaded.sources, RuleFormat.PROMETHEUS
    ).items()
    (tmp_path / name).write_text(text)
    traces = loaded.services[0].slos[0].sli.traces
    assert traces is not None
    return name, traces.key


def scenario(
    tmp_path: Path,
    segments: list[tuple[float, float, float]],
    sample: int,
    evaluation: int,
    checks: list[dict[str, Any]],
) -> dict[str, Any]:
    rule_file, key = rules(tmp_path)
    good, bad = counter_values(segments, sample)
    series = f'sloguard_trace_events_total{{service="checkout",span="POST /pay",sli="{key}",version="2.4.1",outcome="%s"}}'
    return {
        "rule_files": [rule_file],
        "evaluation_interval": f"{evaluation}s",
        "tests": [
            {
                "interval": f"{sample}s",
                "input_series": [
                    {"series": series % "good", "values": good},
                    {"series": series % "bad", "values": bad},
                ],
                "promql_expr_test": checks,
            }
        ],
    }


def test_the_rules_of_a_trace_slo_pass_promtool_check(tmp_path: Path) -> None:
    rule_file, key = rules(tmp_path)
    result = subprocess.run(
        ["promtool", "check", "rules", rule_file],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (tmp_path / rule_file).read_text()
    assert f'sloguard_trace_events_total{{sli="{key}",outcome="bad"}}' in text


def test_a_full_outage_of_the_spans_pages_within_a_minute(tmp_path: Path) -> None:
    onset = 6 * HOUR
    checks = [silent(PAGE, onset), firing(PAGE, onset + 60), firing(PAGE, onset + 10 * 60)]
    assert_holds(tmp_path, scenario(tmp_path, [(onset, 10, 0), (10 * 60, 0, 10)], 15, 30, checks))


def test_a_slow_burn_of_the_spans_tickets_and_never_pages(tmp_path: Path) -> None:
    onset, run = 3 * DAY, 2 * DAY
    checks = [firing(TICKET, onset + 1.5 * DAY + 1920), never(PAGE, onset + run - 60)]
    assert_holds(tmp_path, scenario(tmp_path, [(onset, 10, 0), (run, 9.98, 0.02)], 60, 240, checks))


def test_healthy_spans_stay_silent(tmp_path: Path) -> None:
    run = 4 * DAY
    checks = [never(PAGE, run - 60), never(TICKET, run - 60)]
    assert_holds(tmp_path, scenario(tmp_path, [(run, 9.995, 0.005)], 60, 240, checks))
