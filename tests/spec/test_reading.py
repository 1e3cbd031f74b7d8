import textwrap

import pytest

from sloguard.spec.documents import parse_documents
from sloguard.spec.reading import detect_format, read_definitions
from sloguard.validation import validate
from tests.support.repo import FORMATS, shop_file


def read(text: str, name: str = "f.yaml") -> tuple[list, list]:
    reading = read_definitions({name: textwrap.dedent(text).lstrip()})
    valid, invalid = validate(reading.definitions)
    return valid, reading.problems + invalid


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("service: a\nslos: []\n", "native"),
        ("version: prometheus/v1\nservice: a\nslos: []\n", "sloth"),
        ("apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\nspec: {}\n", "sloth-crd"),
        ("apiVersion: openslo/v1\nkind: SLO\n", "openslo"),
        ("apiVersion: openslo/v1alpha\nkind: SLO\n", "openslo-v1alpha"),
        ("apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n", "pyrra"),
    ],
)
def test_format_is_detected_from_the_document(text: str, fmt: str) -> None:
    [document] = parse_documents(text)
    assert detect_format(document) == fmt


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "version: prometheus/v999\nservice: a\nslos: []\n",
            1,
            "version",
            "Sloth version 'prometheus/v999' is not supported: sloguard reads Sloth "
            "`version: prometheus/v1`",
        ),
        (
            "apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec: {sloPeriod: 7d}\n",
            2,
            "kind",
            "Sloth AlertWindows: not an SLO; sloguard's tiers are set per SLO in "
            "`alerting.windows`",
        ),
        (
            "apiVersion: sloth.slok.dev/v2\nkind: PrometheusServiceLevel\n",
            1,
            "apiVersion",
            "Sloth sloth.slok.dev/v2 is not supported",
        ),
        ("apiVersion: openslo.com/v2alpha\nkind: SLO\n", 1, "apiVersion", None),
        ("apiVersion: openslo/v2\nkind: SLO\n", 1, "apiVersion", "OpenSLO 'openslo/v2'"),
        ("apiVersion: pyrra.dev/v1\nkind: ServiceLevelObjective\n", 1, "apiVersion", "Pyrra"),
        (
            "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n",
            2,
            "kind",
            "a prometheus-operator PrometheusRule holds rules, not SLOs",
        ),
        ("kind: Something\n", 1, None, "unrecognised format"),
    ],
)
def test_a_format_claimed_but_not_read_is_named(
    text: str, line: int, field: str | None, message: str | None
) -> None:
    reading = read_definitions({"f.yaml": text})
    [problem] = reading.problems
    assert (problem.file, problem.line, problem.field) == ("f.yaml", line, field)
    assert message is None or message in problem.message
    assert reading.definitions == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_to_the_same_slo(fmt: str) -> None:
    path = shop_file(fmt)
    reading = read_definitions({str(path): path.read_text()})
    valid, invalid = validate(reading.definitions)
    assert reading.problems == invalid == reading.warnings == []
    [item] = valid
    spec = item.spec
    assert item.source.format == fmt
    [slo] = spec.slos
    assert (spec.service, slo.name, slo.objective, slo.window) == (
        "shop",
        "availability",
        99.9,
        "30d",
    )
    assert {**spec.labels, **slo.labels} == {"team": "web"}
    assert slo.description == "Shop requests that do not fail."
    assert slo.sli.events is not None
    assert "[{{window}}]" in slo.sli.events.total
    bad = 'code=~"5.."' in (slo.sli.events.errors or "")
    good = 'code!~"5.."' in (slo.sli.events.good or "")
    assert bad != good
    if not fmt.startswith("openslo"):  # OpenSLO has no runbook field
        assert slo.alerting.runbook == "https://runbooks.example.com/shop"


