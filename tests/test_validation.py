"""Every validation error names the file, line, SLO and field; all files are checked."""

import textwrap

import pytest

from sloguard.burnrate import tiers_for
from sloguard.spec.model import ServiceSLOs
from sloguard.spec.reading import read_definitions
from sloguard.validation import validate
from tests.support.validation import GOOD, only_problem, problems_of


def load_valid(text: str) -> list[ServiceSLOs]:
    reading = read_definitions({"api.yaml": textwrap.dedent(text)})
    valid, invalid = validate(reading.definitions)
    assert reading.problems == invalid == []
    return [v.spec for v in valid]


def test_a_good_definition_has_no_problems() -> None:
    assert problems_of(**{"api.yaml": GOOD}) == []


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "sum(rate(e[{{window}}]))",
            "sum(rate(e[{{window}}])",
            7,
            "slos[0].sli.events.errors",
            "invalid PromQL: unclosed left parenthesis",
        ),
        (
            "sum(rate(t[{{window}}]))",
            "sum(rate(t[5m]))",
            8,
            "slos[0].sli.events.total",
            "must contain {{window}}",
        ),
        ("objective: 99.9", "objective: 100", 4, "slos[0].objective", "less than 100"),
        ("objective: 99.9", "objective: 0", 4, "slos[0].objective", "greater than 0"),
        (
            "objective: 99.9",
            "objective: 99.9\n    window: 30 days",
            5,
            "slos[0].window",
            "not a duration",
        ),
        ("objective: 99.9", "objective: 99.9\n    window: 6h", 5, "slos[0].window", "at least 1d"),
        ("name: availability", "name: Availability!", 3, "slos[0].name", "should match pattern"),
        ("    objective: 99.9\n", "", 3, "slos[0].objective", "required field is missing"),
        (
            "sum(rate(t[{{window}}]))",
            "sum(rate(e[{{window}}]))",
            8,
            "slos[0].sli.events.total",
            "total must differ",
        ),
        (
            "objective: 99.9",
            "objective: 99.9\n    labels: {slo: x}",
            5,
            "slos[0].labels.slo",
            "reserved",
        ),
        (
            "objective: 99.9",
            "objective: 99.9\n    labels: {window: x}",
            5,
            "slos[0].labels.window",
            "reserved",
        ),
        (
            "objective: 99.9",
            "objective: 99.9\n    labels: {NaN: x}",
            5,
            "slos[0].labels.NaN",
            "cannot be named in PromQL's ignoring(...)",
        ),
        (
            "objective: 99.9",
            "objective: 99.9\n    labels: {Without: x}",
            5,
            "slos[0].labels.Without",
            "cannot be named in PromQL's ignoring(...)",
        ),
        (
            "sum(rate(t[{{window}}]))",
            "sum without (pod) (rate(t[{{window}}]))",
            8,
            "slos[0].sli.events.total",
            "`without (...)` keeps labels sloguard cannot name",
        ),
        (
            "objective: 99.9",
            "objective: 99.9\n    alerting: {min_events: -1}",
            5,
            "slos[0].alerting.min_events",
            "greater than or equal to 0",
        ),
    ],
)
def test_each_problem_is_located(old: str, new: str, line: int, field: str, message: str) -> None:
    problem = only_problem(GOOD.replace(old, new))
    assert problem.file == "api.yaml"
    assert problem.service == "api"
    assert problem.slo in ("availability", "Availability!")
    assert (problem.line, problem.field) == (line, field)
    assert message in problem.message
    assert str(problem).startswith(f"api.yaml:{line}: api/")


def test_a_misspelt_field_is_unknown_with_a_suggestion_and_the_real_one_missing() -> None:
    found = problems_of(**{"api.yaml": GOOD.replace("objective:", "objectve:")})
    assert [(p.line, p.field, p.message) for p in found] == [
        (3, "slos[0].objective", "required field is missing"),
        (4, "slos[0].objectve", "unknown field (did you mean 'objective'?)"),
    ]


def test_a_default_tier_that_can_never_fire_is_left_out() -> None:
    # 14.4 x (1 - 0.90) = 1.44: the fastest page tier would need more than 100% errors.
    [valid] = load_valid(GOOD.replace("objective: 99.9", "objective: 90"))
    [slo] = valid.slos
    assert [t.factor for t in tiers_for(slo)] == [6, 3, 1]


def test_an_objective_so_low_that_no_default_page_tier_can_fire_is_an_error() -> None:
    problem = only_problem(GOOD.replace("objective: 99.9", "objective: 80"))
    assert problem.field == "slos[0].objective"
    assert "no page tier can fire at objective 80.0%" in problem.message


