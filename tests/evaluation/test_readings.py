"""Queries per path and what their answers mean per window and label group (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import promql_parser

from sloguard import promql
from sloguard.evaluation.model import Reading
from sloguard.evaluation.readings import (
    RulesAnswers,
    period_start,
    raw_query,
    raw_readings,
    rules_queries,
    rules_readings,
    window_ranges,
)
from sloguard.loading import load
from sloguard.spec.model import Calendar
from tests.support.repo import REPO

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()  # a Thursday


def test_calendar_periods_start_on_the_first_and_on_monday() -> None:
    assert period_start(Calendar.MONTH, AT) == datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    assert period_start(Calendar.WEEK, AT) == datetime(2026, 11, 23, tzinfo=UTC).timestamp()


def test_every_query_parses() -> None:
    loaded = load([REPO / "slo-definitions"])
    (queries,) = rules_queries(loaded.services)
    for expr in (queries.burn_rates, queries.budgets, queries.events, queries.window_events):
        promql_parser.parse(expr)
    for spec in loaded.services:
        for slo in spec.slos:
            promql_parser.parse(raw_query(slo, AT))
            if slo.calendar is Calendar.MONTH:  # 25 days and 12 hours into November
                assert window_ranges(slo, AT)["month"] == "25d12h"


def test_raw_answers_become_readings_per_group(tmp_path: Path) -> None:
    loaded = load([REPO / "slo-definitions" / "catalog.yaml"])
    spec = loaded.services[0]
    slo = spec.slos[0]

    def sample(method: str, window: str, kind: str, value: float) -> tuple[dict[str, str], float]:
        return (
            {"grpc_method": method, "sloguard_part": f"{window}/{kind}"},
            value,
        )

    found = raw_readings(
        spec,
        slo,
        [
            sample("Search", "5m", "total", 10.0),
            sample("Search", "5m", "errors", 0.5),
            sample("Get", "5m", "total", 4.0),  # no errors series: none failed
            sample("Get", "28d", "errors", 1.0),  # no total: no reading at all
        ],
        AT,
    )
    assert found[(("grpc_method", "Search"),)]["5m"] == Reading(0.05, 3000.0)
    assert found[(("grpc_method", "Get"),)] == {"5m": Reading(0.0, 1200.0)}


def test_rules_answers_become_readings_and_unloaded_rules_are_none(tmp_path: Path) -> None:
    loaded = load([REPO / "slo-definitions" / "checkout.yaml"])
    spec = loaded.services[0]
    slo = spec.slos[0]
    ids = {"service": "checkout", "slo": "availability", "team": "payments"}
    answers = RulesAnswers.index(
        [({**ids, "__name__": "slo:burn_rate:1h"}, 2.0)],
        [({**ids, "__name__": "slo:error_budget_remaining:ratio"}, 0.25)],
        [({**ids, "sloguard_part": "1h"}, 36000.0)],
        [({**ids, "__name__": "slo:sli_events:window"}, 9e6)],
    )
    found = rules_readings(spec, slo, answers, AT)
    assert found == {
        (): {
            "30d": Reading(0.00075, 9e6),
            "1h": Reading(0.002, 36000.0),
        }
    }
    other = {**ids, "slo": "latency"}
    assert rules_readings(spec, slo, RulesAnswers.index([], [(other, 0.5)], [], []), AT) is None
    # Rules just loaded: the budget is recorded, the coarse group has not run yet.
    young = RulesAnswers.index([], [({**ids, "__name__": "x"}, 0.25)], [], [])
    assert rules_readings(spec, slo, young, AT) is None


def test_series_under_labels_the_slo_no_longer_has_are_not_its_reading() -> None:
    # The definition's `team` was `checkout` before: the shared rules go on recording the SLO
    # under the old label for as long as a window reaches back. Whichever comes first, the
    # reading is the current series'; with only the old ones the raw path answers.
    loaded = load([REPO / "slo-definitions" / "checkout.yaml"])
    spec = loaded.services[0]
    slo = spec.slos[0]
    ids = {"service": "checkout", "slo": "availability", "team": "payments"}
    old = {**ids, "team": "checkout"}

    def answers(*label_sets: dict[str, str]) -> RulesAnswers:
        return RulesAnswers.index(
            [
                ({**labels, "__name__": "slo:burn_rate:1h"}, n + 2.0)
                for n, labels in enumerate(label_sets)
            ],
            [({**labels, "__name__": "x"}, 0.25 - n / 10) for n, labels in enumerate(label_sets)],
            [],
            [({**labels, "__name__": "x"}, 9e6 + n) for n, labels in enumerate(label_sets)],
        )

    for order in ((ids, old), (old, ids)):
        found = rules_readings(spec, slo, answers(*order), AT)
        n = order.index(ids)
        assert found == {
            (): {
                "30d": Reading((0.75 + n / 10) * 0.001, 9e6 + n),
                "1h": Reading((n + 2.0) * 0.001, None),
            }
        }
    assert rules_readings(spec, slo, answers(old), AT) is None


def test_the_rules_path_asks_in_shards_of_whole_services() -> None:
    services = load([REPO / "slo-definitions"]).services  # three services of two SLOs each
    assert [len(spec.slos) for spec in services] == [2, 2, 2]

    def shards(most: int) -> list[tuple[str, ...]]:
        return [shard.services for shard in rules_queries(services, shard_slos=most)]

    assert shards(4) == [("catalog", "checkout"), ("invoice-worker",)]
    assert shards(1) == [("catalog",), ("checkout",), ("invoice-worker",)]  # never split
    assert shards(2500) == [("catalog", "checkout", "invoice-worker")]
    by_names = rules_queries(services, shard_names=len("catalog,checkout,"))  # the regex's text
    assert [shard.services for shard in by_names] == [("catalog", "checkout"), ("invoice-worker",)]
    for shard in rules_queries(services, shard_slos=4):
        wanted = promql.one_of("service", shard.services)
        for expr in (shard.burn_rates, shard.budgets, shard.events, shard.window_events):
            promql_parser.parse(expr)
            selectors = re.findall(r"\{[^}]*\}", expr)
            assert selectors and all(wanted in found for found in selectors), expr


def test_each_short_window_s_events_are_read_for_the_slos_that_read_it() -> None:
    services = load([REPO / "slo-definitions"]).services  # 28d, 30d, month and 7d SLOs
    (queries,) = rules_queries(services)
    sel = promql.one_of("service", [spec.service for spec in services])
    parts = {
        found[2]: found[1]
        for found in re.finditer(
            r'label_replace\(\((.+?)\), "sloguard_part", "([^"]+)"', queries.events
        )
    }
    assert list(parts) == ["5m", "7m", "28m", "30m", "1h24m", "1h52m", "2h", "5h36m", "6h"]
    assert " and " not in parts["5m"]  # every SLO reads its 5m events
    for window in parts.keys() - {"5m"}:  # the SLOs recording a burn rate over it (a 7d SLO: 7m)
        assert parts[window].endswith(f") and on(service, slo) slo:burn_rate:{window}{{{sel}}}")
