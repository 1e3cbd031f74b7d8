"""The gate's published OpenAPI schema, fuzzed with schemathesis: whatever a caller sends
(within the schema or not), the answer is never a 5xx and always matches what is published."""

from __future__ import annotations

from typing import Any

import hypothesis
import schemathesis
from schemathesis.config import SchemathesisConfig

from sloguard.gating import GateSettings
from tests.support.gate import Counting, app_for
from tests.support.repo import REPO


def app() -> Any:
    settings = GateSettings(time_budget_seconds=2)
    return app_for(REPO / "slo-definitions", Counting(), settings=settings)[1].app()


# The schema cannot say that a label matcher parses or that an SLO has its gate enabled: the
# gate answers those schema-valid requests with a documented 400 and the reason. Flagger's
# webhooks answer a canary that did not pass (or is not to be rolled back) with 412.
STATUSES = ["2XX", "400", "401", "404", "412"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": STATUSES}}}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app(), config=CONFIG).include(
    path_regex="^/v1/(analysis|flagger/)"
)


@schema.parametrize()
@hypothesis.settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_the_gate_never_answers_5xx_and_keeps_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()
