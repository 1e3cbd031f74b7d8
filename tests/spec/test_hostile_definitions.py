"""Definitions written wrong in every way a reader can meet: each is an error naming the line
and the field as the file spells it, never a crash, never a silent translation."""

import textwrap

import pytest

from sloguard.loading import load
from sloguard.rules.generation import render_groups
from sloguard.spec.reading import read_definitions
from sloguard.spec.templates import template_problem
from sloguard.validation import validate
from tests.support.repo import REPO

SLOTH = """
    version: prometheus/v1
    service: shop
    slos:
      - name: a
        objective: 99.9
        sli:
          events:
            error_query: sum(rate(e[{{.window}}]))
            total_query: sum(rate(t[{{.window}}]))
"""
OPENSLO = """
    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: a}
    spec:
      service: shop
      indicator:
        metadata: {name: r}
        spec:
          ratioMetric:
            counter: true
            bad: {metricSource: {type: Prometheus, spec: {query: e}}}
            total: {metricSource: {type: Prometheus, spec: {query: t}}}
      timeWindow: [{duration: 28d, isRolling: true}]
      objectives: [{target: 0.999}]
"""
V1ALPHA = """
    apiVersion: openslo/v1alpha
    kind: SLO
    metadata: {name: a}
    spec:
      service: shop
      timeWindows: [{unit: Day, count: 28}]
      objectives:
        - target: 0.999
          ratioMetrics:
            counter: true
            good: {source: prometheus, queryType: promql, query: g}
            total: {source: prometheus, queryType: promql, query: t}
"""
PYRRA = """
    apiVersion: pyrra.dev/v1alpha1
    kind: ServiceLevelObjective
    metadata: {name: a, namespace: shop}
    spec:
      target: "99.9"
      window: 28d
      indicator:
        ratio:
          errors: {metric: 'e{code="500"}'}
          total: {metric: e}
"""
BASES = {"sloth": SLOTH, "openslo": OPENSLO, "v1alpha": V1ALPHA, "pyrra": PYRRA}


def problems(text: str) -> list[tuple[int | None, str | None, str]]:
    reading = read_definitions({"f.yaml": textwrap.dedent(text).lstrip()})
    _, invalid = validate(reading.definitions)
    return [(p.line, p.field, p.message) for p in sorted(reading.problems + invalid)]


@pytest.mark.parametrize("base", BASES)
def test_the_bases_are_valid(base: str) -> None:
    assert problems(BASES[base]) == []


