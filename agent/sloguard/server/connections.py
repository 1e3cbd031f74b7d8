"""What uvicorn's HTTP protocol lacks against callers that misbehave: a deadline for each
request to arrive whole, and a cap on open connections.

uvicorn closes idle keep-alive connections, but a connection that sends half its headers, or a
body a byte at a time, is kept for as long as the caller likes: 20,000 of them took every file
descriptor, so /healthz was refused and evaluation failed with "Too many open files". Here a
request has `request_seconds` from its first byte to its last, and past `max_connections` a new
connection is answered 503 and closed at once, so the agent keeps descriptors for Prometheus.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class ConnectionLimits:
    request_seconds: float = 30.0
    max_connections: int = 1000


def guarded(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol held to `limits` (pass it as uvicorn's `http`)."""

    class Guarded(_Guarded):
        LIMITS = limits

    return Guarded


class _Guarded(HttpToolsProtocol):
    LIMITS = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.LIMITS.max_connections:
            self._refuse()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None:  # the first bytes of the next request on this connection
            self._arm()
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.LIMITS.request_seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        self.logger.info("closing a connection whose request did not arrive in time")
        self.transport.close()

    def _refuse(self) -> None:
        body = json.dumps(
            {"detail": f"over {self.LIMITS.max_connections} open connections; retry later"}
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()
