"""The one module that talks to the Kubernetes API (the `kubernetes` client): clients from the
environment, and TokenReview for the gate's callers."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from sloguard.errors import SloguardError


class ClusterError(SloguardError):
    """The Kubernetes API could not be configured or reached."""


def api_client(kubeconfig: Path | None = None) -> k8s.ApiClient:
    """A client from `kubeconfig`, else the in-cluster service account, else ~/.kube/config."""
    configuration = k8s.Configuration()
    try:
        if kubeconfig is not None:
            k8s_config.load_kube_config(str(kubeconfig), client_configuration=configuration)
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except k8s_config.ConfigException:
                k8s_config.load_kube_config(client_configuration=configuration)
    except (k8s_config.ConfigException, OSError) as exc:
        raise ClusterError(f"no Kubernetes API configuration: {exc}") from exc
    return k8s.ApiClient(configuration)


@dataclass(frozen=True)
class Reviewed:
    """Who the API server says a token belongs to (`authenticated` False: nobody it knows)."""

    authenticated: bool
    username: str = ""
    groups: tuple[str, ...] = ()
    error: str = ""


class TokenReviewer:
    """Asks the API server who presents a token (`authentication.k8s.io/v1` TokenReview) and
    accepts it when the answer names an allowed user or group. Answers are kept for
    `ttl_seconds`, so a rollout polling every minute costs one review per token and TTL."""

    def __init__(
        self,
        api: k8s.ApiClient,
        allowed: Sequence[str],
        audiences: Sequence[str] = (),
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = k8s.AuthenticationV1Api(api)
        self._allowed = frozenset(allowed)
        self._audiences = list(audiences)
        self._ttl = ttl_seconds
        self._clock = clock
        self._seen: dict[str, tuple[float, Reviewed]] = {}

    async def accepts(self, token: str) -> bool:
        if not token:
            return False
        reviewed = await self.review(token)
        return reviewed.authenticated and bool(
            self._allowed & {reviewed.username, *reviewed.groups}
        )

    async def review(self, token: str) -> Reviewed:
        key = hashlib.sha256(token.encode()).hexdigest()  # never keep the token itself
        now = self._clock()
        kept = self._seen.get(key)
        if kept is not None and now - kept[0] < self._ttl:
            return kept[1]
        reviewed = await asyncio.to_thread(self._review, token)
        if not reviewed.error:  # a failed call is asked again, not remembered
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._ttl}
            self._seen[key] = (now, reviewed)
        return reviewed

    def _review(self, token: str) -> Reviewed:
        body = k8s.V1TokenReview(
            api_version="authentication.k8s.io/v1",
            kind="TokenReview",
            spec=k8s.V1TokenReviewSpec(token=token, audiences=self._audiences or None),
        )
        try:
            answer = self._api.create_token_review(body, _request_timeout=5)
        except (ApiException, HTTPError, OSError) as exc:
            return Reviewed(False, error=f"TokenReview failed: {type(exc).__name__}: {exc}")
        status = answer.status
        if status is None or not status.authenticated or status.user is None:
            return Reviewed(False, error="" if status is None else status.error or "")
        return Reviewed(True, status.user.username or "", tuple(status.user.groups or ()))
