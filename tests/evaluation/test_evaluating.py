"""Choosing a path per SLO and a worst group per per-label SLO, with a fake at our own port."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sloguard.errors import QueryRejected, SourceUnavailable
from sloguard.evaluating import Histories, evaluate
from sloguard.evaluation.history import trend_query
from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.evaluation.readings import Sample
from sloguard.loading import load
from sloguard.promql import PART_LABEL
from tests.support.fakes import raw_windows
from tests.support.repo import REPO

AT = 1_790_000_000.0
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


class Answers:
    """A source that answers each query from a function of its text."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.queries: list[str] = []

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        self.queries.append(expr)
        return self.answer(expr)  # type: ignore[operator, no-any-return]


def run(source: Answers, file: str = "catalog.yaml") -> list[Evaluation]:
    loaded = load([REPO / "slo-definitions" / file])
    return asyncio.run(evaluate(loaded.services, source, AT))


def raw_answer(errors: dict[str, float]) -> object:
    """Every window of every group: 10 events/s, the group's error share."""

    def answer(expr: str) -> list[Sample]:
        samples: list[Sample] = []  # none but for raw readings: no rules loaded
        for window in raw_windows(expr):
            for method, share in errors.items():
                base = {"grpc_method": method}
                samples.append(({**base, "sloguard_part": f"{window}/total"}, 10.0))
                samples.append(({**base, "sloguard_part": f"{window}/errors"}, 10.0 * share))
        return samples

    return answer


def test_without_rules_each_slo_is_computed_from_its_sli_and_the_worst_group_shows() -> None:
    source = Answers(raw_answer({"Search": 0.0001, "Get": 0.02}))
    availability, _ = run(source)
    assert availability.origin is Origin.RAW
    assert availability.group == {"grpc_method": "Get"}  # 2% errors: 40x the budget
    assert availability.status is Status.EXHAUSTED
    assert len(source.queries) == 4 + 2  # the rules path's four, then one per SLO


def test_every_slo_is_evaluated_once_in_definition_order() -> None:
    services = load([REPO / "slo-definitions"]).services  # two services have an "availability"
    evaluations = asyncio.run(evaluate(services, Answers(lambda expr: []), AT))
    assert [(e.service, e.slo) for e in evaluations] == [
        (spec.service, slo.name) for spec in services for slo in spec.slos
    ]


def test_a_rejected_query_is_no_data_with_the_reason() -> None:
    def answer(expr: str) -> list[Sample]:
        if raw_windows(expr):
            raise QueryRejected("Prometheus rejected the query: bad_data: boom")
        return []

    for evaluation in run(Answers(answer)):
        assert evaluation.status is Status.NO_DATA
        assert evaluation.reason == "query failed: Prometheus rejected the query: bad_data: boom"


def test_an_empty_answer_is_no_data_not_ok() -> None:
    for evaluation in run(Answers(lambda expr: []), "checkout.yaml"):
        assert evaluation.status is Status.NO_DATA
        assert evaluation.reason == "no samples over the 30d window"
        assert evaluation.origin is Origin.RAW


