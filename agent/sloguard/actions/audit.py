"""Every action, dry run, hold and failure leaves the same record, sharing one correlation id:
a Kubernetes Event on the object, a line in the append-only JSON audit log, a count in
`sloguard_actions_total`, a span, and an alert to Alertmanager so on-call learns the robot acted.
A sink that fails is counted and logged; it never stops the action or the other sinks."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from opentelemetry.trace import Status, StatusCode, Tracer

from sloguard.alertmanager import Alertmanager
from sloguard.errors import AlertmanagerError, ClusterError
from sloguard.files import append_line, tail_lines
from sloguard.journal import Journal
from sloguard.kube import Cluster
from sloguard.marking import DeployMarkers
from sloguard.playbook.model import Action, ObjectRef, rfc3339
from sloguard.telemetry.metrics import ActionMetrics

log = logging.getLogger("sloguard.actions")
ALERT_NAME = "SloguardAction"
# An audit log line: what `Outcome.record` writes (and `Auditor.note` for the agent's own).
Line = dict[str, Any]


class Result(StrEnum):
    DONE = "done"  # written (enforce) or accepted by the API without storing (dry-run)
    HELD = "held"  # a safety rule held it back (cooldown, cap, kill switch)
    CONFLICT = "conflict"  # the object kept changing under us; given up after retries
    FAILED = "failed"  # the API refused or could not be reached


@dataclass(frozen=True)
class Outcome:
    id: str
    at: float
    service: str
    action: Action
    target: ObjectRef
    mode: str  # "dry-run" or "enforce"
    result: Result
    summary: str
    trigger: str
    details: Mapping[str, str] = field(default_factory=dict)
    uid: str = ""
    api_version: str = ""
    error: str = ""
    identity: str = ""

    def record(self) -> dict[str, Any]:
        """The audit log line (and the structured log's fields)."""
        record: dict[str, Any] = {
            "id": self.id,
            "time": rfc3339(self.at),
            "service": self.service,
            "action": self.action.value,
            "target": {
                "kind": self.target.kind,
                "namespace": self.target.namespace,
                "name": self.target.name,
            },
            "mode": self.mode,
            "result": self.result.value,
            "summary": self.summary,
            "trigger": self.trigger,
            "details": dict(self.details),
            "by": self.identity,
        }
        if self.error:
            record["error"] = self.error
        return record


class Auditor:
    """Writes each outcome to every configured sink."""

    def __init__(
        self,
        metrics: ActionMetrics,
        tracer: Tracer,
        cluster: Cluster | None = None,
        log_path: Path | None = None,
        alertmanager: Alertmanager | None = None,
        markers: DeployMarkers | None = None,
        journal: Journal[Line] | None = None,
    ) -> None:
        self._metrics = metrics
        self._markers = markers
        self._journal = journal
        self._tracer = tracer
        self._cluster = cluster
        self._log_path = log_path
        self._alertmanager = alertmanager

    async def record(self, outcome: Outcome) -> None:
        self._metrics.actions.labels(
            outcome.service, outcome.action.value, outcome.mode, outcome.result.value
        ).inc()
        with self._tracer.start_as_current_span(f"sloguard {outcome.action.value}") as span:
            span.set_attributes(
                {
                    "sloguard.action.id": outcome.id,
                    "sloguard.service": outcome.service,
                    "sloguard.action": outcome.action.value,
                    "sloguard.action.mode": outcome.mode,
                    "sloguard.action.result": outcome.result.value,
                    "k8s.object": str(outcome.target),
                }
            )
            if outcome.result in {Result.FAILED, Result.CONFLICT}:
                span.set_status(Status(StatusCode.ERROR, outcome.error))
            line = outcome.record()
            level = logging.WARNING if outcome.result is not Result.DONE else logging.INFO
            log.log(level, "action %s", outcome.result.value, extra={"audit": line})
            self._keep(line)
            await asyncio.to_thread(self._write, line)  # fsync: off the event loop
            if outcome.result is Result.HELD:
                return  # held actions repeat every cycle: the log and the count say enough
            await self._event(outcome)
            await self._alert(outcome)
            self._mark(outcome)

    def note(self, event: str, result: str, summary: str, target: ObjectRef, by: str) -> None:
        """A change in the agent itself (leadership, the kill switch), in the audit log and
        the journal beside the actions it explains."""
        line: Line = {
            "id": uuid.uuid4().hex[:16],
            "time": rfc3339(time.time()),
            "service": "",
            "action": event,
            "target": {"kind": target.kind, "namespace": target.namespace, "name": target.name},
            "mode": "",
            "result": result,
            "summary": summary,
            "trigger": "",
            "details": {},
            "by": by,
        }
        log.warning("%s %s", event, result, extra={"audit": line})
        self._keep(line)
        self._write(line)  # rare (a leadership change): written where it is noted

    def _keep(self, line: Line) -> None:
        if self._journal is not None:
            self._journal.add(readable(line))

    def _write(self, line: Line) -> None:
        if self._log_path is None:
            return
        try:
            append_line(self._log_path, json.dumps(line, sort_keys=True))
        except OSError as exc:
            self._failed("log", exc)

    async def _event(self, outcome: Outcome) -> None:
        if self._cluster is None:
            return
        try:
            await asyncio.to_thread(
                self._cluster.create_event, outcome.target.namespace, event(outcome)
            )
        except ClusterError as exc:
            self._failed("event", exc)

    async def _alert(self, outcome: Outcome) -> None:
        if self._alertmanager is None:
            return
        try:
            await self._alertmanager.post_alerts([alert(outcome)])
        except AlertmanagerError as exc:
            self._failed("alert", exc)

    def _mark(self, outcome: Outcome) -> None:
        """A deploy marker for what was changed (not a dry run, not a failure)."""
        if self._markers is None or outcome.mode != "enforce" or outcome.result is not Result.DONE:
            return
        self._markers.action(
            outcome.service,
            outcome.action.value,
            str(outcome.target),
            outcome.summary,
            outcome.id,
            outcome.at,
        )

    def _failed(self, sink: str, exc: Exception) -> None:
        self._metrics.audit_errors.labels(sink).inc()
        log.warning("audit %s not written: %s", sink, exc)


def repeats(line: Line) -> Hashable | None:
    """What makes a held action the same as the last time it was held (a journal key, of a
    `readable` line): held actions repeat every cycle and are one entry with a count; anything
    else stands alone."""
    if line.get("result") != Result.HELD.value:
        return None
    target = line.get("target") or {}
    where = tuple(str(target.get(name)) for name in TARGET_FIELDS)
    return (str(line.get("service")), str(line.get("action")), where, str(line.get("summary")))


def tail(path: Path) -> list[Line]:
    """The audit log's last lines (`files.tail_lines`), each in the shape the agent writes
    (`readable`); lines that are not JSON objects are skipped."""
    found = []
    for raw in tail_lines(path):
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(line, dict):
            found.append(readable(line))
    return found


TEXT_FIELDS = ("id", "time", "service", "action", "mode", "result", "summary", "trigger", "by")
TARGET_FIELDS = ("kind", "namespace", "name")


def readable(line: Mapping[str, Any]) -> Line:
    """An audit line from a file anyone with access may have edited, in the shape the agent
    writes: every field text (what is not, written as text; what JSON or UTF-8 cannot carry,
    escaped), the target's three names, the details a map of text."""
    target = line.get("target")
    details = line.get("details")
    fixed: Line = {name: _text(line.get(name)) for name in TEXT_FIELDS}
    fixed["target"] = {
        name: _text(target.get(name)) if isinstance(target, dict) else "" for name in TARGET_FIELDS
    }
    fixed["details"] = (
        {_text(k): _text(v) for k, v in details.items()} if isinstance(details, dict) else {}
    )
    if line.get("error"):
        fixed["error"] = _text(line["error"])
    return fixed


def _text(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def event(outcome: Outcome) -> dict[str, Any]:
    """A core/v1 Event on the object, as `kubectl describe` shows it."""
    action = "".join(part.capitalize() for part in outcome.action.value.split("_"))
    suffix = {Result.DONE: "", Result.FAILED: "Failed", Result.CONFLICT: "Failed"}.get(
        outcome.result, ""
    )
    dry = "DryRun" if outcome.mode == "dry-run" else ""
    warning = outcome.result is not Result.DONE or (outcome.mode == "enforce")
    message = f"{outcome.summary} ({outcome.trigger}; id {outcome.id})"
    if outcome.error:
        message += f": {outcome.error}"
    when = rfc3339(outcome.at)
    return {
        "metadata": {
            "generateName": f"{outcome.target.name}.sloguard-",
            "namespace": outcome.target.namespace,
            "annotations": {"sloguard.io/action-id": outcome.id},
        },
        "involvedObject": {
            "kind": outcome.target.kind,
            "namespace": outcome.target.namespace,
            "name": outcome.target.name,
            "uid": outcome.uid or None,
            "apiVersion": outcome.api_version or None,
        },
        "reason": f"Sloguard{action}{dry}{suffix}",
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": "sloguard"},
        "reportingComponent": "sloguard.io/agent",
        "reportingInstance": outcome.identity or "sloguard",
        "action": action,
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
    }


def alert(outcome: Outcome) -> dict[str, Any]:
    """An Alertmanager v2 alert: one per action (the id is a label), resolving after an hour."""
    return {
        "labels": {
            "alertname": ALERT_NAME,
            "severity": "info",
            "service": outcome.service,
            "action": outcome.action.value,
            "mode": outcome.mode,
            "result": outcome.result.value,
            "namespace": outcome.target.namespace,
            "target": f"{outcome.target.kind}/{outcome.target.name}",
            "action_id": outcome.id,
        },
        "annotations": {
            "summary": outcome.summary,
            "description": f"{outcome.trigger}. {outcome.summary}."
            + (f" Error: {outcome.error}" if outcome.error else ""),
        },
        "startsAt": rfc3339(outcome.at),
        "endsAt": rfc3339(outcome.at + 3600),
    }
