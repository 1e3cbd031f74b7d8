"""The agent's HTTP API (FastAPI): metrics, health, readiness, the SLO evaluations, and the
promotion gate (`POST /v1/analysis`, and Flagger's webhooks under `/v1/flagger/`).

Every answer is JSON, errors included: Argo's web provider takes a 2xx non-JSON body for a
success in some versions, so not even a crash may answer plain text."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from sloguard import __version__
from sloguard.agent import Agent
from sloguard.errors import RequestError, UnknownTarget
from sloguard.evaluating import Histories
from sloguard.evaluation.history import RANGES, History
from sloguard.evaluation.report import EvaluationReport, document
from sloguard.gate.flagger import FlaggerAnswer, FlaggerPayload, Hook, analysis_request, status
from sloguard.gate.report import DecisionReport
from sloguard.gate.request import AnalysisRequest
from sloguard.gating import Gatekeeper
from sloguard.reporting import PeriodReports
from sloguard.server import otlp
from sloguard.server.answers import Health, Invalid, Problem, Readiness
from sloguard.server.console import Within, add_console, find_slo
from sloguard.server.otlp import TraceReceiver
from sloguard.server.polls import RepeatedPolls
from sloguard.server.recent import Recent, add_recent_routes
from sloguard.server.reports import add_report_routes
from sloguard.server.security import AuthFirst, BodyLimit, GateAuth

log = logging.getLogger("sloguard.server")
ANALYSIS = "/v1/analysis"
FLAGGER = "/v1/flagger/"
# What the console shows and reads: behind the gate's auth with `guard_reads`.
READS = frozenset(
    {"/", "/gate", "/actions", "/reports", "/v1/slos", "/v1/gate/decisions", "/v1/actions"}
)
READ_PREFIXES = ("/slos/", "/v1/slos/", "/reports/")


def reads(path: str) -> bool:
    """Whether the gate's auth guards `path` when reads are guarded (the gate's own path, the
    console's pages and the JSON they read)."""
    return path == ANALYSIS or path in READS or path.startswith(READ_PREFIXES)


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request cannot be answered as asked."},
    401: {"model": Problem, "description": "No or wrong bearer token."},
    404: {"model": Problem, "description": "No such service or SLO."},
    413: {"model": Problem, "description": "Body over 64 KiB."},
    422: {"model": Invalid, "description": "The body is not a request of this shape."},
    503: {"model": Problem, "description": "Too many request bodies being received; retry."},
}
FLAGGER_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": FlaggerAnswer, "description": "Passed (gate) or roll back now (rollback)."},
    412: {"model": FlaggerAnswer, "description": "Not passed (gate) or no rollback (rollback)."},
    **ERRORS,
}
OTLP_BODY = {
    "required": True,
    "content": {
        otlp.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        otlp.JSON: {"schema": {"type": "object"}},
    },
}
OTLP_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Taken (an ExportTraceServiceResponse, partial when spans dropped)."},
    400: {
        "description": "Not an ExportTraceServiceRequest, or a bad encoding (a google.rpc Status)."
    },
    413: {"description": "Body over the size limit, compressed or decompressed."},
    415: {"description": "Neither OTLP protobuf nor OTLP JSON."},
    503: {"description": "Too many exports in flight; retry after the `Retry-After` seconds."},
}


