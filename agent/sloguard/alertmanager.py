"""Alertmanager's v2 API, with httpx: the one module that talks to Alertmanager."""

from __future__ import annotations

import json as json_module
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from sloguard.errors import AlertmanagerError

Json = dict[str, Any]
# A silence list is small; an answer beyond this is not Alertmanager's.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class Alertmanager:
    """An Alertmanager at `url`, each request bounded by `timeout` seconds."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._url = url
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout)

    async def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Send alerts (`POST /api/v2/alerts`); AlertmanagerError when they are not accepted."""
        await self._call("POST", "/api/v2/alerts", "did not take the alert", json=list(alerts))

    async def create_silence(self, silence: Mapping[str, Any]) -> str:
        """Create a silence (`POST /api/v2/silences`); its ID."""
        answer = await self._call("POST", "/api/v2/silences", "refused the silence", json=silence)
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not isinstance(silence_id, str):
            raise AlertmanagerError(f"Alertmanager at {self._url} gave no silence ID: {answer!r}")
        return silence_id

    async def silences(self) -> list[Json]:
        """Every silence Alertmanager holds (`GET /api/v2/silences`), expired ones included."""
        answer = await self._call("GET", "/api/v2/silences", "did not list its silences")
        if not isinstance(answer, list) or not all(isinstance(s, dict) for s in answer):
            raise AlertmanagerError(f"Alertmanager at {self._url} answered no silence list")
        return answer

    async def expire_silence(self, silence_id: str) -> None:
        """Expire a silence now (`DELETE /api/v2/silence/{id}`)."""
        await self._call("DELETE", f"/api/v2/silence/{silence_id}", "did not expire the silence")

    async def _call(self, method: str, path: str, failed: str, json: Any = None) -> Any:
        where = f"Alertmanager at {self._url}"
        body = bytearray()
        try:
            async with self._http.stream(method, path, json=json) as answer:
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise AlertmanagerError(f"{where} answered more than 8 MiB")
        except httpx.HTTPError as exc:
            raise AlertmanagerError(f"{where} {failed}: {exc}") from exc
        if answer.status_code >= 400:
            reason = body[:300].decode("utf-8", "replace").strip() or answer.reason_phrase
            raise AlertmanagerError(f"{where} {failed}: {answer.status_code} {reason}")
        if not body:
            return None
        try:
            return json_module.loads(body)
        except ValueError as exc:
            raise AlertmanagerError(f"{where} answered no JSON") from exc

    async def aclose(self) -> None:
        await self._http.aclose()
