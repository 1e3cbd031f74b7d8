"""The one module that talks to the Kubernetes API (the `kubernetes` client): clients from the
environment, TokenReview for the gate's callers, and `Cluster`, which reads and patches the
objects sloguard acts on as plain JSON documents. API errors become `ClusterError`s here.

The client is imported where it is first used: its import weighs 35 MB, which an agent with
neither actions nor TokenReview would carry for nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from urllib3.exceptions import HTTPError

from sloguard.errors import ClusterError, Conflict, Forbidden, NotFound
from sloguard.playbook.model import ObjectRef, Patch, PatchType

if TYPE_CHECKING:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

T = TypeVar("T")
ARGO = ("argoproj.io", "v1alpha1", "rollouts")
_CONTENT_TYPES = {
    PatchType.MERGE: "application/merge-patch+json",
    PatchType.JSON: "application/json-patch+json",
}


def api_client(kubeconfig: Path | None = None) -> k8s.ApiClient:
    """A client from `kubeconfig`, else the in-cluster service account, else ~/.kube/config."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

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
        from kubernetes import client as k8s

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
        from kubernetes import client as k8s
        from kubernetes.client.exceptions import ApiException

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


class Cluster:
    """The objects sloguard acts on, as the API serves them (JSON documents with `kind`).

    Blocking calls (the `kubernetes` client is synchronous): run them off the event loop."""

    def __init__(self, api: k8s.ApiClient, timeout_seconds: float = 10.0) -> None:
        from kubernetes import client as k8s

        self._api = api
        self._timeout = timeout_seconds
        self._apps = k8s.AppsV1Api(api)
        self._core = k8s.CoreV1Api(api)
        self._autoscaling = k8s.AutoscalingV2Api(api)
        self._custom = k8s.CustomObjectsApi(api)
        self._coordination = k8s.CoordinationV1Api(api)

    def read(self, ref: ObjectRef) -> dict[str, Any]:
        ns, name, t = ref.namespace, ref.name, self._timeout
        calls: dict[str, Callable[[], Any]] = {
            "Deployment": lambda: self._apps.read_namespaced_deployment(
                name, ns, _request_timeout=t
            ),
            "Service": lambda: self._core.read_namespaced_service(name, ns, _request_timeout=t),
            "HorizontalPodAutoscaler": lambda: (
                self._autoscaling.read_namespaced_horizontal_pod_autoscaler(
                    name, ns, _request_timeout=t
                )
            ),
            "Rollout": lambda: self._custom.get_namespaced_custom_object(
                *ARGO[:2], ns, ARGO[2], name, _request_timeout=t
            ),
            "Lease": lambda: self._coordination.read_namespaced_lease(name, ns, _request_timeout=t),
        }
        return self._document(ref.kind, _call(f"read {ref}", calls[ref.kind]))

    def list(
        self, kind: str, namespace: str, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Objects of `kind` in `namespace` carrying every label in `labels`."""
        selector = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or None
        t = self._timeout
        calls: dict[str, Callable[[], Any]] = {
            "ReplicaSet": lambda: self._apps.list_namespaced_replica_set(
                namespace, label_selector=selector, _request_timeout=t
            ),
            "HorizontalPodAutoscaler": lambda: (
                self._autoscaling.list_namespaced_horizontal_pod_autoscaler(
                    namespace, label_selector=selector, _request_timeout=t
                )
            ),
        }
        answer = self._api.sanitize_for_serialization(_call(f"list {kind}", calls[kind]))
        return [{**item, "kind": kind} for item in answer.get("items") or []]

    def patch(self, patch: Patch, dry_run: bool = False) -> dict[str, Any]:
        """Apply `patch`; with `dry_run` the API checks it (RBAC, admission) and stores nothing."""
        ref, body = patch.ref, patch.body
        ns, name = ref.namespace, ref.name
        options: dict[str, Any] = {
            "dry_run": "All" if dry_run else None,
            "_content_type": _CONTENT_TYPES[patch.type],
            "_request_timeout": self._timeout,
        }
        calls: dict[tuple[str, str | None], Callable[[], Any]] = {
            ("Deployment", None): lambda: self._apps.patch_namespaced_deployment(
                name, ns, body, **options
            ),
            ("Deployment", "scale"): lambda: self._apps.patch_namespaced_deployment_scale(
                name, ns, body, **options
            ),
            ("Service", None): lambda: self._core.patch_namespaced_service(
                name, ns, body, **options
            ),
            ("HorizontalPodAutoscaler", None): lambda: (
                self._autoscaling.patch_namespaced_horizontal_pod_autoscaler(
                    name, ns, body, **options
                )
            ),
            ("Rollout", "status"): lambda: self._custom.patch_namespaced_custom_object_status(
                *ARGO[:2], ns, ARGO[2], name, body, **options
            ),
            ("Rollout", None): lambda: self._custom.patch_namespaced_custom_object(
                *ARGO[:2], ns, ARGO[2], name, body, **options
            ),
        }
        what = f"patch {ref}" + (f" ({patch.subresource})" if patch.subresource else "")
        return self._document(ref.kind, _call(what, calls[(ref.kind, patch.subresource)]))

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        from kubernetes import client as k8s

        _call(
            "create Event",
            lambda: self._core.create_namespaced_event(
                namespace,
                k8s.CoreV1Event.model_validate(dict(event)),
                _request_timeout=self._timeout,
            ),
        )

    def create_lease(self, namespace: str, lease: Mapping[str, Any]) -> dict[str, Any]:
        from kubernetes import client as k8s

        answer = _call(
            "create Lease",
            lambda: self._coordination.create_namespaced_lease(
                namespace, k8s.V1Lease.model_validate(dict(lease)), _request_timeout=self._timeout
            ),
        )
        return self._document("Lease", answer)

    def replace_lease(self, namespace: str, lease: Mapping[str, Any]) -> dict[str, Any]:
        """Write `lease` back; its `resourceVersion` makes a concurrent change a `Conflict`."""
        from kubernetes import client as k8s

        name = lease["metadata"]["name"]
        answer = _call(
            "update Lease",
            lambda: self._coordination.replace_namespaced_lease(
                name,
                namespace,
                k8s.V1Lease.model_validate(dict(lease)),
                _request_timeout=self._timeout,
            ),
        )
        return self._document("Lease", answer)

    def _document(self, kind: str, answer: Any) -> dict[str, Any]:
        document: dict[str, Any] = self._api.sanitize_for_serialization(answer)
        return {**document, "kind": document.get("kind") or kind}


def _call(what: str, call: Callable[[], T]) -> T:
    """`call`, with the client's exceptions translated into sloguard's, once, here."""
    from kubernetes.client.exceptions import ApiException

    try:
        return call()
    except ApiException as exc:
        message = _message(exc)
        error = {409: Conflict, 403: Forbidden, 404: NotFound}.get(exc.status or 0, ClusterError)
        raise error(f"{what}: {exc.status} {message}") from exc
    except (HTTPError, OSError) as exc:
        raise ClusterError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "")["message"])
    except (ValueError, KeyError, TypeError):
        return str(exc.reason or "")
