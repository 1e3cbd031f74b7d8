"""The shipped AnalysisTemplates, evaluated the way Argo Rollouts' `web` provider does
(its `jsonBody`, `successCondition` and `failureCondition` evaluation), against `sloguard run` processes: one
reading a real Prometheus with canary and stable traffic, one whose Prometheus is stopped.

For each template and case: args resolved into the metric's JSON text (Argo substitutes
`{{args.*}}` in the marshalled metric), the request built from `method`, `url`, `headers` and
`jsonBody`, a non-2xx answer an Error, `jsonPath` read from the JSON answer (nothing found is
an Error), then the measurement phase from both conditions: failure first, then success,
else Inconclusive.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.support.canaries import DEFINITION, STABLE, canary_prometheus, running_agent
from tests.support.realprom import free_port
from tests.support.repo import REPO

pytestmark = pytest.mark.integration  # starts real processes or servers

TEMPLATES = REPO / "deploy" / "argo-rollouts" / "analysis-templates.yaml"
IN_CLUSTER = "http://sloguard.sloguard.svc:8080"
TOKEN = "argo-gate-token"
CONDITION = re.compile(r'^result == "([a-z]+)"$')


def templates() -> dict[str, dict[str, Any]]:
    documents = yaml.safe_load_all(TEMPLATES.read_text())
    return {d["metadata"]["name"]: d for d in documents if d and d["kind"] == "AnalysisTemplate"}


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`live` reads the backfilled Prometheus, `stopped` a port nothing listens on."""
    directory = tmp_path_factory.mktemp("argo")
    definitions = directory / "defs"
    definitions.mkdir()
    (definitions / "shop.yaml").write_text(DEFINITION)
    end = int(time.time()) // 60 * 60 - 60
    flags = ("--retries=0", "--query-timeout=2")
    with (
        canary_prometheus(directory, end) as prometheus,
        running_agent(definitions, prometheus.url, TOKEN, *flags) as (live, _),
        running_agent(definitions, f"http://127.0.0.1:{free_port()}", TOKEN, *flags) as (
            stopped,
            _,
        ),
    ):
        yield {"live": live, "stopped": stopped}


def measure(template: dict[str, Any], args: dict[str, str], server: str) -> str:
    """One measurement of the template's metric, as Argo's web provider takes it."""
    values = {a["name"]: a["value"] for a in template["spec"]["args"] if "value" in a}
    secrets = {a["name"] for a in template["spec"]["args"] if "valueFrom" in a}
    values.update({name: TOKEN for name in secrets})
    values.update(
        {k: v for k, v in args.items() if k in {a["name"] for a in template["spec"]["args"]}}
    )
    [metric] = template["spec"]["metrics"]
    text = json.dumps(metric)
    for name, value in values.items():
        text = text.replace("{{args." + name + "}}", value)
    assert "{{args." not in text, f"unresolved args in {template['metadata']['name']}"
    metric = json.loads(text)
    web = metric["provider"]["web"]
    assert not ("body" in web and "jsonBody" in web)
    assert web["url"].startswith(IN_CLUSTER)
    timeout = web.get("timeoutSeconds", 10) if web.get("timeoutSeconds", 10) > 0 else 10
    try:
        response = httpx.request(
            web.get("method", "GET"),
            server + web["url"].removeprefix(IN_CLUSTER),
            headers={h["key"]: h["value"] for h in web.get("headers", [])},
            json=web.get("jsonBody"),
            timeout=timeout,
        )
    except httpx.TransportError:
        return "Error"
    if not 200 <= response.status_code < 300:
        return "Error"
    assert response.headers["content-type"] == "application/json"  # never plain text
    match = re.fullmatch(r"\{\$((?:\.\w+)+)\}", web["jsonPath"])
    assert match, f"unsupported jsonPath {web['jsonPath']}"
    result: Any = response.json()
    for key in match[1].strip(".").split("."):
        if not isinstance(result, dict) or key not in result:
            return "Error"
        result = result[key]
    failure = CONDITION.fullmatch(metric["failureCondition"])
    success = CONDITION.fullmatch(metric["successCondition"])
    assert failure and success
    if result == failure[1]:
        return "Failed"
    if result == success[1]:
        return "Successful"
    return "Inconclusive"


def arguments(canary: str) -> dict[str, str]:
    return {"service": "shop", "canary-hash": canary, "stable-hash": STABLE}


WITH_BASELINE = ["sloguard-canary-step", "sloguard-canary-background", "sloguard-bluegreen-pre"]


def test_the_templates_are_what_the_web_provider_needs() -> None:
    found = templates()
    assert set(found) == {*WITH_BASELINE, "sloguard-bluegreen-post"}
    for template in found.values():
        [metric] = template["spec"]["metrics"]
        web = metric["provider"]["web"]
        assert (web["method"], web["jsonPath"]) == ("POST", "{$.verdict}")
        assert web["timeoutSeconds"] <= 10 and metric["failureLimit"] == 0
        assert metric.get("count", 1) >= 1  # a step analysis with count 0 never runs


@pytest.mark.parametrize("name", WITH_BASELINE)
@pytest.mark.parametrize(
    ("server", "canary", "phase"),
    [
        ("live", "healthy", "Successful"),
        ("live", "broken", "Failed"),
        ("live", "slow", "Failed"),
        ("live", "not-deployed", "Inconclusive"),
        ("stopped", "healthy", "Inconclusive"),
    ],
)
def test_each_case_gets_its_phase(
    agents: dict[str, str], name: str, server: str, canary: str, phase: str
) -> None:
    assert measure(templates()[name], arguments(canary), agents[server]) == phase


@pytest.mark.parametrize(
    ("server", "canary", "phase"),
    [
        ("live", "healthy", "Successful"),
        # Without a baseline, 5x the stable errors is still within the SLO (burn 1 < 14.4).
        ("live", "broken", "Successful"),
        ("live", "not-deployed", "Inconclusive"),
        ("stopped", "healthy", "Inconclusive"),
    ],
)
def test_post_promotion_judges_the_new_version_alone(
    agents: dict[str, str], server: str, canary: str, phase: str
) -> None:
    template = templates()["sloguard-bluegreen-post"]
    assert measure(template, arguments(canary), agents[server]) == phase


def test_without_the_token_the_measurement_is_an_error(agents: dict[str, str]) -> None:
    template = json.loads(json.dumps(templates()["sloguard-canary-step"]))
    template["spec"]["metrics"][0]["provider"]["web"]["headers"] = []
    assert measure(template, arguments("healthy"), agents["live"]) == "Error"
