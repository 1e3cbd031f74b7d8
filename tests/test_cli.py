"""The `sloguard` command as users run it: exit codes, messages, files written or not."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from sloguard.cli import main
from sloguard.cli.reference import configuration_reference
from sloguard.deferred import DeferredFiles
from tests.support.boards import write_script
from tests.support.repo import FIXTURES, FORMATS, REPO, WriteDefs, shop_file
from tests.support.running import run_cli as run

GOOD = (FIXTURES / "native" / "shop.yaml").read_text()


def test_help_explains_formats_and_exit_codes() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for word in (
        "Sloth",
        "OpenSLO",
        "Pyrra",
        "Exit codes",
        "validate",
        "generate",
        "check",
        "prove",
    ):
        assert word in out


def test_validate_reports_a_summary(write_defs: WriteDefs) -> None:
    code, out, _ = run("validate", str(write_defs(**{"shop.yaml": GOOD})))
    assert (code, out.strip()) == (0, "valid: 1 file(s), 1 service(s), 1 SLO(s)")


def test_validate_lists_every_problem_and_exits_2(write_defs: WriteDefs) -> None:
    directory = write_defs(
        **{
            "a.yaml": GOOD.replace("objective: 99.9", "objective: 101"),
            "b.yaml": GOOD.replace("service: shop", "service: web").replace(
                "[{{window}}]))\n", "[5m]))\n", 1
            ),
        }
    )
    code, _, err = run("validate", str(directory))
    assert code == 2
    assert f"error: {directory / 'a.yaml'}:6: shop/availability: slos[0].objective:" in err
    assert f"error: {directory / 'b.yaml'}:11: web/availability: slos[0].sli.events.errors:" in err
    assert "2 problem(s) found; nothing was written." in err


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    code, _, err = run("validate", str(tmp_path / "nope"))
    assert code == 2
    assert "no such file" in err


def test_validate_refuses_a_recursive_alias_with_its_line_not_a_traceback(
    write_defs: WriteDefs,
) -> None:
    directory = write_defs(**{"a.yaml": "service: a\nslos: &a [ *a ]\n"})
    code, _, err = run("validate", str(directory))
    assert code == 2
    assert f"error: {directory / 'a.yaml'}:2: YAML aliases are not allowed (anchor &a)" in err


def test_validate_refuses_a_dangling_link_that_would_drop_a_service(
    write_defs: WriteDefs,
) -> None:
    directory = write_defs(**{"shop.yaml": GOOD})
    (directory / "web.yaml").symlink_to("web-v2.yaml")
    code, _, err = run("validate", str(directory))
    assert code == 2
    assert f"error: {directory / 'web.yaml'}: broken symbolic link to web-v2.yaml" in err


def test_generate_writes_one_file_per_service(write_defs: WriteDefs, tmp_path: Path) -> None:
    out = tmp_path / "rules"
    code, stdout, _ = run(
        "generate", str(write_defs(**{"shop.yaml": GOOD})), "--rules-out", str(out)
    )
    assert code == 0
    assert "generated 1 rule file(s)" in stdout
    assert [p.name for p in out.iterdir()] == ["shop.rules.yml"]
    assert yaml.safe_load((out / "shop.rules.yml").read_text())["groups"]


def test_generate_writes_nothing_when_any_definition_is_bad(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    out = tmp_path / "rules"
    directory = write_defs(**{"shop.yaml": GOOD})
    assert run("generate", str(directory), "--rules-out", str(out))[0] == 0
    before = (out / "shop.rules.yml").read_text()
    (directory / "shop.yaml").write_text(GOOD.replace("objective: 99.9", "objective: 99.5"))
    (directory / "web.yaml").write_text(
        GOOD.replace("service: shop", "service: web").replace("99.9", "1000")
    )
    code, _, err = run("generate", str(directory), "--rules-out", str(out))
    assert code == 2
    assert "nothing was written" in err
    assert (out / "shop.rules.yml").read_text() == before
    assert sorted(p.name for p in out.iterdir()) == ["shop.rules.yml"]


def test_generate_removes_files_of_services_that_are_gone(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    out = tmp_path / "rules"
    directory = write_defs(
        **{"shop.yaml": GOOD, "web.yaml": GOOD.replace("service: shop", "service: web")}
    )
    run("generate", str(directory), "--rules-out", str(out))
    (out / "handwritten.yml").write_text("groups: []\n")
    (directory / "web.yaml").unlink()
    run("generate", str(directory), "--rules-out", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["handwritten.yml", "shop.rules.yml"]


def test_generate_operator_format(write_defs: WriteDefs, tmp_path: Path) -> None:
    out = tmp_path / "rules"
    run(
        "generate",
        str(write_defs(**{"shop.yaml": GOOD})),
        "--rules-out",
        str(out),
        "--format",
        "operator",
    )
    document = yaml.safe_load((out / "shop.prometheusrule.yml").read_text())
    assert document["kind"] == "PrometheusRule"


def test_generate_mimir_format_replaces_the_plain_files(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    out = tmp_path / "rules"
    directory = write_defs(**{"shop.yaml": GOOD})
    run("generate", str(directory), "--rules-out", str(out))
    plain = yaml.safe_load((out / "shop.rules.yml").read_text())
    code, _, err = run("generate", str(directory), "--rules-out", str(out), "--format", "mimir")
    assert code == 0, err
    # One directory holds one format: a ruler loading it gets every group once.
    assert [p.name for p in out.iterdir()] == ["shop.mimir.yml"]
    document = yaml.safe_load((out / "shop.mimir.yml").read_text())
    assert document["namespace"] == "sloguard-shop"
    assert document["groups"] == plain["groups"]
    code, stdout, _ = run("check", str(directory), "--rules-out", str(out), "--format", "mimir")
    assert code == 0 and "up to date" in stdout


def test_check_passes_when_current_and_fails_on_drift_or_staleness(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    out = tmp_path / "rules"
    directory = write_defs(**{"shop.yaml": GOOD})
    run("generate", str(directory), "--rules-out", str(out))
    code, stdout, _ = run("check", str(directory), "--rules-out", str(out))
    assert code == 0 and "up to date" in stdout

    (directory / "shop.yaml").write_text(GOOD.replace("99.9", "99.5"))
    code, _, err = run("check", str(directory), "--rules-out", str(out))
    assert code == 1
    assert "-    expr: 'vector(0.999)'" in err and "+    expr: 'vector(0.995)'" in err

    run("generate", str(directory), "--rules-out", str(out))
    shutil.copy(out / "shop.rules.yml", out / "old.rules.yml")
    code, _, err = run("check", str(directory), "--rules-out", str(out))
    assert code == 1 and "old.rules.yml: stale" in err


def test_settings_come_from_the_environment_too(write_defs: WriteDefs, tmp_path: Path) -> None:
    out = tmp_path / "from-env"
    result = CliRunner().invoke(
        main,
        ["generate", str(write_defs(**{"shop.yaml": GOOD}))],
        env={"SLOGUARD_GENERATE_RULES_OUT": str(out)},
    )
    assert result.exit_code == 0, result.output
    assert (out / "shop.rules.yml").is_file()


def test_schema_is_json_schema_and_can_be_written(tmp_path: Path) -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out)["title"] == "sloguard SLO definitions"
    target = tmp_path / "s" / "schema.json"
    assert run("schema", "--out", str(target))[0] == 0
    assert json.loads(target.read_text()) == json.loads(out)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "native"])
def test_import_writes_native_definitions_that_generate_the_same_rules(
    fmt: str, tmp_path: Path
) -> None:
    native = tmp_path / "native"
    code, out, _ = run("import", str(shop_file(fmt)), "--out", str(native))
    assert code == 0 and "imported 1 file(s), 1 service(s), 1 SLO(s)" in out
    text = (native / "shop.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=./sloguard.schema.json")
    assert "{{window}}" in text
    rules = {}
    for name, source in (("imported", native), ("original", shop_file(fmt))):
        assert run("generate", str(source), "--rules-out", str(tmp_path / name))[0] == 0
        rules[name] = yaml.safe_load((tmp_path / name / "shop.rules.yml").read_text())
    assert rules["imported"] == rules["original"]


def test_the_committed_rules_and_schema_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = run("check")
    assert code == 0, err
    assert "up to date: 3 rule file(s) in alert-rules/, 5 dashboard(s) in dashboards/" in out


def generate_with_script(
    write_defs: WriteDefs, tmp_path: Path, name: str, dashboard: str, *options: str
) -> tuple[int, str, str]:
    """`generate` of the shop's rules, dashboards and ConfigMaps (into `rules`, `boards` and
    `maps` under `tmp_path`), with one dashboard script `name` whose `dashboard` is given."""
    boards = tmp_path / "boards"
    write_script(
        boards, name, f"from grafanalib.core import Dashboard\ndashboard = Dashboard({dashboard})\n"
    )
    return run(
        "generate",
        str(write_defs(**{"shop.yaml": GOOD})),
        "--rules-out",
        str(tmp_path / "rules"),
        "--dashboards-out",
        str(boards),
        "--configmaps-out",
        str(tmp_path / "maps"),
        *options,
    )


def test_generate_writes_dashboards_and_configmaps(write_defs: WriteDefs, tmp_path: Path) -> None:
    boards, maps = tmp_path / "boards", tmp_path / "maps"
    code, out, _ = generate_with_script(
        write_defs,
        tmp_path,
        "mine",
        "title='Mine', uid='mine'",
        "--configmap-namespace",
        "monitoring",
    )
    assert code == 0
    assert "3 dashboard(s) in" in out and "3 ConfigMap(s) in" in out
    assert sorted(p.name for p in boards.glob("*.json")) == [
        "mine.json",
        "slo-shop.json",
        "sloguard-overview.json",
    ]
    assert (maps / "mine.configmap.yaml").is_file()


def test_check_fails_on_a_stale_dashboard(write_defs: WriteDefs, tmp_path: Path) -> None:
    directory = write_defs(**{"shop.yaml": GOOD})
    options = ["--rules-out", str(tmp_path / "r"), "--dashboards-out", str(tmp_path / "d")]
    run("generate", str(directory), *options)
    assert run("check", str(directory), *options)[0] == 0
    board = tmp_path / "d" / "slo-shop.json"
    board.write_text(board.read_text().replace('"refresh": "1m"', '"refresh": "5s"'))
    code, _, err = run("check", str(directory), *options)
    assert code == 1
    assert f"{board} (committed)" in err and '-  "refresh": "5s"' in err


def test_a_broken_dashboard_script_writes_nothing(write_defs: WriteDefs, tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    write_script(boards, "bad", "dashboard = undefined_name\n")
    code, _, err = run(
        "generate",
        str(write_defs(**{"shop.yaml": GOOD})),
        "--rules-out",
        str(tmp_path / "rules"),
        "--dashboards-out",
        str(boards),
    )
    assert code == 2
    assert "bad.dashboard.py: failed: NameError" in err
    assert not (tmp_path / "rules").exists() and list(boards.glob("*.json")) == []


def test_a_dashboard_too_big_for_a_configmap_writes_nothing(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    # The rules and dashboards are staged before the ConfigMap that cannot be made: all of
    # them are taken back.
    boards, maps = tmp_path / "boards", tmp_path / "maps"
    code, _, err = generate_with_script(
        write_defs, tmp_path, "huge", "title='Huge', uid='huge', description='x' * (1024 * 1024)"
    )
    assert code == 2
    assert "huge.json is over the 1 MiB a ConfigMap can hold" in err
    assert not (tmp_path / "rules").exists() and not maps.exists()  # not even made
    assert sorted(p.name for p in boards.iterdir()) == ["huge.dashboard.py"]


def test_a_script_may_not_shadow_a_generated_dashboard(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    boards = tmp_path / "boards"
    write_script(
        boards,
        "slo-shop",
        "from grafanalib.core import Dashboard\ndashboard = Dashboard(title='x')\n",
    )
    code, _, err = run(
        "generate", str(write_defs(**{"shop.yaml": GOOD})), "--dashboards-out", str(boards)
    )
    assert code == 2 and "renders to slo-shop.json, which sloguard generates itself" in err


def test_the_agent_may_bound_its_queries_in_flight_but_not_to_zero(write_defs: WriteDefs) -> None:
    defs = str(write_defs(**{"shop.yaml": GOOD}))
    code, _, err = run(
        "evaluate", defs, "--prometheus=http://127.0.0.1:9", "--max-queries-in-flight=0"
    )
    assert code == 2
    assert "--max-queries-in-flight" in err and "0 is not in the range 1<=x<=256" in err


def other_definitions(write_defs: WriteDefs) -> Path:
    return write_defs(**{"web.yaml": GOOD.replace("service: shop", "service: web")})


def test_generating_rules_for_other_definitions_leaves_this_repositorys_dashboards_alone(
    write_defs: WriteDefs, tmp_path: Path, checkout: Path
) -> None:
    repo = checkout
    boards = {p.name: p.read_text() for p in (repo / "dashboards").iterdir()}
    assert len(boards) > 1
    other = other_definitions(write_defs)
    code, stdout, _ = run("generate", str(other), "--rules-out", str(tmp_path / "web-rules"))
    assert code == 0 and "dashboard" not in stdout
    assert {p.name: p.read_text() for p in (repo / "dashboards").iterdir()} == boards
    assert [p.name for p in (tmp_path / "web-rules").iterdir()] == ["web.rules.yml"]


def test_named_definitions_need_a_named_output(write_defs: WriteDefs) -> None:
    code, _, err = run("generate", str(write_defs(**{"shop.yaml": GOOD})))
    assert code == 2
    assert "with PATHS, name where to write: --rules-out, --dashboards-out" in err


def test_pruning_removes_only_what_the_same_definitions_generated(
    write_defs: WriteDefs, checkout: Path
) -> None:
    repo = checkout
    ours = sorted(p.name for p in (repo / "dashboards").iterdir())
    other = other_definitions(write_defs)
    # Other definitions into this directory: theirs are added, ours are not theirs to prune.
    code, _, err = run("generate", str(other), "--dashboards-out", "dashboards")
    assert code == 0, err
    assert sorted(p.name for p in (repo / "dashboards").iterdir()) == sorted(
        {*ours, "slo-web.json"}
    )
    code, _, err = run("check", str(other), "--dashboards-out", "dashboards")
    assert code == 0, err  # nothing of theirs is stale; ours are not theirs to report
    # Our own definitions again: their services are regenerated; a service removed from them
    # is pruned, the other set's dashboard is not.
    (repo / "slo-definitions" / "checkout.yaml").unlink()
    assert run("generate")[0] == 0
    left = sorted(p.name for p in (repo / "dashboards").iterdir())
    assert "slo-checkout.json" not in left and "slo-web.json" in left


def test_every_flag_reads_sloguard_command_flag_from_the_environment() -> None:
    for name, command in main.commands.items():
        for param in command.params:
            flags = [o for o in param.opts if o.startswith("--")]
            if isinstance(param, click.Option) and flags:
                ruled = f"SLOGUARD_{name}_{flags[0][2:]}".upper().replace("-", "_")
                assert ruled in param.envvar, (name, flags[0], param.envvar)


def test_a_flag_set_in_the_environment_is_used(write_defs: WriteDefs, tmp_path: Path) -> None:
    result = CliRunner(env={"SLOGUARD_GENERATE_FORMAT": "operator"}).invoke(
        main, ["generate", str(write_defs(**{"shop.yaml": GOOD})), "--rules-out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["shop.prometheusrule.yml"]


def test_the_configuration_reference_is_the_code_s() -> None:
    """docs/configuration.md is written by `make generate` from click itself."""
    page = (REPO / "docs" / "configuration.md").read_text()
    assert page == configuration_reference(main), "run `make generate` and commit the page"
    for name, command in main.commands.items():
        assert f"## `sloguard {name}`" in page
        for param in command.params:
            if isinstance(param, click.Option):
                assert f"`{param.opts[0]}`" in page


def test_checking_the_alertmanager_file_without_amtool_says_what_to_install(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = checkout / "alertmanager.yml"
    assert run("generate", "--alertmanager-out", str(target))[0] == 0
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    code, _, err = run("check", "--alertmanager-out", str(target))
    assert code == 2 and "apt-get install -y prometheus-alertmanager" in err


def test_with_paths_the_alertmanager_file_alone_may_be_asked_for(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    definitions = write_defs(**{"shop.yaml": GOOD})
    target = tmp_path / "out" / "alertmanager.yml"
    code, _, _ = run("generate", str(definitions), "--alertmanager-out", str(target))
    assert code == 0 and target.exists() and not (tmp_path / "alert-rules").exists()
    code, _, err = run("generate", str(definitions))
    assert code == 2 and "--alertmanager-out" in err


def test_an_alertmanager_format_without_a_file_is_a_usage_error(checkout: Path) -> None:
    code, _, err = run("generate", "--alertmanager-format", "full")
    assert code == 2 and "--alertmanager-format needs --alertmanager-out FILE" in err


def test_with_format_operator_the_routing_is_an_alertmanagerconfig_too(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    definitions = write_defs(**{"shop.yaml": GOOD})
    target = tmp_path / "routing.yml"
    args = ("generate", str(definitions), "--alertmanager-out", str(target))
    assert run(*args, "--format", "operator")[0] == 0
    assert yaml.safe_load(target.read_text())["kind"] == "AlertmanagerConfig"
    assert run(*args, "--format", "operator", "--alertmanager-format", "fragment")[0] == 0
    assert set(yaml.safe_load(target.read_text())) == {"routes", "inhibit_rules", "time_intervals"}


def test_silence_asks_for_what_a_silence_needs_before_calling_anyone() -> None:
    url = ("--alertmanager", "http://127.0.0.1:9")  # nothing listens: nothing may be called
    for args, said in [
        ((), "name the SERVICE"),
        (("shop",), "--for DURATION and --reason TEXT"),
        (("shop", "--for", "30m", "--reason", "  "), "--reason TEXT"),
        (("shop", "--for", "10s", "--reason", "x"), "between 1m and 30d"),
        (("shop", "--for", "31d", "--reason", "x"), "between 1m and 30d"),
        (("shop", "--for", "soon", "--reason", "x"), "not a duration"),
        (("sh op", "--for", "1h", "--reason", "x"), "not a service or SLO name"),
        (("--expire", "../../api/v2/status"), "not a silence ID"),
        (("shop", "--expire", "0123-abcd"), "takes none of SERVICE"),
        (("--list", "--expire", "0123"), "separate uses"),
        (("shop", "--for", "1m", "--reason", "x", "--list"), "takes none of --for, --reason"),
        (("--expire", "0123", "--author", "me"), "takes none of --author"),
        (("shop", "--for", "1m", "--reason", "x", "--json"), "--json goes with --list"),
        (("shop\n", "--for", "1h", "--reason", "x"), "not a service or SLO name"),
    ]:
        code, _, err = run("silence", *args, *url)
        assert code == 2 and said in err, (args, err)
    code, _, err = run("silence", "--list", *url)
    assert code == 2 and "Alertmanager at http://127.0.0.1:9 did not list its silences" in err


def test_an_output_that_cannot_be_written_leaves_every_output_as_it_was(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    definitions = write_defs(**{"shop.yaml": GOOD})
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory would go")
    rules = tmp_path / "rules"
    code, _, err = run(
        "generate", str(definitions), "--rules-out", str(rules),
        "--alertmanager-out", str(blocker / "routing.yml"),
    )  # fmt: skip
    assert code == 2 and "cannot create" in err
    assert not rules.exists() or not any(rules.iterdir())  # no rules without their routing


def test_two_outputs_may_not_share_a_directory(write_defs: WriteDefs, tmp_path: Path) -> None:
    # The dashboards would prune the rules (files sloguard generated, no longer its own).
    same = tmp_path / "out"
    code, _, err = run(
        "generate", str(write_defs(**{"shop.yaml": GOOD})), "--rules-out", str(same),
        "--dashboards-out", str(tmp_path / "x" / ".." / "out"),
    )  # fmt: skip
    assert code == 2
    assert "--rules-out and --dashboards-out name the same directory" in err
    assert not same.exists()


def test_sigterm_while_generating_leaves_nothing(
    write_defs: WriteDefs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CI job's timeout or `kill` while the texts are being made and written: the files
    # already staged are taken back.
    def terminated() -> str:
        os.kill(os.getpid(), signal.SIGTERM)
        return "never written"

    def rule_files(*_: object) -> DeferredFiles:
        return DeferredFiles({"a.rules.yml": lambda: "groups: []\n", "b.rules.yml": terminated})

    monkeypatch.setattr("sloguard.cli.authoring.render_rule_files", rule_files)
    before = signal.getsignal(signal.SIGTERM)
    rules = tmp_path / "out" / "rules"
    code, _, _ = run("generate", str(write_defs(**{"shop.yaml": GOOD})), "--rules-out", str(rules))
    assert code == 128 + signal.SIGTERM
    assert not (tmp_path / "out").exists()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_file_that_cannot_be_put_in_place_leaves_every_output_as_it_was(
    write_defs: WriteDefs, tmp_path: Path
) -> None:
    defs = write_defs(**{"shop.yaml": GOOD})
    rules, boards = tmp_path / "rules", tmp_path / "boards"
    out = ("--rules-out", str(rules), "--dashboards-out", str(boards))
    assert run("generate", str(defs), *out)[0] == 0
    before = {p: p.read_bytes() for p in [*rules.iterdir(), *boards.iterdir()]}
    (defs / "shop.yaml").write_text(GOOD.replace("99.9", "99.5"))
    overview = boards / "sloguard-overview.json"
    overview.unlink()
    overview.mkdir()  # in the way of the new overview: no file replaces a directory
    code, _, err = run("generate", str(defs), *out)
    assert (
        code != 0 and "sloguard-overview.json in place" in err and "every file is as it was" in err
    )
    overview.rmdir()
    del before[overview]
    assert {p: p.read_bytes() for p in [*rules.iterdir(), *boards.iterdir()]} == before
