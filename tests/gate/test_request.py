"""A gate request resolved against the definitions: which labels a caller may choose versions
by. A matcher on a label the SLO's own queries read would change what the SLO counts (`code`
empties the bad events, `le` the fast ones, `outcome` the bad spans), so it is refused."""

from __future__ import annotations

from typing import Any

import pytest

from sloguard.errors import RequestError
from sloguard.gate.request import AnalysisRequest, resolve, sli_labels
from sloguard.gate.selection import exists_without_series, used_labels
from sloguard.spec.model import SLI, ServiceSLOs

SLIS: dict[str, dict[str, Any]] = {
    "events": {
        "events": {
            "errors": 'sum(rate(http_requests_total{job="shop",code=~"5.."}[{{window}}]))',
            "total": 'sum(rate(http_requests_total{job="shop"}[{{window}}]))',
        }
    },
    "good": {
        "events": {
            "good": 'sum by (route) (rate(http_requests_total{code!~"5.."}[{{window}}]))',
            "total": "sum by (route) (rate(http_requests_total[{{window}}]))",
        }
    },
    "latency": {
        "latency": {
            "metric": "http_request_duration_seconds",
            "selector": {"job": "shop"},
            "threshold": "300ms",
        }
    },
    "raw": {
        "raw": {
            "error_ratio": 'avg without (instance) (probe_success{target="shop"} == bool 0)'
            " / on (job) group_left (team) info"
        }
    },
    "traces": {"traces": {"service": "shop", "span": {"kind": "SERVER"}}},
}
READ = {
    "events": {"job", "code"},
    "good": {"route", "code"},
    "latency": {"job", "le"},
    "raw": {"instance", "target", "job", "team"},
    "traces": {"sli", "outcome"},
}


def service(kind: str, sli: dict[str, Any] | None = None, **gate: Any) -> ServiceSLOs:
    slo = {"name": kind, "objective": 99, "sli": sli or SLIS[kind], "gate": gate}
    return ServiceSLOs.model_validate({"service": "shop", "slos": [slo]})


@pytest.mark.parametrize("kind", SLIS)
def test_the_labels_an_sli_reads_are_every_label_its_queries_use(kind: str) -> None:
    assert sli_labels(SLI.model_validate(SLIS[kind])) == READ[kind]


def test_labels_named_by_functions_count_but_their_other_strings_do_not() -> None:
    query = (
        'label_replace(a, "dst", "$1", "src", "(.*)") '
        '+ label_join(b, "joined", ",", "one", "two") + sum without (pod) (c)'
    )
    assert used_labels(query) == {"dst", "src", "joined", "one", "two", "pod"}


@pytest.mark.parametrize(
    ("kind", "matchers", "label"),
    [
        ("events", {"rollouts_pod_template_hash": "7f", "code": "200"}, "code"),
        ("events", '{rollouts_pod_template_hash="7f",code!~"5.."}', "code"),
        ("good", {"route": "/pay", "version": "v2"}, "route"),
        ("latency", {"rollouts_pod_template_hash": "7f", "le": ""}, "le"),
        ("raw", {"instance": "10.0.0.1:80"}, "instance"),
        ("traces", {"version": "v2", "outcome": "good"}, "outcome"),
    ],
)
@pytest.mark.parametrize("side", ["canary", "baseline"])
def test_a_version_cannot_be_chosen_by_a_label_the_slo_reads(
    kind: str, matchers: str | dict[str, str], label: str, side: str
) -> None:
    request: dict[str, Any] = {"service": "shop", "canary": {"version": "v2"}, side: matchers}
    with pytest.raises(RequestError) as refused:
        resolve(AnalysisRequest.model_validate(request), [service(kind)])
    message = str(refused.value)
    assert message.startswith(f"{side}: SLO {kind!r} reads label {label!r} itself")
    assert "rollouts_pod_template_hash" in message


@pytest.mark.parametrize("kind", SLIS)
def test_versions_chosen_by_other_labels_are_resolved(kind: str) -> None:
    request = AnalysisRequest.model_validate(
        {
            "service": "shop",
            "canary": {"rollouts_pod_template_hash": "7f"},
            "baseline": '{rollouts_pod_template_hash="5c",track!="canary"}',
        }
    )
    analysis = resolve(request, [service(kind)])
    assert [t.slo.name for t in analysis.targets] == [kind]
    assert analysis.baseline is not None and len(analysis.baseline.matchers) == 2