def create_app(
    agent: Agent,
    registry: CollectorRegistry,
    lifespan: Any = None,
    gatekeeper: Gatekeeper | None = None,
    auth: GateAuth | None = None,
    receiver: TraceReceiver | None = None,
    recent: Recent | None = None,
    histories: Histories | None = None,
    reports: PeriodReports | None = None,
    console: bool = True,
    guard_reads: bool = False,
    grafana_url: str = "",
) -> FastAPI:
    """The app; the gate's routes exist when a `gatekeeper` is given, guarded by `auth` when
    it is configured; `POST /v1/traces` when a trace `receiver` is; the recent decisions and
    actions when their journals are given, SLOs' histories when `histories` reads them, the
    period reports when `reports` reads them, and the console's pages over these when
    `console`. With `guard_reads`, the console and what it reads need the gate's `auth` too."""
    app = FastAPI(
        title="sloguard",
        version=__version__,
        lifespan=lifespan,
        description="SLO evaluations and a promotion gate decided from SLO definitions.",
        # Swagger UI and ReDoc load their scripts from a CDN, which many clusters cannot
        # reach: the document itself is served, for any viewer to open.
        docs_url=None,
        redoc_url=None,
    )
    if gatekeeper is not None:
        app.add_middleware(RepeatedPolls, gatekeeper=gatekeeper, path=ANALYSIS)
    if auth is not None:
        guarded = reads if guard_reads else ANALYSIS.__eq__
        app.add_middleware(AuthFirst, auth=auth, header=guarded, flagger=FLAGGER)
    app.add_middleware(BodyLimit, paths={"/v1/traces": otlp.MAX_BODY_BYTES})  # outermost
    _error_answers(app)
    _agent_routes(app, agent, registry)
    if histories is not None:
        _history_route(app, agent, histories)
    if reports is not None:
        add_report_routes(app, reports)
    if recent is not None:
        add_recent_routes(app, recent)
        if console and histories is not None and reports is not None:
            add_console(app, agent, recent, histories, reports, grafana_url)
    if receiver is not None:
        _trace_route(app, receiver)
    if gatekeeper is not None:
        _gate_routes(app, gatekeeper, guarded=auth is not None)
    if auth is not None:
        _declare_bearer(app, reads if guard_reads else ANALYSIS.__eq__)
    return app