def test_sloth_raw_ratio_and_disabled_alerts() -> None:
    valid, problems = read("""
        version: prometheus/v1
        service: api
        slos:
          - name: ratio
            objective: 99
            sli:
              raw:
                error_ratio_query: sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))
            alerting:
              name: ApiRatio
              labels: {team: x}
              ticket_alert: {disable: true}
    """)
    assert problems == []
    [slo] = valid[0].spec.slos
    assert slo.sli.raw is not None and "[{{window}}]" in slo.sli.raw.error_ratio
    assert slo.alerting.name == "ApiRatio"
    assert slo.alerting.ticket.disable
    assert slo.alerting.labels == {"team": "x"}


def test_sloth_sli_plugins_are_refused_with_a_way_forward() -> None:
    _, problems = read("""
        version: prometheus/v1
        service: api
        slos:
          - name: x
            objective: 99
            sli:
              plugin: {id: sloth-common/kubernetes/apiserver/availability}
    """)
    [problem] = problems
    assert (problem.line, problem.service, problem.slo) == (7, "api", "x")
    assert "SLI plugins are not supported" in problem.message
    assert problem.field == "slos[0].sli.plugin"


def test_sloth_errors_point_at_sloth_field_names() -> None:
    _, problems = read("""
        version: prometheus/v1
        service: api
        slos:
          - name: x
            objective: 99
            sli:
              events:
                error_query: sum(rate(e[{{.window}}])
                total_query: sum(rate(t[{{.window}}]))
    """)
    [problem] = problems
    assert problem.field == "slos[0].sli.events.error_query"
    assert problem.line == 8
    assert problem.slo == "x"
    assert "invalid PromQL" in problem.message


def test_openslo_inline_good_total_with_target_percent_and_calendar_month() -> None:
    valid, problems = read("""
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: checkout-avail}
        spec:
          service: checkout
          indicator:
            metadata: {name: good-requests}
            spec:
              ratioMetric:
                counter: true
                good: {metricSource: {type: Prometheus, spec: {query: 'http_total{code!~"5.."}'}}}
                total: {metricSource: {type: Prometheus, spec: {query: http_total}}}
          timeWindow:
            - duration: 1M
              calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}
          budgetingMethod: Occurrences
          objectives:
            - targetPercent: 99.5
    """)
    assert problems == []
    [slo] = valid[0].spec.slos
    assert slo.window == "month"
    assert slo.objective == 99.5
    assert slo.sli.events is not None
    assert slo.sli.events.good == 'sum(rate(http_total{code!~"5.."}[{{window}}]))'


def test_openslo_raw_success_ratio_is_inverted() -> None:
    valid, problems = read("""
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: probe}
        spec:
          service: edge
          indicator:
            metadata: {name: probe-success}
            spec:
              ratioMetric:
                rawType: success
                raw: {metricSource: {type: Prometheus, spec: {query: 'avg_over_time(probe_success[{{window}}])'}}}
          timeWindow: [{duration: 4w, isRolling: true}]
          budgetingMethod: Occurrences
          objectives: [{target: 0.99}]
    """)
    assert problems == []
    [slo] = valid[0].spec.slos
    assert slo.window == "4w"
    assert slo.sli.raw is not None
    assert slo.sli.raw.error_ratio == "1 - (avg_over_time(probe_success[{{window}}]))"


def test_openslo_several_objectives_become_several_slos() -> None:
    valid, problems = read("""
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: api}
        spec:
          service: api
          indicator:
            metadata: {name: r}
            spec: {ratioMetric: {counter: true, bad: {metricSource: {spec: {query: e}}}, total: {metricSource: {spec: {query: t}}}}}
          timeWindow: [{duration: 1Q, isRolling: true}]
          budgetingMethod: Occurrences
          objectives:
            - {displayName: strict, target: 0.999}
            - {displayName: loose, target: 0.99}
    """)
    assert problems == []
    assert sorted(s.name for v in valid for s in v.spec.slos) == ["api-loose", "api-strict"]
    assert {s.window for v in valid for s in v.spec.slos} == {"90d"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ("budgetingMethod: Timeslices", "spec.budgetingMethod", "not supported"),
        ("indicatorRef: nowhere", "spec.indicatorRef", "no SLI named 'nowhere'"),
    ],
)
def test_openslo_unsupported_parts_are_named(change: str, field: str, message: str) -> None:
    text = textwrap.dedent("""
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: api}
        spec:
          service: api
          indicator:
            metadata: {name: r}
            spec: {ratioMetric: {counter: true, bad: {metricSource: {spec: {query: e}}}, total: {metricSource: {spec: {query: t}}}}}
          timeWindow: [{duration: 30d, isRolling: true}]
          budgetingMethod: Occurrences
          objectives: [{target: 0.99}]
    """)
    key = change.split(":")[0]
    if key == "indicatorRef":
        text = text.replace("  indicator:\n", "  indicatorRef: nowhere\n  unused:\n")
    else:
        text = text.replace("budgetingMethod: Occurrences", change)
    _, problems = read(text)
    # `unused:` (the indicator moved aside) is an unknown field of its own.
    [problem] = [p for p in problems if p.field != "spec.unused"]
    assert problem.field == field
    assert message in problem.message


