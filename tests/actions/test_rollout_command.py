"""`sloguard rollout abort|retry|promote`: the operators' patches on a Rollout, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sloguard.cli import main
from tests.support import scenes
from tests.support.fakeapi import MERGE, running_api

pytestmark = pytest.mark.integration  # starts real processes or servers

ROLLOUT = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/checkout"


def test_abort_then_retry_then_promote_a_rollout(tmp_path: Path) -> None:
    with running_api() as api:
        scenes.rollout(api, "checkout", current="7f9c", stable="5d4b")
        config = str(api.kubeconfig(tmp_path))

        def run(verb: str) -> str:
            result = CliRunner().invoke(
                main, ["rollout", verb, "checkout", "-n", "shop", "--kubeconfig", config]
            )
            assert result.exit_code == 0, result.output
            return result.output

        assert run("abort") == "aborted Rollout shop/checkout\n"
        assert api.get("Rollout", "shop", "checkout")["status"]["abort"] is True
        run("retry")
        assert api.get("Rollout", "shop", "checkout")["status"]["abort"] is False
        paused = api.get("Rollout", "shop", "checkout")
        paused["spec"]["paused"] = True
        paused["status"]["pauseConditions"] = [
            {"reason": "CanaryPauseStep", "startTime": "2026-11-26T10:00:00Z"}
        ]
        api.put(paused)
        api.calls.clear()
        assert run("promote") == "promoted Rollout shop/checkout\n"
        patches = [(c.path, c.content_type, c.body) for c in api.calls if c.method == "PATCH"]
        assert patches == [
            (ROLLOUT, MERGE, {"spec": {"paused": False}}),
            (
                f"{ROLLOUT}/status",
                MERGE,
                {"status": {"pauseConditions": None, "controllerPause": False}},
            ),
        ]
        promoted = api.get("Rollout", "shop", "checkout")
        assert promoted["spec"]["paused"] is False and "pauseConditions" not in promoted["status"]


def test_a_missing_rollout_is_a_clear_error(tmp_path: Path) -> None:
    with running_api() as api:
        config = str(api.kubeconfig(tmp_path))
        result = CliRunner().invoke(
            main, ["rollout", "abort", "nope", "-n", "shop", "--kubeconfig", config]
        )
    assert result.exit_code == 2
    assert "read Rollout shop/nope: 404" in result.output