def test_custom_tiers_are_checked_for_their_windows() -> None:
    text = GOOD + textwrap.indent(
        textwrap.dedent("""\
        alerting:
          windows:
            - {severity: page, long: 1h, short: 1m, factor: 10}
            - {severity: page, long: 1h, short: 2h, factor: 10}
            - {severity: ticket, long: 60d, short: 1h, factor: 1}
            - {severity: ticket, long: 1h, short: 5m, factor: 2000}
        """),
        "    ",
    )
    found = problems_of(**{"api.yaml": text})
    messages = {(p.field, p.message.split(":")[0]) for p in found}
    assert ("slos[0].alerting.windows[0].short", "the short window must be at least 5m") in messages
    assert (
        "slos[0].alerting.windows[1].short",
        "the short window must be shorter than the long one",
    ) in messages
    assert (
        "slos[0].alerting.windows[2].long",
        "the long window must not exceed the SLO window",
    ) in messages
    assert any(f == "slos[0].alerting.windows[3]" and "never fire" in m for f, m in messages)


def test_min_events_needs_event_counts() -> None:
    text = """\
        service: api
        slos:
          - name: ratio
            objective: 99
            sli: {raw: {error_ratio: "avg_over_time(x[{{window}}])"}}
            alerting: {min_events: 10}
        """
    problem = only_problem(text)
    assert problem.field == "slos[0].alerting.min_events"


def test_an_slo_defined_twice_in_one_file_is_an_error() -> None:
    text = GOOD + GOOD.split("slos:\n", 1)[1]
    problem = only_problem(text)
    assert problem.field == "slos[1].name"
    assert "duplicate SLO 'availability'" in problem.message


def test_an_slo_defined_in_two_files_is_an_error_naming_both() -> None:
    found = problems_of(**{"a.yaml": GOOD, "b.yaml": GOOD})
    [problem] = found
    assert problem.file == "b.yaml"
    assert "also defined in a.yaml" in problem.message


def test_one_bad_file_does_not_hide_the_others() -> None:
    found = problems_of(
        **{
            "a.yaml": GOOD.replace("objective: 99.9", "objective: 120"),
            "b.yaml": "service: [unclosed\n",
            "c.yaml": GOOD.replace("service: api", "service: web").replace(
                "{{window}}]))\n", "5m]))\n"
            ),
        }
    )
    assert sorted({p.file for p in found}) == ["a.yaml", "b.yaml", "c.yaml"]


def test_invalid_yaml_names_file_and_line() -> None:
    [problem] = problems_of(**{"x.yaml": "service: a\nslos: [\n"})
    assert problem.file == "x.yaml"
    assert problem.line is not None
    assert problem.message.startswith("invalid YAML")


def test_one_broken_slo_does_not_hide_the_problems_of_its_siblings() -> None:
    text = GOOD.replace("sum(rate(e[{{window}}]))", "sum(rate(e[{{window}}])") + (
        "  - name: latency\n"
        "    objectve: 99\n"
        "    sli: {latency: {metric: http_seconds, threshold: 250ms}}\n"
    )
    found = problems_of(**{"api.yaml": text})
    assert sorted((p.line, p.slo, p.field) for p in found) == [
        (7, "availability", "slos[0].sli.events.errors"),
        (9, "latency", "slos[1].objective"),
        (10, "latency", "slos[1].objectve"),
    ]


@pytest.mark.parametrize(
    "errors",
    [
        "(" * 65 + "sum(rate(e[{{window}}]))" + ")" * 65,
        " + ".join(["sum(rate(e[{{window}}]))"] * 70),  # a chain, no brackets at all
        "(" * 3000 + "sum(rate(e[{{window}}]))" + ")" * 3000,
    ],
    ids=["brackets", "chain", "thousands"],
)
def test_a_query_nested_too_deeply_is_an_error_at_its_field(errors: str) -> None:
    problem = only_problem(GOOD.replace("sum(rate(e[{{window}}]))", errors))
    assert (problem.line, problem.field) == (7, "slos[0].sli.events.errors")
    assert "levels deep; at most 64 are read" in problem.message


def test_a_query_as_deep_as_real_ones_get_is_valid() -> None:
    deep = "(" * 40 + "sum(rate(e[{{window}}]))" + ")" * 40
    assert problems_of(**{"api.yaml": GOOD.replace("sum(rate(e[{{window}}]))", deep)}) == []