@pytest.mark.parametrize(
    ("base", "old", "new", "line", "field", "message"),
    [
        (
            "sloth",
            "slos:\n",
            "? [a, b]\n: 3\nslos:\n",
            3,
            None,
            "mapping key must be a plain value",
        ),
        ("sloth", "slos:\n  - name: a", "slos: 5\nx:\n  - name: a", 3, "slos", "expected a list"),
        (
            "sloth",
            "    sli:",
            "    alerting: {annotations: route}\n    sli:",
            6,
            "slos[0].alerting.annotations",
            "expected a mapping",
        ),
        (
            "sloth",
            "    sli:",
            "    alerting: {page_alert: {disable: 'true'}}\n    sli:",
            6,
            "slos[0].alerting.page_alert.disable",
            "expected true or false",
        ),
        (
            "sloth",
            "        total_query:",
            "        errorQuery: x\n        total_query:",
            9,
            "slos[0].sli.events.errorQuery",
            "error_query and errorQuery are one field",
        ),
        (
            "sloth",
            "        total_query: sum(rate(t[{{.window}}]))",
            "",
            7,
            "slos[0].sli.events",
            "needs `total_query`",
        ),
        (
            "sloth",
            "    sli:",
            "    alerting: {annotations: {a-b: x}}\n    sli:",
            6,
            "slos[0].alerting.annotations.a-b",
            "should match pattern",
        ),
        (
            "sloth",
            "    sli:",
            "    alerting: {labels: {team: '{{ $value'}}\n    sli:",
            6,
            "slos[0].alerting.labels.team",
            "template action `{{` is not closed",
        ),
        ("openslo", "kind: SLO", "kind: [SLO]", 2, "kind", "is not supported"),
        (
            "openslo",
            "  indicator:\n",
            "  indicatorRef: [r]\n  x:\n",
            6,
            "spec.indicatorRef",
            "expected an SLI name",
        ),
        (
            "openslo",
            "counter: true",
            "counter: 'false'",
            10,
            "spec.indicator.spec.ratioMetric.counter",
            "expected true or false",
        ),
        (
            "openslo",
            "counter: true",
            "counter: false",
            11,
            "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query",
            "must contain {{window}}",
        ),
        (
            "openslo",
            "{target: 0.999}",
            "{target: 99.9}",
            14,
            "spec.objectives[0].target",
            "must be a ratio between 0 and 1",
        ),
        (
            "openslo",
            "{target: 0.999}",
            "{target: .nan}",
            14,
            "spec.objectives[0].target",
            "must be a ratio between 0 and 1",
        ),
        (
            "openslo",
            "metadata: {name: a}",
            "metadata: {name: a, labels: {team: {a: b}}}",
            3,
            "metadata.labels.team",
            "expected a string or a non-empty list of strings",
        ),
        (
            "openslo",
            "duration: 28d",
            "duration: 99999999999999999999M",
            13,
            "spec.timeWindow[0].duration",
            "is not a duration",
        ),
        (
            "openslo",
            "  service: shop",
            "  bogus: 1\n  service: shop",
            5,
            "spec.bogus",
            "unknown OpenSLO field",
        ),
        (
            "v1alpha",
            "unit: Day",
            "unit: [Day]",
            6,
            "spec.timeWindows[0].unit",
            "unit must be one of",
        ),
        (
            "v1alpha",
            "count: 28",
            "count: 100000000000000000000000000000000",
            6,
            "spec.timeWindows[0].count",
            "count must be a whole number",
        ),
        ("openslo", "metadata: {name: a}", "metadata: true", 3, "metadata", "expected a mapping"),
        (
            "openslo",
            "counter: true",
            "counter: true\n        raw: {metricSource: {spec: {query: r}}}",
            10,
            "spec.indicator.spec.ratioMetric.counter",
            "`raw` is a ratio of its own",
        ),
        (
            "sloth",
            "total_query: sum(rate(t[{{.window}}]))",
            "total_query: sum by (route) (rate(t[{{.window}}]))",
            9,
            "slos[0].sli.events.total_query",
            "errors/good group by () but total by (route)",
        ),
        (
            "sloth",
            "    sli:",
            "    alerting: {annotations: {runbook: a, runbook_url: b}}\n    sli:",
            6,
            "slos[0].alerting.annotations.runbook",
            "runbook_url and runbook are one field",
        ),
        (
            "pyrra",
            "{metric: e}",
            "{metric: 'e{x=\"{{window}}\"}'}",
            10,
            "spec.indicator.ratio.total.metric",
            "`{{` in a selector",
        ),
        ("pyrra", 'target: "99.9"', "target: .nan", 5, "spec.target", "is not a number"),
        ("pyrra", "window: 28d", "window: 300y", 6, "spec.window", "longer than Prometheus"),
        (
            "pyrra",
            "    ratio:",
            "    ratio:\n      grouping: ['a b']",
            9,
            "spec.indicator.ratio.grouping[0]",
            "not a Prometheus label name",
        ),
        (
            "pyrra",
            "    ratio:",
            "    ratio:\n      grouping: [slo]",
            10,
            "spec.indicator.ratio.errors.metric",
            "grouping by 'slo' clashes",
        ),
        (
            "pyrra",
            "{metric: e}",
            "{metric: e, extra: 1}",
            10,
            "spec.indicator.ratio.total.extra",
            "unknown Pyrra field",
        ),
        (
            "pyrra",
            "window: 28d",
            "window: 28d\n  description: [a, b]",
            7,
            "spec.description",
            "expected a string",
        ),
        (
            "pyrra",
            "namespace: shop}",
            "namespace: shop, labels: {pyrra.dev/team: 5}}",
            3,
            "metadata.labels.pyrra.dev/team",
            "expected a string value",
        ),
        (
            "pyrra",
            "window: 28d",
            "window: 28d\n  alerting: {disabled: 'true'}",
            7,
            "spec.alerting.disabled",
            "expected true or false",
        ),
    ],
)
def test_a_wrong_value_is_an_error_at_its_field(
    base: str, old: str, new: str, line: int, field: str | None, message: str
) -> None:
    text = textwrap.dedent(BASES[base])
    assert old in text
    found = problems(text.replace(old, new))
    assert any(
        (got_line, got_field) == (line, field) and message in got
        for got_line, got_field, got in found
    ), found


