"""Kubernetes identities at the gate: TokenReview through the real `kubernetes` client against a
fake API server over HTTP (`tests/support/fakeapi.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sloguard.assembly import GateAuthSettings
from sloguard.errors import ClusterError
from sloguard.kube import TokenReviewer, api_client
from tests.support.fakeapi import TOKEN_REVIEWS, FakeAPI, running_api
from tests.support.fakes import Clock
from tests.support.gate import REQUEST, Counting, app_for
from tests.support.repo import FIXTURES

pytestmark = pytest.mark.integration  # starts real processes or servers

ARGO = "system:serviceaccount:argo-rollouts:argo-rollouts"


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with running_api() as found:
        found.identities["argo-token"] = (
            ARGO,
            ["system:serviceaccounts", "system:serviceaccounts:argo-rollouts"],
        )
        found.identities["intruder-token"] = (
            "system:serviceaccount:default:intruder",
            ["system:serviceaccounts"],
        )
        yield found


def reviewer(api: FakeAPI, tmp_path: Path, allowed: list[str], **options: object) -> TokenReviewer:
    return TokenReviewer(api_client(api.kubeconfig(tmp_path)), allowed, **options)  # type: ignore[arg-type]


def test_an_allowed_service_account_or_group_is_accepted(api: FakeAPI, tmp_path: Path) -> None:
    by_name = reviewer(api, tmp_path, [ARGO])
    by_group = reviewer(api, tmp_path, ["system:serviceaccounts:argo-rollouts"])
    assert asyncio.run(by_name.accepts("argo-token"))
    assert asyncio.run(by_group.accepts("argo-token"))
    assert not asyncio.run(by_name.accepts("intruder-token"))  # known, but not allowed
    assert not asyncio.run(by_name.accepts("forged-token"))  # unknown to the API
    assert not asyncio.run(by_name.accepts(""))
    [method, path, body] = api.requests[0]
    assert (method, path) == ("POST", TOKEN_REVIEWS)
    assert body["kind"] == "TokenReview" and body["spec"]["token"] == "argo-token"


def test_audiences_are_asked_for(api: FakeAPI, tmp_path: Path) -> None:
    asyncio.run(reviewer(api, tmp_path, [ARGO], audiences=["sloguard"]).accepts("argo-token"))
    assert api.requests[-1][2]["spec"]["audiences"] == ["sloguard"]


def test_answers_are_kept_for_the_ttl_but_failures_are_not(api: FakeAPI, tmp_path: Path) -> None:
    clock = Clock(0.0)
    cached = reviewer(api, tmp_path, [ARGO], ttl_seconds=60, clock=clock)
    for _ in range(3):
        assert asyncio.run(cached.accepts("argo-token"))
    assert len(api.requests) == 1
    clock.now = 61
    assert asyncio.run(cached.accepts("argo-token"))
    assert len(api.requests) == 2


def test_an_api_that_refuses_the_agent_accepts_nobody(api: FakeAPI, tmp_path: Path) -> None:
    config = api.kubeconfig(tmp_path)
    config.write_text(config.read_text().replace("sloguard-agent-token", "wrong"))
    refused = TokenReviewer(api_client(config), [ARGO])
    reviewed = asyncio.run(refused.review("argo-token"))
    assert not reviewed.authenticated and "401" in reviewed.error
    asyncio.run(refused.review("argo-token"))
    assert len(api.requests) == 2  # a failure is asked again, never remembered


def test_a_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text("{}")
    with pytest.raises(ClusterError, match="no Kubernetes API configuration"):
        api_client(tmp_path / "kubeconfig")


def test_the_gate_lets_argo_rollouts_service_account_in(api: FakeAPI, tmp_path: Path) -> None:
    allowed = GateAuthSettings(allow=(ARGO,))
    _, assembly = app_for(
        FIXTURES / "native", Counting(), allowed, kubeconfig=api.kubeconfig(tmp_path)
    )
    app = assembly.app()

    async def ask(token: str) -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
            headers = {"Authorization": f"Bearer {token}"}
            return (await http.post("/v1/analysis", json=REQUEST, headers=headers)).status_code

    assert asyncio.run(ask("argo-token")) == 200
    assert asyncio.run(ask("intruder-token")) == 401
