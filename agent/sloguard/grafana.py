"""Uploading dashboards through Grafana's HTTP API (`POST /api/dashboards/db`), with httpx.

Grafana answers 412 when a dashboard changed there since (`version-mismatch`) or another
dashboard in the folder has the same title (`name-exists`); without `overwrite` such a
dashboard is reported and skipped, the others still go up. Bad credentials (401/403) stop
everything: no later upload could succeed. Timeouts, refused connections and 502/503/504 are
retried with backoff before they count as failures.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sloguard.backoff import retry_delay
from sloguard.dashboards.output import MARK_KEY
from sloguard.errors import PublishError

RETRIED_STATUSES = frozenset({502, 503, 504})


def client(url: str, token: str, timeout: float, user_agent: str) -> httpx.Client:
    """An HTTP client for Grafana at `url`, authenticated with a service-account token."""
    headers = {"Authorization": f"Bearer {token}", "User-Agent": user_agent}
    return httpx.Client(base_url=url, headers=headers, timeout=timeout)


@dataclass(frozen=True)
class Published:
    """One dashboard Grafana accepted."""

    name: str
    uid: str
    version: int
    url: str


@dataclass(frozen=True)
class Rejected:
    """One dashboard Grafana refused (a 412 conflict or a bad request); others go on."""

    name: str
    status: int
    reason: str


class Grafana:
    """A Grafana instance's dashboard API, over an injected `httpx.Client` (base URL and
    credentials set on it)."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        folder_uid: str | None = None,
        overwrite: bool = True,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._folder_uid = folder_uid
        self._overwrite = overwrite
        self._attempts = max(1, attempts)
        self._backoff = backoff_seconds
        self._sleep = sleep

    def upsert(self, name: str, dashboard: dict[str, Any]) -> Published | Rejected:
        """Create or update one dashboard (matched by its `uid`)."""
        board = {k: v for k, v in dashboard.items() if k not in (MARK_KEY, "id")}
        payload: dict[str, Any] = {
            "dashboard": board,
            "overwrite": self._overwrite,
            "message": "Published by sloguard",
        }
        if self._folder_uid:
            payload["folderUid"] = self._folder_uid
        response = self._post(name, payload)
        if response.status_code in (401, 403):
            raise PublishError(
                f"{name}: Grafana refused the credentials ({response.status_code} "
                f"{_message(response)}): check the token and that it may write dashboards"
                + (" in that folder" if self._folder_uid else "")
            )
        if response.status_code != 200:
            return Rejected(name, response.status_code, _message(response))
        try:
            body = response.json()
            return Published(name, str(body["uid"]), int(body["version"]), str(body["url"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise PublishError(
                f"{name}: unexpected answer from Grafana: {response.text[:200]!r}"
            ) from exc

    def _post(self, name: str, payload: dict[str, Any]) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.post("/api/dashboards/db", json=payload)
            except httpx.TransportError as exc:
                if attempt >= self._attempts:
                    raise PublishError(
                        f"{name}: cannot reach Grafana at {self._client.base_url} after "
                        f"{attempt} attempt(s): {type(exc).__name__}: {exc}"
                    ) from exc
            else:
                if response.status_code not in RETRIED_STATUSES or attempt >= self._attempts:
                    return response
            self._sleep(retry_delay(self._backoff, attempt))


def _message(response: httpx.Response) -> str:
    """Grafana's own words: `{"message": ..., "status": ...}`, else the start of the body."""
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("status", "message") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return response.text[:200]


class Annotations:
    """Grafana's annotation API (`POST /api/annotations`), async: deploy markers from the
    running agent. Each post is bounded by `timeout` seconds in all (a Grafana sending its
    answer a byte at a time included) and never retried (a marker is worth less than the time
    a retry would hold a slot)."""

    def __init__(self, url: str, token: str, timeout: float, user_agent: str) -> None:
        headers = {"User-Agent": user_agent}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._url = url
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout)

    async def post(self, annotation: dict[str, Any]) -> None:
        """Add one annotation; PublishError when Grafana cannot be reached or refuses it."""
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.post("/api/annotations", json=annotation)
        except TimeoutError as exc:
            raise PublishError(
                f"Grafana at {self._url} did not answer within {self._timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise PublishError(f"cannot reach Grafana at {self._url}: {exc}") from exc
        if response.status_code != 200:
            raise PublishError(
                f"Grafana at {self._url} refused the annotation: {response.status_code} "
                f"{_message(response)}"
            )

    async def aclose(self) -> None:
        await self._http.aclose()
