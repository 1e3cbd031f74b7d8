"""`sloguard prove` and its scenarios: they pass on sound rules and fail on broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sloguard import yamltext
from sloguard.cli import main
from sloguard.loading import load
from sloguard.rules.output import RuleFormat, render_rule_file
from sloguard.scenarios import (
    FAST,
    first_alert_seconds,
    promtool_tests,
    scenario_spec,
    scenarios_for,
)
from sloguard.spec.model import Severity
from tests.support.repo import FIXTURES, REPO
from tests.support.running import run_promtool_test

pytestmark = pytest.mark.integration  # starts real processes or servers

SHOP = load([FIXTURES / "native"]).services[0]


def test_expected_alert_times_follow_the_burn_rate_arithmetic() -> None:
    slo = SHOP.slos[0]
    # 100% errors at 99.9% is a 1000x burn: 1h x 14.4 / 1000 = 51.84s.
    assert first_alert_seconds(slo, 1000, Severity.PAGE) == pytest.approx(51.84)
    # 2x: only the 1x ticket tier (3d) can fire, after 1.5d plus the 2.5m smoothing lag of
    # the 5m rates that end its window.
    assert first_alert_seconds(slo, 2, Severity.TICKET) == pytest.approx(1.5 * 86400 + 150)
    assert first_alert_seconds(slo, 2, Severity.PAGE) is None


def test_each_slo_gets_outage_burn_and_silence_scenarios() -> None:
    names = [s.name for s in scenarios_for(SHOP, SHOP.slos[0])]
    assert names == ["outage", "burn-2x", "burn-0.5x"]


def test_an_outage_scenario_fails_against_rules_that_page_too_late(
    promtool: str, tmp_path: Path
) -> None:
    slo = SHOP.slos[0]
    [outage] = [s for s in scenarios_for(SHOP, slo) if s.name == "outage"]
    text = render_rule_file(scenario_spec(SHOP, slo), [], RuleFormat.PROMETHEUS)
    (tmp_path / "rules.yml").write_text(text)
    assert run_promtool_test(tmp_path, promtool_tests("rules.yml", [outage])).ok
    # The same rules with the fast tier's factor raised tenfold must miss the bound.
    (tmp_path / "rules.yml").write_text(text.replace("> 14.4", "> 144"))
    result = run_promtool_test(tmp_path, promtool_tests("rules.yml", [outage]))
    assert not result.ok
    assert 'severity=\\"page\\"' in result.output
    assert outage.timing == FAST


def test_scenarios_of_one_file_must_share_an_interval() -> None:
    with pytest.raises(ValueError, match="share"):
        promtool_tests("r.yml", scenarios_for(SHOP, SHOP.slos[0]))


def test_prove_runs_every_scenario_and_reports_each(promtool: str) -> None:
    result = CliRunner().invoke(main, ["prove", str(FIXTURES / "native")])
    assert result.exit_code == 0, result.output
    assert "PASS shop/availability: a full outage pages within 2m" in result.stdout
    assert (
        "PASS shop/availability: a steady 2x burn never pages and opens a ticket within 1d12h12m"
        in result.stdout
    )
    assert "3 of 3 alerting scenarios held" in result.stdout


def test_prove_proves_the_bundled_definitions(promtool: str) -> None:
    result = CliRunner().invoke(main, ["prove", str(REPO / "slo-definitions")])
    assert result.exit_code == 0, result.output
    assert "promtool check rules: ok" in result.stdout
    assert "20 of 20 alerting scenarios held" in result.stdout


def test_scenario_files_are_valid_yaml() -> None:
    for scenario in scenarios_for(SHOP, SHOP.slos[0]):
        assert "input_series" in yamltext.dump(promtool_tests("r.yml", [scenario]))


def test_prove_without_promtool_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(main, ["prove", str(FIXTURES / "native")])
    assert result.exit_code == 2
    assert "promtool not found on PATH" in result.stderr
    assert "apt-get install -y prometheus" in result.stderr
