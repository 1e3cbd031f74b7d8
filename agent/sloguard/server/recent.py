"""What happened lately, as JSON: the gate's recent decisions (`GET /v1/gate/decisions`) and the
audit trail of actions and holds (`GET /v1/actions`), newest first, from the journals the
gate and the actions keep in memory (the audit log has the whole history). The console's
pages read the same journals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import FastAPI, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from sloguard.actions.audit import Line
from sloguard.gate.model import Verdict
from sloguard.gate.report import GateRecord
from sloguard.gating import Recorded
from sloguard.journal import Entry, Journal

# Filters are names and words: anything longer is no filter but a mistake or an attack.
Filter = Annotated[str, Query(max_length=256)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@dataclass(frozen=True)
class Recent:
    """The journals: the gate's decisions and the audit trail."""

    decisions: Journal[Recorded]
    audit: Journal[Line]


class Target(BaseModel):
    kind: str = ""
    namespace: str = ""
    name: str = ""


class AuditEntry(BaseModel):
    """One line of the audit trail: an action, a dry run, a hold or a failure, or a change in
    the agent itself (`leadership`, `kill_switch`), as the audit log has it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    time: str = Field(description="When (RFC 3339, UTC); for a repeated hold, the latest time.")
    service: str = ""
    action: str = Field("", description="`rollback`, `scale_up`, … or `leadership`, `kill_switch`.")
    target: Target = Field(default_factory=Target)
    mode: str = Field("", description="`dry-run` or `enforce` (actions only).")
    result: str = Field(
        "", description="`done`, `held`, `conflict`, `failed`; `acquired`, `lost`, `on`, …"
    )
    summary: str = ""
    trigger: str = Field("", description="What called for the action.")
    details: dict[str, str] = Field(
        default_factory=dict, description="The patch's figures (e.g. replicas before and after)."
    )
    by: str = Field("", description="The agent replica that acted.")
    error: str = ""
    repeated: int = Field(1, description="Times held (a hold repeats every cycle).")


def decisions(
    journal: Journal[Recorded], service: str = "", verdict: Verdict | None = None, limit: int = 50
) -> list[Entry[Recorded]]:
    """The newest decisions matching the filters ("" and None match all)."""

    def matches(r: Recorded) -> bool:
        return (not service or r.service == service) and (verdict is None or r.verdict is verdict)

    return journal.newest(matches, limit)


def audit_entries(
    journal: Journal[Line], service: str = "", action: str = "", result: str = "", limit: int = 100
) -> list[AuditEntry]:
    """The newest audit lines matching the filters (`audit.readable` lines)."""
    wanted: dict[str, str] = {"service": service, "action": action, "result": result}

    def matches(line: Line) -> bool:
        return all(not want or line.get(name) == want for name, want in wanted.items())

    return [
        AuditEntry.model_validate({**entry.value, "repeated": entry.repeated})
        for entry in journal.newest(matches, limit)
    ]


def add_recent_routes(app: FastAPI, recent: Recent) -> None:
    @app.get("/v1/gate/decisions", response_model=list[GateRecord])
    def gate_decisions(
        service: Filter = "", verdict: Verdict | Literal[""] = "", limit: Limit = 50
    ) -> Response:
        """The gate's recent decisions, newest first (kept in memory: the last 200 made, a
        repeated poll answered from the cache is not another): whom each was about, the
        verdict, every SLO's checks, and each version's error ratio per interval."""
        found = decisions(recent.decisions, service, verdict or None, limit)
        body = b"[" + b",".join(_counted(e) for e in found) + b"]"
        return Response(body, media_type="application/json")

    @app.get("/v1/actions", response_model=list[AuditEntry])
    def actions(
        service: Filter = "", action: Filter = "", result: Filter = "", limit: Limit = 100
    ) -> Response:
        """The audit trail, newest first: every action, dry run, hold and failure, and the
        agent's leadership and kill switch changes (the last 1,000 lines, starting from the
        audit log's tail; a hold repeated every cycle is one line with a count)."""
        found = audit_entries(recent.audit, service, action, result, limit)
        body = orjson.dumps([e.model_dump() for e in found])
        return Response(body, media_type="application/json")


def records(entries: list[Entry[Recorded]]) -> list[dict[str, Any]]:
    """The decisions as the pages read them (JSON objects)."""
    return [orjson.loads(_counted(e)) for e in entries]


def _counted(entry: Entry[Recorded]) -> bytes:
    """A record's JSON with its count (the journal counts; the record was serialized once)."""
    return b'{"repeated":%d,' % entry.repeated + entry.value.body[1:]
