"""The published OpenAPI document (docs/openapi.json) is the one the agent serves, every route in
it says what it answers, and what the agent answers matches it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema

from sloguard.cli.reference import api_document
from tests.support.agent import api, assembled
from tests.support.fakes import Switchable
from tests.support.repo import REPO

PUBLISHED = REPO / "docs" / "openapi.json"


def test_the_published_document_is_the_code_s() -> None:
    assert PUBLISHED.read_text() == api_document(), "run `make generate` and commit the document"


def test_every_route_says_what_it_answers() -> None:
    document = json.loads(api_document())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("description") or operation.get("summary"), where
            for status, answer in operation["responses"].items():
                assert answer.get("description"), f"{where} {status}"
                for media, content in answer.get("content", {}).items():
                    if media == "application/json":
                        assert content.get("schema"), f"{where} {status}: no schema"
    gate = document["paths"]["/v1/analysis"]["post"]
    assert gate["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_agent_answers_as_the_document_says(shop_definitions: Path) -> None:
    document = json.loads(api_document())
    assembly = assembled(shop_definitions, Switchable())

    async def answers() -> dict[str, Any]:
        http = api(assembly)
        before = await http.get("/v1/slos")
        await assembly.agent.cycle()
        return {
            "/v1/slos 503": before.json(),
            "/v1/slos 200": (await http.get("/v1/slos")).json(),
            "/readyz 200": (await http.get("/readyz")).json(),
            "/healthz 200": (await http.get("/healthz")).json(),
        }

    answered = asyncio.run(answers())
    for name, body in answered.items():
        path, status = name.split()
        content = document["paths"][path]["get"]["responses"][status]["content"]
        # With the components beside it, the schema's `#/components/...` references resolve.
        schema = {**content["application/json"]["schema"], "components": document["components"]}
        jsonschema.validate(body, schema)
    assert answered["/v1/slos 200"][0]["status"] == "ok"