@pytest.mark.parametrize(
    "metric",
    [
        'h_bucket{le="+Inf"}',
        'h_bucket{le="NaN"}',
        'h_bucket{le="-1"}',
        'h_bucket{le="1e400"}',
        'h_bucket{le="abc"}',
        'h_bucket{le="1",le="2"}',
        'h_bucket{a="b" or c="d"}',
        'h_bucket{le="0_5"}',
        'h_bucket{le="+0.5"}',
    ],
)
def test_a_pyrra_latency_bucket_that_is_no_threshold_is_an_error(metric: str) -> None:
    text = textwrap.dedent(PYRRA).replace(
        """  ratio:
      errors: {metric: 'e{code="500"}'}
      total: {metric: e}""",
        f"""  latency:
      success: {{metric: '{metric}'}}
      total: {{metric: h_count}}""",
    )
    [(line, field, _)] = problems(text)
    assert (line, field) == (9, "spec.indicator.latency.success.metric")


def test_an_sli_in_another_file_is_reported_there() -> None:
    slo = textwrap.dedent(OPENSLO)
    start, end = slo.index("  indicator:"), slo.index("  timeWindow:")
    slo = slo[:start] + "  indicatorRef: r\n" + slo[end:]
    sli = textwrap.dedent("""\
        apiVersion: openslo/v1
        kind: SLI
        metadata: {name: r}
        spec:
          ratioMetric:
            bad: {metricSource: {spec: {query: 'sum(rate(e[5m])'}}}
            total: {metricSource: {spec: {query: 'sum(rate(t[{{window}}]))'}}}
    """)
    reading = read_definitions({"slo.yaml": slo, "sli.yaml": sli})
    _, invalid = validate(reading.definitions)
    [problem] = reading.problems + invalid
    assert reading.warnings == []
    assert (problem.file, problem.line) == ("sli.yaml", 6)
    assert problem.field == "spec.ratioMetric.bad.metricSource.spec.query"


def test_two_slis_of_one_name_are_an_error() -> None:
    sli = "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: r}\nspec: {}\n"
    reading = read_definitions({"a.yaml": sli, "b.yaml": sli})
    assert [p.message for p in reading.problems if "duplicate" in p.message] == [
        "duplicate SLI 'r': also defined in a.yaml:1"
    ]


def test_an_sli_alone_is_not_an_slo() -> None:
    sli = "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: r}\nspec: {}\n"
    [problem] = read_definitions({"a.yaml": sli}).problems
    assert problem.message.startswith("OpenSLO SLI: not an SLO")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{{ $labels.job", "not closed by `}}`"),
        ("{{ $nope }}", "template variable $nope is never set"),
        ("{{ nosuch }}", "template function 'nosuch' is not defined"),
        ("{{ $labels.x | nosuch }}", "template function 'nosuch' is not defined"),
        ("{{ end }}", "closes no block"),
        ("{{ if true }}x", "is not closed by `{{ end }}`"),
        ("{{/* x }}", "comment `{{/*` is not closed"),
        ("{{{ x }}}", "`{{{` opens"),
    ],
)
def test_a_template_prometheus_would_refuse_is_an_error(text: str, problem: str) -> None:
    assert problem in (template_problem(text) or "")


@pytest.mark.parametrize(
    "text",
    [
        "plain text, } and { alone",
        "{{ $labels.job }} on {{ $externalURL }}",
        '{{ printf "%.1f" $value }} {{- " }}" -}}',
        '{{ with query "up" }}{{ . | first | value | humanize }}{{ end }}',
        "{{ range $i, $e := .Alerts }}{{ $e }}{{ end }}",
        "{{/* a note */}}{{ $x := 1 }}{{ $x }}",
    ],
)
def test_templates_prometheus_reads_pass(text: str) -> None:
    assert template_problem(text) is None


def test_every_annotation_sloguard_writes_is_a_template_it_accepts() -> None:
    loaded = load([REPO / "slo-definitions"])
    for spec in loaded.services:
        for group in render_groups(spec):
            for rule in group["rules"]:
                for text in [
                    *rule.get("annotations", {}).values(),
                    *rule.get("labels", {}).values(),
                ]:
                    assert template_problem(text) is None, text
