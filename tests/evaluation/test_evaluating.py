"""Choosing a path per SLO and a worst group per per-label SLO, with a fake at our own port."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sloguard.errors import QueryRejected
from sloguard.evaluating import evaluate
from sloguard.evaluation.model import Evaluation, Origin, Status
from sloguard.evaluation.readings import Sample
from sloguard.loading import load
from tests.support.fakes import raw_windows
from tests.support.repo import REPO

AT = 1_790_000_000.0


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
