"""What every HTTP source shares (Prometheus, Tempo, Jaeger): a request that cannot be sent or
times out, and an answer that is not a JSON object, become `SourceUnavailable` of the same kinds
with the same words, whoever was asked."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from sloguard.errors import SourceUnavailable


async def send(
    http: httpx.AsyncClient, method: str, path: str, who: str, **kwargs: Any
) -> httpx.Response:
    """The response to one request, whatever its status."""
    try:
        return await http.request(method, path, **kwargs)
    except httpx.TimeoutException as exc:
        limit = http.timeout.read
        after = f" after {limit:g}s" if limit is not None else ""
        raise SourceUnavailable(f"timed out{after} ({type(exc).__name__})", "timeout") from exc
    except (httpx.TransportError, OSError) as exc:
        # OSError: a TLS alert read after the handshake (a refused client certificate under
        # TLS 1.3) can surface from the stream as a bare ssl.SSLError.
        raise SourceUnavailable(
            f"cannot reach {who}: {type(exc).__name__}: {exc}", "connection"
        ) from exc


def json_object(response: httpx.Response, who: str) -> dict[str, Any]:
    """The answer's JSON object (orjson: a thousand SLOs' answers are tens of thousands of
    series per cycle)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise SourceUnavailable(
            f"invalid JSON from {who} (HTTP {response.status_code}): {response.text[:80]!r}",
            "invalid_response",
        ) from exc
    if not isinstance(body, dict):
        raise SourceUnavailable(
            f"unexpected answer from {who}: {response.text[:80]!r}", "invalid_response"
        )
    return body