STATUS_CLASS = {
    "events": {
        "errors": 'sum(rate(http_requests_total{status_class="5xx"}[{{window}}]))',
        "total": "sum(rate(http_requests_total[{{window}}]))",
    }
}


@pytest.mark.parametrize(
    "matchers",
    [
        {"rollouts_pod_template_hash": "7f", "code": "200"},  # tracks failure, unread by the SLI
        {"rollouts_pod_template_hash": "7f", "reason": ""},  # only on the bad-event series
        '{rollouts_pod_template_hash="7f",handler=~"/health.*"}',
    ],
)
def test_versions_are_chosen_only_by_the_slos_version_labels(
    matchers: str | dict[str, str],
) -> None:
    request = AnalysisRequest.model_validate({"service": "shop", "canary": matchers})
    with pytest.raises(RequestError, match="is not one SLO 'events' tells versions apart by"):
        resolve(request, [service("events", STATUS_CLASS)])


def test_an_slo_may_name_its_own_version_labels() -> None:
    own = service("events", STATUS_CLASS, version_labels=["deployment"])
    request = AnalysisRequest.model_validate(
        {"service": "shop", "canary": {"deployment": "shop-canary"}}
    )
    assert resolve(request, [own]).canary.matchers[0].name == "deployment"
    hashed = AnalysisRequest.model_validate(
        {"service": "shop", "canary": {"rollouts_pod_template_hash": "7f"}}
    )
    with pytest.raises(RequestError, match=r"gate.version_labels: deployment\)"):
        resolve(hashed, [own])


@pytest.mark.parametrize(
    ("query", "fills"),
    [
        ("sum(rate(e[5m])) / sum(rate(t[5m])) or vector(0)", True),
        ("sum(rate(e[5m])) / sum(rate(t[5m])) or on() vector(0)", True),
        ("(sum(rate(e[5m])) or vector(0)) / sum(rate(t[5m]))", False),
        ("absent(up)", True),
        ("scalar(up) * 2", True),
        ("vector(1) unless up", True),
        ("up unless vector(1)", False),
        ("1 - avg(up)", False),
        ("clamp_min(sum(rate(t[5m])), 0)", False),
        ("histogram_quantile(0.9, sum by (le) (rate(b[5m])))", False),
        ("avg_over_time(up[5m:1m])", False),
    ],
)
def test_a_query_with_values_where_no_series_matches_is_told(query: str, fills: bool) -> None:
    assert exists_without_series(query) is fills


@pytest.mark.parametrize(
    ("sli", "field"),
    [
        (
            {
                "raw": {
                    "error_ratio": "sum(rate(e[{{window}}])) / sum(rate(t[{{window}}])) or vector(0)"
                }
            },
            "sli.raw.error_ratio",
        ),
        (
            {
                "events": {
                    "errors": "sum(rate(e[{{window}}]))",
                    "total": "sum(rate(t[{{window}}])) or vector(1)",
                }
            },
            "sli.events.total",
        ),
    ],
)
def test_an_sli_that_makes_up_traffic_cannot_be_gated(sli: dict[str, Any], field: str) -> None:
    request = AnalysisRequest.model_validate(
        {"service": "shop", "canary": {"rollouts_pod_template_hash": "typo"}}
    )
    with pytest.raises(RequestError, match=f"its {field} has a value even where no series"):
        resolve(request, [service("fill", sli)])


def test_zero_errors_where_the_query_says_so_are_fine() -> None:
    sli = {
        "events": {
            "errors": "sum(rate(e[{{window}}])) or vector(0)",
            "total": "sum(rate(t[{{window}}]))",
        }
    }
    request = AnalysisRequest.model_validate(
        {"service": "shop", "canary": {"rollouts_pod_template_hash": "7f"}}
    )
    assert resolve(request, [service("zero", sli)]).targets


def test_a_window_beyond_prometheus_durations_is_capped_like_any_long_one() -> None:
    request = AnalysisRequest.model_validate(
        {"service": "shop", "canary": {"rollouts_pod_template_hash": "7f"}, "window": "9999999y"}
    )
    [target] = resolve(request, [service("events")]).targets
    assert target.window_seconds == 3600  # the SLO's gate.window, as for `window: 2h`