def test_openslo_threshold_metrics_are_refused() -> None:
    _, problems = read("""
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: p99}
        spec:
          service: api
          indicator:
            metadata: {name: p99}
            spec: {thresholdMetric: {metricSource: {spec: {query: x}}}}
          timeWindow: [{duration: 30d, isRolling: true}]
          budgetingMethod: Occurrences
          objectives: [{op: lte, value: 0.3, target: 0.99}]
    """)
    assert ["thresholdMetric SLIs are not supported" in p.message for p in problems] == [True]


def test_unrecognised_documents_are_reported_with_their_file() -> None:
    _, problems = read("kind: Something\n", name="odd.yaml")
    [problem] = problems
    assert problem.file == "odd.yaml"
    assert "unrecognised format" in problem.message


def test_every_unsupported_sloth_use_is_reported_at_its_own_line() -> None:
    _, problems = read("""
        version: prometheus/v1
        service: api
        slos:
          - name: a
            objective: 99
            plugins: {chain: [{id: x}]}
            sli: {events: {error_query: e, total_query: t}}
          - name: b
            objectve: 99
            plugins: {chain: [{id: y}]}
            sli: {events: {error_query: e, total_query: t}}
    """)
    assert [(p.line, p.slo, p.field, p.message) for p in problems] == [
        (6, "a", "slos[0].plugins", "SLO plugins are not supported"),
        (9, "b", "slos[1].objectve", "unknown Sloth field (did you mean 'objective'?)"),
        (10, "b", "slos[1].plugins", "SLO plugins are not supported"),
    ]


def test_a_crd_field_is_reported_in_the_crd_spelling_at_its_line() -> None:
    _, problems = read("""
        apiVersion: sloth.slok.dev/v1
        kind: PrometheusServiceLevel
        metadata: {name: api}
        spec:
          service: api
          sloPlugins:
            chain: [{id: x}]
          slos: []
    """)
    [problem] = problems
    assert (problem.line, problem.field) == (6, "spec.sloPlugins")


def test_an_openslo_counter_that_cannot_be_a_rate_names_its_query() -> None:
    _, problems = read("""
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: api}
        spec:
          service: api
          indicator:
            metadata: {name: r}
            spec:
              ratioMetric:
                counter: true
                bad: {metricSource: {spec: {query: 'sum(rate(e[5m]))'}}}
                total: {metricSource: {spec: {query: t}}}
          timeWindow: [{duration: 30d, isRolling: true}]
          objectives: [{target: 0.99}]
    """)
    [problem] = problems
    assert problem.line == 11
    assert problem.field == "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query"
    assert "e[5m] already has a range" in problem.message


def test_an_openslo_alert_policy_alone_is_named_as_not_an_slo() -> None:
    _, problems = read("""
        apiVersion: openslo/v1
        kind: AlertPolicy
        metadata: {name: page}
        spec: {conditions: []}
    """)
    [problem] = problems
    assert (problem.line, problem.field) == (2, "kind")
    assert problem.message.startswith("OpenSLO AlertPolicy: not an SLO; sloguard's alerting")


