from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from sloguard.spec.model import SLO, Calendar, ServiceSLOs, json_schema, merge_services


def slo(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "availability",
        "objective": 99.9,
        "sli": {
            "events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}
        },
    }
    return {**base, **overrides}


def test_objective_becomes_an_exact_ratio_and_budget() -> None:
    model = SLO.model_validate(slo(objective=99.9))
    assert model.objective_ratio == Decimal("0.999")
    assert model.error_budget == Decimal("0.001")


@pytest.mark.parametrize("objective", [0, 100, 100.5, -1])
def test_objective_must_leave_a_budget(objective: float) -> None:
    with pytest.raises(ValidationError, match="objective"):
        SLO.model_validate(slo(objective=objective))


@pytest.mark.parametrize(
    ("window", "seconds", "calendar"),
    [
        ("30d", 2592000, None),
        ("4w", 2419200, None),
        ("month", 2592000, Calendar.MONTH),
        ("week", 604800, Calendar.WEEK),
    ],
)
def test_windows_are_rolling_or_calendar(
    window: str, seconds: int, calendar: Calendar | None
) -> None:
    model = SLO.model_validate(slo(window=window))
    assert model.window_seconds == seconds
    assert model.calendar == calendar


@pytest.mark.parametrize("window", ["12h", "quarter", "30", "thirty days"])
def test_bad_windows_are_rejected(window: str) -> None:
    with pytest.raises(ValidationError, match="window"):
        SLO.model_validate(slo(window=window))


@pytest.mark.parametrize("name", ["-bad", "bad-", "Bad Name", "x" * 64, ""])
def test_names_must_be_kubernetes_label_values(name: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        SLO.model_validate(slo(name=name))


def test_events_need_exactly_one_of_errors_or_good() -> None:
    both = {"events": {"errors": "a", "good": "b", "total": "c"}}
    with pytest.raises(ValidationError, match="exactly one of `errors` or `good`"):
        SLO.model_validate(slo(sli=both))


def test_an_sli_has_exactly_one_kind() -> None:
    with pytest.raises(
        ValidationError, match="exactly one of `events`, `raw`, `latency` or `traces`"
    ):
        SLO.model_validate(slo(sli={}))


def test_latency_metric_is_the_histogram_base_name() -> None:
    sli = {"latency": {"metric": "http_seconds_bucket", "threshold": "300ms"}}
    with pytest.raises(ValidationError, match="without '_bucket'"):
        SLO.model_validate(slo(sli=sli))


def test_unknown_fields_are_errors() -> None:
    with pytest.raises(ValidationError, match="objectve"):
        SLO.model_validate({**slo(), "objectve": 99})


def test_services_with_the_same_name_merge_keeping_their_labels() -> None:
    a = ServiceSLOs.model_validate({"service": "s", "labels": {"team": "a"}, "slos": [slo()]})
    b = ServiceSLOs.model_validate({"service": "s", "slos": [slo(name="latency")]})
    [merged] = merge_services([a, b])
    assert [s.name for s in merged.slos] == ["availability", "latency"]
    assert merged.slos[0].labels == {"team": "a"}
    assert merged.slos[1].labels == {}


def test_json_schema_describes_the_native_format() -> None:
    schema = json_schema()
    assert schema["title"] == "sloguard SLO definitions"
    assert set(schema["required"]) == {"service", "slos"}
    assert "SLO" in schema["$defs"]
    assert schema["additionalProperties"] is False
