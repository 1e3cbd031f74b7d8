"""What every HTTP source shares (Prometheus, Tempo, Jaeger): a request that cannot be sent, an
answer that does not arrive whole within the deadline or grows past the size cap, and an answer
that is not a JSON object, become `SourceUnavailable` of the same kinds with the same words,
whoever was asked.

The deadline covers the whole exchange (connecting, sending, every byte of the body): httpx's
own timeouts are per read, so a server dripping a byte a second never trips them. The body is
counted as it streams in and dropped, connection and all, the moment it passes the cap.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from sloguard.errors import SourceUnavailable

MAX_ANSWER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer: its status and its (decoded) body."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


async def send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    who: str,
    max_bytes: int = MAX_ANSWER_BYTES,
    **kwargs: Any,
) -> Reply:
    """The whole answer to one request, whatever its status, within the client's timeout
    (a deadline for all of it) and `max_bytes` of body."""
    deadline = http.timeout.read
    try:
        async with asyncio.timeout(deadline):
            return await _exchange(http, method, path, who, max_bytes, **kwargs)
    except (httpx.TimeoutException, TimeoutError) as exc:
        after = f" after {deadline:g}s" if deadline is not None else ""
        what = "no whole answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise SourceUnavailable(f"timed out{after} ({what})", "timeout") from exc
    except (httpx.TransportError, OSError) as exc:
        # OSError: a TLS alert read after the handshake (a refused client certificate under
        # TLS 1.3) can surface from the stream as a bare ssl.SSLError.
        raise SourceUnavailable(
            f"cannot reach {who}: {type(exc).__name__}: {exc}", "connection"
        ) from exc
    except httpx.HTTPError as exc:  # e.g. a body that is not the encoding it declares
        raise SourceUnavailable(
            f"unreadable answer from {who}: {type(exc).__name__}: {exc}", "invalid_response"
        ) from exc


async def _exchange(
    http: httpx.AsyncClient, method: str, path: str, who: str, max_bytes: int, **kwargs: Any
) -> Reply:
    async with http.stream(method, path, **kwargs) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(who, max_bytes)
        # One growing buffer, not a list of chunks: freed, it goes back to the system whole
        # (tens of thousands of 64 KiB chunks left the heap fragmented and the RSS high).
        body = bytearray()
        async for chunk in response.aiter_bytes():  # decoded: a gzip bomb counts in full
            if len(body) + len(chunk) > max_bytes:
                raise _too_large(who, max_bytes)
            body += chunk
        return Reply(response.status_code, bytes(body))


def _too_large(who: str, max_bytes: int) -> SourceUnavailable:
    return SourceUnavailable(
        f"the answer from {who} is over the {max_bytes / 2**20:g} MiB cap", "too_large"
    )


def json_object(reply: Reply, who: str) -> dict[str, Any]:
    """The answer's JSON object (orjson: a thousand SLOs' answers are tens of thousands of
    series per cycle)."""
    try:
        body = orjson.loads(reply.content)
    except orjson.JSONDecodeError as exc:
        raise SourceUnavailable(
            f"invalid JSON from {who} (HTTP {reply.status_code}): {reply.text[:80]!r}",
            "invalid_response",
        ) from exc
    if not isinstance(body, dict):
        raise SourceUnavailable(
            f"unexpected answer from {who}: {reply.text[:80]!r}", "invalid_response"
        )
    return body


def answers_ok(url: str, timeout: float = 1.0) -> bool:
    """Whether a GET of `url` answers 200 now (is a process that was just started up yet?)."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.TransportError:
        return False
