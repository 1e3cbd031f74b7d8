"""Shape of the generated rules: groups, names, labels, annotations, formats, determinism."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from sloguard import promql
from sloguard.loading import load
from sloguard.rules.generation import RuleOptions, render_groups
from sloguard.rules.output import RuleFormat, render_rule_file, render_rule_files
from sloguard.spec.model import ServiceSLOs
from tests.support.repo import FIXTURES, FORMATS, REPO, shop_file
from tests.support.rules import selects

pytestmark = pytest.mark.integration  # starts real processes or servers

SPEC = ServiceSLOs.model_validate(
    yaml.safe_load(
        textwrap.dedent("""
    service: shop
    labels: {team: web}
    slos:
      - name: availability
        objective: 99.9
        description: Requests that do not fail.
        labels: {tier: "1"}
        sli:
          events:
            errors: sum(rate(e[{{window}}]))
            total: sum(rate(t[{{window}}]))
        alerting:
          runbook: https://runbooks.example.com/shop
          page: {labels: {severity: critical, pager: "yes"}}
          ticket: {annotations: {queue: web-tickets}}
      - name: ratio
        objective: 99
        sli: {raw: {error_ratio: "avg_over_time(x[{{window}}])"}}
        alerting:
          min_events: 0
          ticket: {disable: true}
""")
    )
)


def rules_by_name(groups: list[dict[str, Any]], slo: str) -> dict[str, dict[str, Any]]:
    found = {}
    for group in groups:
        for rule in group["rules"]:
            if selects(rule, slo):
                key = rule.get("record") or f"{rule['alert']}:{rule['labels']['severity']}"
                found[key] = {**rule, "group": group["name"]}
    return found


def test_three_groups_by_how_fast_their_records_move() -> None:
    groups = render_groups(SPEC)
    assert [(g["name"], g["interval"]) for g in groups] == [
        ("sloguard-shop-fast", "30s"),
        ("sloguard-shop-slow", "2m"),
        ("sloguard-shop-coarse", "10m"),
    ]


def test_each_slo_records_its_series_and_two_alerts() -> None:
    rules = rules_by_name(render_groups(SPEC), "availability")
    records = sorted(k for k, r in rules.items() if "record" in r)
    assert records == sorted(
        [
            promql.ERRORS,
            promql.TOTAL,
            promql.ERRORS_COARSE,
            promql.TOTAL_COARSE,
            promql.ERRORS_UNCOUNTED,
            promql.TOTAL_UNCOUNTED,
            promql.ERRORS_WINDOW_SUM,
            promql.TOTAL_WINDOW_SUM,
            *(promql.burn_rate_metric(w) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
            promql.BUDGET_REMAINING,
            promql.WINDOW_EVENTS,
            promql.OBJECTIVE,
            promql.ERROR_BUDGET,
            promql.INFO,
            # What the alerts fire on.
            promql.tier_burn_rate_metric("page"),
            promql.tier_burn_rate_metric("ticket"),
        ]
    )
    assert rules[promql.ERRORS]["group"] == "sloguard-shop-fast"
    # The page tier that fires first within an hour is fast; the 6h/30m tier, first only
    # hours into a burn, is recorded with the ticket tiers.
    fast = {w for w in ("5m", "1h") if rules[promql.burn_rate_metric(w)]["group"].endswith("fast")}
    slow = {
        w
        for w in ("30m", "2h", "6h", "1d", "3d")
        if rules[promql.burn_rate_metric(w)]["group"].endswith("slow")
    }
    assert (fast, slow) == ({"5m", "1h"}, {"30m", "2h", "6h", "1d", "3d"})
    assert rules[promql.ERRORS_COARSE]["group"] == "sloguard-shop-coarse"
    # Recorded before the burn rates that read them, in the same group's evaluation.
    slow = [r.get("record") for r in render_groups(SPEC)[1]["rules"]]
    assert slow.index(promql.TOTAL_UNCOUNTED) < slow.index(promql.burn_rate_metric("1d"))
    # The window's sums follow the averages they sum; the slow group carries them forward.
    coarse = [r.get("record") for r in render_groups(SPEC)[2]["rules"]]
    assert coarse.index(promql.TOTAL_COARSE) < coarse.index(promql.ERRORS_WINDOW_SUM)
    assert rules[promql.BUDGET_REMAINING]["group"] == "sloguard-shop-slow"


def test_a_calendar_window_sums_hourly_averages_instead_of_recording_window_sums() -> None:
    monthly = SPEC.model_copy(
        update={"slos": [SPEC.slos[0].model_copy(update={"window": "month"})]}
    )
    rules = rules_by_name(render_groups(monthly), "availability")
    assert promql.TOTAL_HOURLY in rules and promql.TOTAL_WINDOW_SUM not in rules
    assert promql.ERRORS_WINDOW_SUM not in rules
    assert "window_sum" not in rules[promql.BUDGET_REMAINING]["expr"]


def test_records_carry_service_slo_and_definition_labels() -> None:
    rules = rules_by_name(render_groups(SPEC), "availability")
    assert rules[promql.TOTAL]["labels"] == {
        "service": "shop",
        "slo": "availability",
        "team": "web",
        "tier": "1",
    }
    info = rules[promql.INFO]
    assert info["labels"]["objective"] == "99.9"
    assert info["labels"]["window"] == "30d"
    # Validation reserves exactly the labels only the info series has.
    assert info["labels"].keys() - rules[promql.TOTAL]["labels"].keys() == set(promql.INFO_LABELS)
    assert info["expr"] == "vector(1)"
    assert rules[promql.OBJECTIVE]["expr"] == "vector(0.999)"
    assert rules[promql.ERROR_BUDGET]["expr"] == "vector(0.001)"


def test_alerts_are_routable_and_actionable() -> None:
    rules = rules_by_name(
        render_groups(SPEC, RuleOptions(grafana_url="https://grafana.example.com/")), "availability"
    )
    page = rules["SLOErrorBudgetBurn:critical"]
    assert page["group"] == "sloguard-shop-fast"
    assert page["labels"] == {
        "service": "shop",
        "slo": "availability",
        "team": "web",
        "tier": "1",
        "severity": "critical",
        "pager": "yes",
        "sloguard_severity": "page",
    }
    # It fires on its tiers' condition recorded just before it in its group, selected under
    # every label the definition gives the SLO now.
    assert page["expr"] == (
        'slo:tier_burn_rate:page{service="shop",slo="availability",team="web",tier="1"} > 0'
    )
    assert rules["slo:tier_burn_rate:page"]["group"] == page["group"]
    annotations = page["annotations"]
    assert annotations["runbook_url"] == "https://runbooks.example.com/shop"
    assert (
        annotations["dashboard_url"]
        == "https://grafana.example.com/d/slo-shop?var-slo=availability"
    )
    assert "{{ $value" in annotations["summary"]
    assert "14.4x over 1h and 5m (2% of budget)" in annotations["description"]
    assert "Requests that do not fail." in annotations["description"]
    assert "slo:error_budget_remaining:ratio" in annotations["description"]
    ticket = rules["SLOErrorBudgetBurn:ticket"]
    assert ticket["group"] == "sloguard-shop-slow"
    assert ticket["annotations"]["queue"] == "web-tickets"


def test_a_disabled_severity_has_no_alert() -> None:
    rules = rules_by_name(render_groups(SPEC), "ratio")
    assert "SLOErrorBudgetBurn:page" in rules
    assert "SLOErrorBudgetBurn:ticket" not in rules


def test_the_low_traffic_guard_is_only_added_when_asked_for() -> None:
    condition = promql.tier_burn_rate_metric("page")
    plain = rules_by_name(render_groups(SPEC), "availability")[condition]
    assert ">=" not in plain["expr"]
    guarded_spec = SPEC.model_copy(
        update={
            "slos": [
                SPEC.slos[0].model_copy(
                    update={"alerting": SPEC.slos[0].alerting.model_copy(update={"min_events": 50})}
                )
            ]
        }
    )
    guarded = rules_by_name(render_groups(guarded_spec), "availability")[condition]
    assert guarded["expr"].count(">= 50") == 2


def test_operator_format_wraps_the_same_groups_in_a_prometheusrule() -> None:
    document = yaml.safe_load(render_rule_file(SPEC, ["a.yaml"], RuleFormat.OPERATOR))
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["kind"] == "PrometheusRule"
    assert document["metadata"]["name"] == "sloguard-shop"
    assert document["spec"]["groups"] == render_groups(SPEC)


def test_mimir_format_is_one_namespace_per_service_that_promtool_accepts_without_it(
    promtool: str, tmp_path: Path
) -> None:
    """mimirtool's file: `namespace` beside the plain groups, and nothing else."""
    text = render_rule_file(SPEC, ["a.yaml"], RuleFormat.MIMIR)
    document = yaml.safe_load(text)
    assert list(document) == ["namespace", "groups"]
    assert document["namespace"] == "sloguard-shop"
    assert document["groups"] == render_groups(SPEC)
    names = [g["name"] for g in document["groups"]]
    assert len(names) == len(set(names))  # a namespace's groups are keyed by name
    # promtool refuses the unknown `namespace` key, and accepts the rest.
    whole, plain = tmp_path / "whole.yml", tmp_path / "plain.yml"
    whole.write_text(text)
    plain.write_text(yaml.safe_dump({"groups": document["groups"]}))
    checked = [
        subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, check=False)
        for f in (whole, plain)
    ]
    assert [c.returncode for c in checked] == [1, 0], checked[1].stdout