def test_the_overview_s_trends_are_read_once_a_minute_and_the_last_shown_meanwhile() -> None:
    services = load([REPO / "slo-definitions"]).services
    now = [0.0]

    class Budgets:
        def __init__(self) -> None:
            self.reads = 0
            self.delay = 0.0

        async def query(self, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
            return []

        async def query_range(
            self, expr: str, start: float, end: float, step: float
        ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
            self.reads += 1
            await asyncio.sleep(self.delay)
            assert expr == trend_query(services)
            return [({"service": "checkout", "slo": "availability"}, [(end, 0.5 + self.reads)])]

    source = Budgets()
    histories = Histories(source, 5, clock=lambda: now[0])

    async def scenario() -> None:
        first = await histories.trends(services, 1e9, 1, 1.0)
        assert first == {("checkout", "availability"): [(1e9, 1.5)]}
        now[0] += 30
        assert await histories.trends(services, 1e9 + 30, 1, 1.0) == first and source.reads == 1
        now[0] += 31  # a minute on: read again, slowly; the last reading shown meanwhile
        source.delay = 0.3
        assert await histories.trends(services, 1e9 + 61, 1, 0.05) == first
        await asyncio.sleep(0.4)
        again = await histories.trends(services, 1e9 + 62, 1, 0.05)
        assert again == {("checkout", "availability"): [(1e9 + 61, 2.5)]} and source.reads == 2

    asyncio.run(scenario())


def test_each_shard_of_services_is_read_apart_and_fails_alone() -> None:
    (checkout,) = load([REPO / "slo-definitions" / "checkout.yaml"]).services
    slo = checkout.slos[0]
    many = [slo.model_copy(update={"name": f"s{i}"}) for i in range(1300)]
    services = [
        checkout.model_copy(update={"service": name, "slos": many}) for name in ("first", "second")
    ]

    def answer(expr: str) -> list[Sample]:
        (asked,) = set(re.findall(r'service=~"([^"]+)"', expr))
        if asked == "second":
            raise SourceUnavailable("Prometheus answered 503", "http_status")
        # Every series carries the definition's labels, as the rules record them.
        ids = [{**checkout.labels, "service": asked, "slo": s.name} for s in many]
        if expr.startswith("{__name__"):
            return [({**i, "__name__": f"slo:burn_rate:{w}"}, 0.5) for i in ids for w in WINDOWS]
        if expr.startswith("slo:error_budget_remaining"):
            return [(i, 0.5) for i in ids]
        if expr.startswith("slo:sli_events:window"):
            return [(i, 1e8) for i in ids]
        windows = re.findall(f'"{PART_LABEL}", "([^"]+)"', expr)
        return [({**i, PART_LABEL: w}, 1e6) for i in ids for w in windows]

    source = Answers(answer)
    evaluations = asyncio.run(evaluate(services, source, AT))
    assert len(source.queries) == 8  # four a shard of 2,500 SLOs at most: one service each
    first, second = evaluations[:1300], evaluations[1300:]
    assert {(e.service, e.origin, e.status, e.error_budget_remaining) for e in first} == {
        ("first", Origin.RULES, Status.OK, 0.5)
    }
    assert {(e.service, e.status, e.reason) for e in second} == {
        ("second", Status.NO_DATA, "query failed: Prometheus answered 503")
    }


def test_two_shards_are_read_at_a_time_and_every_one_is_judged() -> None:
    (checkout,) = load([REPO / "slo-definitions" / "checkout.yaml"]).services
    many = [checkout.slos[0].model_copy(update={"name": f"s{i}"}) for i in range(1300)]
    names = ("first", "second", "third")  # 1,300 SLOs each: a shard each
    services = [checkout.model_copy(update={"service": n, "slos": many}) for n in names]
    reading: set[str] = set()
    most = 0

    class Slow:
        async def query(self, expr: str, at: float) -> Sequence[Sample]:
            nonlocal most
            (asked,) = set(re.findall(r'service=~"([^"]+)"', expr))  # a rules-path query
            reading.add(asked)
            most = max(most, len(reading))
            await asyncio.sleep(0.05)
            reading.discard(asked)
            if expr.startswith(("slo:error_budget_remaining", "slo:sli_events:window")):
                return [({**checkout.labels, "service": asked, "slo": s.name}, 0.5) for s in many]
            return []

    evaluations = asyncio.run(evaluate(services, Slow(), AT))
    assert {e.origin for e in evaluations} == {Origin.RULES}
    assert most == 2  # the third shard's answers wait for one of the first two to be judged
    assert [e.service for e in evaluations] == [n for n in names for _ in many]


def test_a_failed_query_stops_the_rest_of_its_shard() -> None:
    stopped: list[str] = []

    class Failing:
        async def query(self, expr: str, at: float) -> Sequence[Sample]:
            if expr.startswith("{__name__"):
                raise SourceUnavailable("Prometheus answered 503", "http_status")
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                stopped.append(expr)
                raise
            return []

    async def cycle() -> list[Evaluation]:
        evaluations = await evaluate(load([REPO / "slo-definitions"]).services, Failing(), AT)
        assert len(stopped) == 3  # budgets and both events: not left asking after the cycle
        return evaluations

    evaluations = asyncio.run(cycle())
    assert {e.reason for e in evaluations} == {"query failed: Prometheus answered 503"}
