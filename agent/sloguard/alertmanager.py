"""Alertmanager's v2 API, with httpx: the one module that talks to Alertmanager."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from sloguard.errors import AlertmanagerError


class Alertmanager:
    """An Alertmanager at `url`, each request bounded by `timeout` seconds."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout)

    async def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Send alerts (`POST /api/v2/alerts`); AlertmanagerError when they are not accepted."""
        try:
            answer = await self._http.post("/api/v2/alerts", json=list(alerts))
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise AlertmanagerError(f"Alertmanager did not take the alert: {exc}") from exc

    async def aclose(self) -> None:
        await self._http.aclose()
