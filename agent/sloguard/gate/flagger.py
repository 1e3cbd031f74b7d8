"""Flagger's webhooks: its payload as a gate request, and the verdict as the status code
Flagger reads (its webhook contract: `pkg/controller/webhook.go`).

Flagger passes on 200-202 and fails on anything else, with the body as the event message;
its `rollback` hook has the inverse meaning (2xx triggers the rollback). Webhooks carry no
headers, so the token, if the gate has one, travels in `metadata.token`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sloguard import promql
from sloguard.errors import RequestError
from sloguard.gate.model import Verdict
from sloguard.gate.request import AnalysisRequest, problems

# Flagger's own pod pattern for a target's pods (`<name>-<replicaset>-<pod>`), and its primary's.
CANARY_PODS = "{name}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
PRIMARY_PODS = "{name}-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
NOT_PASSED = 412
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Hook(StrEnum):
    """Which webhook asks: a gate (`pre-rollout`, `rollout`, `confirm-promotion`) or `rollback`."""

    GATE = "gate"
    ROLLBACK = "rollback"


class FlaggerPayload(BaseModel):
    """What Flagger POSTs to a webhook; event hooks add fields, which are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(
        max_length=63,
        pattern=DNS_LABEL,
        description="The Canary's name (a Service name Flagger derives others from).",
    )
    namespace: str = Field(max_length=63, pattern=DNS_LABEL)
    phase: str = Field("", max_length=32)
    checksum: str = Field("", max_length=128)
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="`service` (default: the Canary's name), `canary` and `baseline` "
        "(PromQL label matchers; default: Flagger's canary and primary pods in the "
        "namespace), `slos` (comma-separated), `window`, `token`.",
    )


def analysis_request(payload: FlaggerPayload) -> AnalysisRequest:
    """The gate request a webhook's payload stands for; RequestError when it cannot be one."""
    meta = payload.metadata
    # A DNS label: nothing in it is special in a regular expression.
    name = payload.name
    canary = meta.get("canary") or _pods(payload.namespace, CANARY_PODS.format(name=name))
    baseline = meta.get("baseline") or _pods(payload.namespace, PRIMARY_PODS.format(name=name))
    try:
        return AnalysisRequest(
            service=meta.get("service", payload.name),
            slos=[s.strip() for s in meta.get("slos", "").split(",") if s.strip()],
            canary=canary,
            baseline=baseline,
            window=meta.get("window") or None,
        )
    except ValidationError as exc:
        raise RequestError(problems(exc, "metadata.")) from None


class FlaggerAnswer(BaseModel):
    """What a webhook answers beside its status: the verdict behind it and why."""

    verdict: Verdict
    reason: str
    hook: Hook


def status(hook: Hook, verdict: Verdict) -> int:
    """The status Flagger reads: a gate passes only on pass; a rollback happens only on fail
    (never on inconclusive: missing data never rolls anything back)."""
    wanted = Verdict.PASS if hook is Hook.GATE else Verdict.FAIL
    return 200 if verdict is wanted else NOT_PASSED


def _pods(namespace: str, pattern: str) -> str:
    """Matchers as PromQL text (parsed again by `selection`, never pasted into a query)."""
    return promql.selector({"namespace": namespace}, promql.regex_matcher("pod", pattern))