def test_output_is_deterministic_and_names_its_sources() -> None:
    first = render_rule_file(SPEC, ["b.yaml", "a.yaml"], RuleFormat.PROMETHEUS)
    assert first == render_rule_file(SPEC, ["a.yaml", "b.yaml"], RuleFormat.PROMETHEUS)
    assert first.startswith("# Generated by sloguard from a.yaml, b.yaml. DO NOT EDIT")
    assert yaml.safe_load(first) == {"groups": render_groups(SPEC)}


def test_every_generated_rule_file_passes_promtool_check(promtool: str, tmp_path: Path) -> None:
    paths = [REPO / "slo-definitions", *(shop_file(f) for f in FORMATS)]
    written = []
    for path in paths:
        loaded = load([path])
        for name, text in render_rule_files(
            loaded.services, loaded.sources, RuleFormat.PROMETHEUS
        ).items():
            target = tmp_path / f"{path.parent.name}-{path.name}-{name}"
            target.write_text(text)
            written.append(str(target))
    result = subprocess.run(
        [promtool, "check", "rules", *written], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(written)


@pytest.mark.parametrize("fmt", list(RuleFormat))
def test_generate_for_a_service_from_several_formats_merges_them(
    fmt: RuleFormat, tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").write_text((FIXTURES / "native" / "shop.yaml").read_text())
    (tmp_path / "b.yaml").write_text(
        (FIXTURES / "openslo" / "shop.yaml")
        .read_text()
        .replace("name: availability", "name: avail-openslo")
    )
    loaded = load([tmp_path])
    [(name, text)] = render_rule_files(loaded.services, loaded.sources, fmt).items()
    assert name.startswith("shop.")
    assert f"from {tmp_path / 'a.yaml'}, {tmp_path / 'b.yaml'}" in text
    assert text.count("alert: SLOErrorBudgetBurn") == 4