V1ALPHA = """
    apiVersion: openslo/v1alpha
    kind: SLO
    metadata: {name: api}
    spec:
      service: api
      budgetingMethod: Occurrences
      timeWindows: [{unit: Day, count: 28, isRolling: true}]
      objectives:
        - target: 0.99
          ratioMetrics:
            good: {source: prometheus, queryType: promql, query: 'sum(rate(g[{{.window}}]))'}
            total: {source: prometheus, queryType: promql, query: 'sum(rate(t[{{.window}}]))'}
"""


def test_openslo_v1alpha_reads_each_objective_with_its_window() -> None:
    valid, problems = read(V1ALPHA)
    assert problems == []
    [slo] = valid[0].spec.slos
    assert (slo.name, slo.objective, slo.window) == ("api", 99.0, "28d")
    assert slo.sli.events is not None
    assert slo.sli.events.good == "sum(rate(g[{{window}}]))"


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("Occurrences", "Timeslices", 6, "spec.budgetingMethod", "'Timeslices' is not supported"),
        ("unit: Day", "unit: Fortnight", 7, "spec.timeWindows[0].unit", "unit must be one of"),
        (
            "isRolling: true",
            "isRolling: false",
            7,
            "spec.timeWindows[0]",
            "calendar windows must be one Month or one Week",
        ),
        (
            "good: {source: prometheus",
            "good: {source: datadog",
            11,
            "spec.objectives[0].ratioMetrics.good.source",
            "source 'datadog' is not supported",
        ),
        (
            "      objectives:",
            "      indicator: {thresholdMetric: {source: prometheus, query: x}}\n      objectives:",
            8,
            "spec.indicator.thresholdMetric",
            "thresholdMetric SLIs are not supported",
        ),
    ],
)
def test_openslo_v1alpha_refusals_name_the_field(
    old: str, new: str, line: int, field: str, message: str
) -> None:
    _, problems = read(V1ALPHA.replace(old, new))
    [problem] = problems
    assert (problem.line, problem.field, problem.slo) == (line, field, "api")
    assert message in problem.message


PYRRA = """
    apiVersion: pyrra.dev/v1alpha1
    kind: ServiceLevelObjective
    metadata: {name: api-errors, namespace: api}
    spec:
      target: "99.5"
      window: 4w
      indicator:
        ratio:
          errors: {metric: 'http_requests_total{code=~"5.."}'}
          total: {metric: http_requests_total}
"""


def test_pyrra_reads_to_the_slo_of_the_namespace() -> None:
    valid, problems = read(PYRRA)
    assert problems == []
    [item] = valid
    assert item.spec.service == "api"
    assert item.source.format == "pyrra"
    [slo] = item.spec.slos
    assert (slo.name, slo.objective, slo.window) == ("api-errors", 99.5, "4w")


@pytest.mark.parametrize(
    ("old", "new", "found"),
    [
        ('target: "99.5"', 'target: "0.995"', [(5, "spec.target", "target is a percentage")]),
        (
            "window: 4w",
            "latency: '1'",
            [(4, "spec", "needs `window`"), (6, "spec.latency", "unknown Pyrra field")],
        ),
        (
            "{metric: http_requests_total}",
            "{metric: 'sum(rate(http_requests_total[5m]))'}",
            [(10, "spec.indicator.ratio.total.metric", "must be a series selector")],
        ),
        (
            "        ratio:",
            "        bool_gauge: {metric: up}\n        ratio:",
            [(7, "spec.indicator", "set exactly one of ratio, latency, latencyNative, bool_gauge")],
        ),
        (
            'target: "99.5"',
            'target: "high"\n      alerting: {nmae: X}',
            [
                (5, "spec.target", "target 'high' is not a number"),
                (6, "spec.alerting.nmae", "unknown Pyrra field (did you mean 'name'?)"),
            ],
        ),
    ],
)
def test_pyrra_refusals_are_all_reported_in_pyrra_terms(
    old: str, new: str, found: list[tuple[int, str, str]]
) -> None:
    _, problems = read(PYRRA.replace(old, new))
    problems = sorted(problems)
    assert [(p.line, p.field) for p in problems] == [(line, field) for line, field, _ in found]
    for problem, (_, _, message) in zip(problems, found, strict=True):
        assert message in problem.message
        assert problem.slo == "api-errors"
