"""The agent's HTTP API (FastAPI): metrics, health, readiness and the SLO evaluations."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from sloguard import __version__
from sloguard.agent import Agent
from sloguard.evaluation.report import document


def create_app(agent: Agent, registry: CollectorRegistry, lifespan: Any = None) -> FastAPI:
    app = FastAPI(title="sloguard", version=__version__, lifespan=lifespan)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up and serving."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready once an evaluation completed with Prometheus answering (503 otherwise)."""
        readiness = agent.readiness()
        body = {
            "ready": readiness.ready,
            "reason": readiness.reason,
            "definitions_error": agent.definitions_error or None,
        }
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    @app.get("/v1/slos")
    def slos() -> JSONResponse:
        """The latest evaluation of every SLO (the same JSON as `sloguard evaluate`)."""
        if agent.cycles == 0:
            return JSONResponse({"detail": "no evaluation has completed yet"}, status_code=503)
        return JSONResponse([document(e) for e in agent.evaluations])

    return app
