"""`sloguard prove`: generate rules, check them with promtool and run every SLO's scenarios."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sloguard import tools, yamltext
from sloguard.files import write_files
from sloguard.loading import Loaded
from sloguard.rules.generation import RuleOptions
from sloguard.rules.output import RuleFormat, render_rule_file, render_rule_files
from sloguard.scenarios import Scenario, promtool_tests, scenario_spec, scenarios_for


@dataclass(frozen=True)
class ScenarioResult:
    """Whether one scenario held, with promtool's words when it did not."""

    service: str
    scenario: Scenario
    ok: bool
    output: str


def prove(
    loaded: Loaded,
    out_dir: Path,
    options: RuleOptions,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> tuple[tools.ToolRun, list[ScenarioResult]]:
    """Write rules to `out_dir`, `promtool check rules` them, then test every scenario."""
    files = render_rule_files(loaded.services, loaded.sources, RuleFormat.PROMETHEUS, options)
    written = write_files(out_dir, files)
    checked = tools.check_rules(written)
    if not checked.ok:
        return checked, []
    jobs = []
    for spec in loaded.services:
        for slo in spec.slos:
            # Each SLO's scenarios run against its own rules fed by a synthetic counter (promtool
            # evaluates every rule of a file at every step; other SLOs would only slow it down).
            alone = scenario_spec(spec, slo)
            rule_file = f".{spec.service}.{slo.name}.rules.yml"
            (out_dir / rule_file).write_text(
                render_rule_file(
                    alone, loaded.sources.get(spec.service, []), RuleFormat.PROMETHEUS, options
                ),
                encoding="utf-8",
            )
            for scenario in scenarios_for(spec, slo):
                test_file = out_dir / f".{spec.service}.{slo.name}.{scenario.name}.test.yml"
                test_file.write_text(
                    yamltext.dump(promtool_tests(rule_file, [scenario])), encoding="utf-8"
                )
                jobs.append((spec.service, scenario, test_file))

    def run(job: tuple[str, Scenario, Path]) -> ScenarioResult:
        service, scenario, test_file = job
        tested = tools.test_rules(test_file)
        test_file.unlink()
        result = ScenarioResult(service, scenario, tested.ok, tested.output)
        if progress:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(run, jobs))
    for leftover in out_dir.glob(".*.rules.yml"):
        leftover.unlink()
    return checked, results