def _error_answers(app: FastAPI) -> None:
    """Every error is JSON: a refused request names why, a crash says only that it was one."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [_encodable(e) for e in exc.errors()]}, status_code=422)

    @app.exception_handler(RequestError)
    async def refused(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=404 if isinstance(exc, UnknownTarget) else 400
        )

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", exc_info=exc)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)


def _agent_routes(app: FastAPI, agent: Agent, registry: CollectorRegistry) -> None:
    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"description": "The agent's metrics (Prometheus text format)."}},
    )
    def metrics() -> Response:
        """The agent's own metrics, for Prometheus to scrape."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", response_model=Health)
    def healthz() -> dict[str, str]:
        """The process is up and serving."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready yet; `reason` says why."}},
    )
    def readyz() -> JSONResponse:
        """Ready once an evaluation completed with Prometheus answering (503 otherwise)."""
        readiness = agent.readiness()
        body = {
            "ready": readiness.ready,
            "reason": readiness.reason,
            "definitions_error": agent.definitions_error or None,
        }
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    @app.get(
        "/v1/slos",
        response_model=list[EvaluationReport],
        responses={503: {"model": Problem, "description": "No evaluation has completed yet."}},
    )
    def slos() -> JSONResponse:
        """The latest evaluation of every SLO (the same JSON as `sloguard evaluate`)."""
        if agent.cycles == 0:
            return JSONResponse({"detail": "no evaluation has completed yet"}, status_code=503)
        return JSONResponse([document(e) for e in agent.current()])


def _history_route(app: FastAPI, agent: Agent, histories: Histories) -> None:
    @app.get("/v1/slos/{service}/{slo}/history", response_model=History, responses=ERRORS)
    async def slo_history(service: str, slo: str, within: Within = "window") -> Response:
        """One SLO over its window from the recorded series, as its console page draws it:
        the SLI (5m), the budget left, the burn rate per alert window, the traffic, and its
        alerts' firing periods; a kind Prometheus could not give is named in `missing`.
        `range` shows the recent past instead of the whole window."""
        spec, found = find_slo(agent.services, service, slo)
        version, seconds = agent.definitions.version, RANGES.get(within)
        seen = await histories.read(spec, found, time.time(), version, seconds)
        return Response(seen.model_dump_json(), media_type="application/json")


def _gate_routes(app: FastAPI, gatekeeper: Gatekeeper, guarded: bool) -> None:
    @app.post(
        ANALYSIS,
        response_model=DecisionReport,
        responses=ERRORS,
        openapi_extra={"security": [{"bearer": []}]} if guarded else None,
    )
    async def analysis(asked: AnalysisRequest, request: Request) -> Response:
        """Judge a canary on the service's SLOs: `pass`, `fail` or `inconclusive`, with every
        SLO's checks, values and thresholds. Always 200 once a decision is made; missing data,
        a Prometheus error or the time budget running out answer `inconclusive`, never `pass`.
        """
        answer = await gatekeeper.analyse(asked, await request.body())
        return Response(answer.body, media_type="application/json")

    async def flagger(hook: Hook, payload: FlaggerPayload) -> JSONResponse:
        answer = await gatekeeper.analyse(analysis_request(payload))
        verdict = answer.decision.verdict
        body = FlaggerAnswer(verdict=verdict, reason=answer.decision.reason, hook=hook)
        return JSONResponse(body.model_dump(mode="json"), status_code=status(hook, verdict))

    @app.post(f"{FLAGGER}gate", responses=FLAGGER_ANSWERS)
    async def flagger_gate(payload: FlaggerPayload) -> JSONResponse:
        """Flagger `pre-rollout`, `rollout` or `confirm-promotion` webhook: 200 only when the
        canary passes; 412 with the reason otherwise. At `confirm-promotion` an inconclusive
        answer holds the canary without spending a failed check."""
        return await flagger(Hook.GATE, payload)

    @app.post(f"{FLAGGER}rollback", responses=FLAGGER_ANSWERS)
    async def flagger_rollback(payload: FlaggerPayload) -> JSONResponse:
        """Flagger `rollback` webhook (inverse meaning): 200, which makes Flagger roll back,
        only when the canary fails; never on missing data."""
        return await flagger(Hook.ROLLBACK, payload)


def _declare_bearer(app: FastAPI, guarded: Callable[[str], bool]) -> None:
    """The OpenAPI document names the gate's bearer token when the agent has one, on the gate
    and on the other `guarded` paths (Flagger's webhooks carry theirs in `metadata.token`, which
    OpenAPI cannot express)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path, operations in schema.get("paths", {}).items():
                if guarded(path) and path != ANALYSIS:
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "The gate's shared token, or a Kubernetes service account "
                "token (TokenReview), when the agent is configured with either.",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _encodable(error: Any) -> dict[str, Any]:
    """One validation error without the input it quotes: the caller sent it, and it may hold
    what JSON cannot carry (`1e999`, `NaN`, a lone surrogate)."""
    return {
        "type": str(error.get("type", "")),
        "loc": [_text(p) if isinstance(p, str) else p for p in error.get("loc", ())],
        "msg": _text(str(error.get("msg", ""))),
    }


def _text(value: str) -> str:
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _trace_route(app: FastAPI, receiver: TraceReceiver) -> None:
    @app.post(
        "/v1/traces",
        response_class=Response,
        responses=OTLP_ANSWERS,
        openapi_extra={"requestBody": OTLP_BODY},
    )
    async def traces(request: Request) -> Response:
        """OTLP/HTTP trace export: spans counted into the trace SLIs' series. Answers in the
        request's encoding (protobuf or JSON)."""
        content_type = request.headers.get("content-type", "")
        if not receiver.admit():
            reply = receiver.overloaded(content_type)
        else:
            try:
                body = await request.body()
                encoding = request.headers.get("content-encoding", "")
                reply = await asyncio.to_thread(receiver.receive, body, content_type, encoding)
            finally:
                receiver.release()
        headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after else None
        return Response(reply.body, reply.status, headers=headers, media_type=reply.media_type)
