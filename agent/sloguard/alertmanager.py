"""Alertmanager's v2 API, with httpx: the one module that talks to Alertmanager."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from sloguard.errors import AlertmanagerError, printable

Json = dict[str, Any]
# A silence list is small; an answer beyond this is not Alertmanager's.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class Alertmanager:
    """An Alertmanager at `url`, each request (its whole answer included) bounded by `timeout`
    seconds. AlertmanagerError for a URL that cannot be one."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise AlertmanagerError(f"not an Alertmanager URL: {printable(url)}") from exc
        port_ok = parsed.port is None or 0 < parsed.port < 65536
        if parsed.scheme not in ("http", "https") or not parsed.host or not port_ok:
            raise AlertmanagerError(
                f"not an Alertmanager URL: {printable(url)} (http:// or https://, with a host)"
            )
        # What errors name: never the credentials a URL may carry.
        self._where = f"Alertmanager at {parsed.copy_with(username=None, password=None)}"
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout)

    async def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Send alerts (`POST /api/v2/alerts`); AlertmanagerError when they are not accepted."""
        await self._call("POST", "/api/v2/alerts", "did not take the alert", payload=list(alerts))

    async def create_silence(self, silence: Mapping[str, Any]) -> str:
        """Create a silence (`POST /api/v2/silences`); its ID."""
        answer = await self._call(
            "POST", "/api/v2/silences", "refused the silence", payload=silence
        )
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise AlertmanagerError(f"{self._where} gave no silence ID")
        return silence_id

    async def silences(self) -> list[Json]:
        """Every silence Alertmanager holds (`GET /api/v2/silences`), expired ones included."""
        answer = await self._call("GET", "/api/v2/silences", "did not list its silences")
        if not isinstance(answer, list) or not all(isinstance(s, dict) for s in answer):
            raise AlertmanagerError(f"{self._where} answered no silence list")
        return answer

    async def silence(self, silence_id: str) -> Json:
        """One silence (`GET /api/v2/silence/{id}`)."""
        answer = await self._call("GET", f"/api/v2/silence/{silence_id}", "has no such silence")
        if not isinstance(answer, dict):
            raise AlertmanagerError(f"{self._where} answered no silence")
        return answer

    async def expire_silence(self, silence_id: str) -> None:
        """Expire a silence now (`DELETE /api/v2/silence/{id}`)."""
        await self._call("DELETE", f"/api/v2/silence/{silence_id}", "did not expire the silence")

    async def _call(self, method: str, path: str, failed: str, payload: Any = None) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                status, reason, body = await self._exchange(method, path, payload)
        except TimeoutError as exc:
            raise AlertmanagerError(
                f"{self._where} {failed}: no full answer within {self._timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise AlertmanagerError(
                f"{self._where} {failed}: {printable(str(exc)) or type(exc).__name__}"
            ) from exc
        if not 200 <= status < 300:  # a redirect too: a proxy in the way did not pass it on
            said = printable(body[:300].decode("utf-8", "replace").strip()) or reason
            raise AlertmanagerError(f"{self._where} {failed}: {status} {said}")
        if not body:
            return None
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise AlertmanagerError(f"{self._where} answered no JSON") from exc

    async def _exchange(self, method: str, path: str, payload: Any) -> tuple[int, str, bytes]:
        body = bytearray()
        async with self._http.stream(method, path, json=payload) as answer:
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise AlertmanagerError(f"{self._where} answered more than 8 MiB")
        return answer.status_code, answer.reason_phrase, bytes(body)

    async def aclose(self) -> None:
        await self._http.aclose()
