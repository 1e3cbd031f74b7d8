"""Which spans a trace SLI counts, and whether each is good or bad."""

from __future__ import annotations

from typing import Any

import pytest

from sloguard.spans.counting import Series, Span, SpanCounter
from sloguard.spec.model import ServiceSLOs

RESOURCE = {"service.name": "checkout", "service.version": "2.4.1"}


def counter(**traces: Any) -> SpanCounter:
    sli = {"service": "checkout", "span": {"name": "POST /pay", "kind": "SERVER"}, **traces}
    spec = ServiceSLOs.model_validate(
        {
            "service": "checkout",
            "slos": [{"name": "pay", "objective": 99.9, "sli": {"traces": sli}}],
        }
    )
    return SpanCounter.of([spec])


ATTRIBUTES = {
    "http_response_status_code": "http.response.status_code",
    "http_status_code": "http.status_code",
    "http_route": "http.route",
}


def span(
    name: str = "POST /pay",
    kind: int = 2,
    error: bool = False,
    seconds: float = 0.05,
    **attributes: str,
) -> Span:
    return Span(name, kind, error, seconds, {ATTRIBUTES[k]: v for k, v in attributes.items()})


def outcomes(
    found: SpanCounter, spans: list[Span], resource: dict[str, str] = RESOURCE
) -> dict[str, int]:
    return {series.outcome: n for series, n in found.count(resource, spans).items()}


def test_failed_spans_are_bad_and_the_rest_good() -> None:
    spans = [
        span(),
        span(error=True),
        span(http_response_status_code="503"),
        span(http_status_code="500"),
        span(http_response_status_code="404"),
    ]
    assert outcomes(counter(), spans) == {"good": 2, "bad": 3}


def test_only_the_named_server_spans_of_the_service_count() -> None:
    spans = [span(), span(name="GET /cart"), span(kind=3), span(error=True)]
    assert outcomes(counter(), spans) == {"good": 1, "bad": 1}
    assert outcomes(counter(), spans, {"service.name": "catalog"}) == {}


def test_attributes_match_on_the_span_or_else_the_resource() -> None:
    found = counter(match={"http.route": "/pay", "deployment.environment": "prod"})
    resource = {**RESOURCE, "deployment.environment": "prod"}
    assert outcomes(found, [span(http_route="/pay"), span(http_route="/refund")], resource) == {
        "good": 1
    }
    assert outcomes(found, [span(http_route="/pay")], RESOURCE) == {}


def test_a_latency_sli_counts_slow_spans_as_bad_whatever_their_status() -> None:
    found = counter(threshold="300ms")
    assert outcomes(
        found, [span(seconds=0.2, error=True), span(seconds=0.3), span(seconds=0.31)]
    ) == {"good": 2, "bad": 1}


@pytest.mark.parametrize(
    ("options", "bad"),
    [({"error_status": False}, 1), ({"http_errors_from": None}, 1), ({"http_errors_from": 400}, 3)],
)
def test_what_counts_as_failed_is_configurable(options: dict[str, Any], bad: int) -> None:
    spans = [
        span(error=True),
        span(http_response_status_code="503"),
        span(http_response_status_code="404"),
    ]
    assert outcomes(counter(**options), spans).get("bad", 0) == bad


def test_the_version_label_comes_from_the_chosen_resource_attribute() -> None:
    [series] = counter().count(RESOURCE, [span()])
    assert series == Series(
        "checkout",
        "POST /pay",
        counter().count(RESOURCE, [span()]).most_common(1)[0][0].sli,
        "2.4.1",
        "good",
    )
    pods = counter(version_from="k8s.pod.name")
    [by_pod] = pods.count({**RESOURCE, "k8s.pod.name": "checkout-7f9c-x"}, [span()])
    assert by_pod.version == "checkout-7f9c-x"
    assert pods.resource_attributes >= {"service.name", "k8s.pod.name"}


def test_equal_trace_slis_share_their_series_and_different_ones_do_not() -> None:
    assert counter().count(RESOURCE, [span()]).keys() == counter().count(RESOURCE, [span()]).keys()
    [a] = counter().count(RESOURCE, [span()])
    [b] = counter(threshold="1s").count(RESOURCE, [span()])
    assert a.sli != b.sli and len(a.sli) == 12
