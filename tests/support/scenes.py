"""Cluster objects as the API serves them, complete enough for the `kubernetes` client to accept:
a Deployment with its ReplicaSets, an Argo Rollout, a blue-green Service, an HPA."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from tests.support.fakeapi import FakeAPI

NS = "shop"


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template(app: str, image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": app, "image": image}]},
    }


def template_hash(image: str) -> str:
    return hashlib.sha256(image.encode()).hexdigest()[:10]


def deployment(
    api: FakeAPI,
    name: str,
    image: str,
    *,
    replicas: int = 3,
    updated: int | None = None,
    available: int | None = None,
    annotations: dict[str, str] | None = None,
    revision: int = 1,
) -> dict[str, Any]:
    """A Deployment; `updated` below `replicas` means a rollout is in flight."""
    return api.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": NS,
                "labels": {"app": name},
                "annotations": {
                    "deployment.kubernetes.io/revision": str(revision),
                    **(annotations or {}),
                },
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": template(name, image),
                "strategy": {"type": "RollingUpdate"},
            },
            "status": {
                "observedGeneration": 1,
                "replicas": replicas,
                "updatedReplicas": replicas if updated is None else updated,
                "readyReplicas": replicas if available is None else available,
                "availableReplicas": replicas if available is None else available,
            },
        }
    )


def replica_set(
    api: FakeAPI, owner: dict[str, Any], image: str, revision: int, created: float, replicas: int
) -> dict[str, Any]:
    """A ReplicaSet of `owner` at `revision`, as the Deployment controller makes them."""
    name = owner["metadata"]["name"]
    digest = template_hash(image)
    pod = template(name, image)
    pod["metadata"]["labels"]["pod-template-hash"] = digest
    return api.put(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name}-{digest}",
                "namespace": NS,
                "creationTimestamp": when(created),
                "labels": {"app": name, "pod-template-hash": digest},
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": owner["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name, "pod-template-hash": digest}},
                "template": pod,
            },
            "status": {"replicas": replicas, "availableReplicas": replicas},
        }
    )


def rollout(
    api: FakeAPI, name: str, *, current: str, stable: str, aborted: bool = False
) -> dict[str, Any]:
    """An Argo Rollout; `current` != `stable` means a canary is in flight."""
    return api.put(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": name}},
                "template": template(name, "shop:2"),
                "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
            },
            "status": {
                "currentPodHash": current,
                "stableRS": stable,
                "phase": "Paused",
                "abort": aborted,
            },
        }
    )


def service(api: FakeAPI, name: str, color: str) -> dict[str, Any]:
    return api.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "selector": {"app": name, "color": color},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                "type": "ClusterIP",
            },
        }
    )


def autoscaler(
    api: FakeAPI, name: str, target: str, *, low: int = 2, high: int = 10
) -> dict[str, Any]:
    return api.put(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "minReplicas": low,
                "maxReplicas": high,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    }
                ],
            },
            "status": {"currentReplicas": low, "desiredReplicas": low},
        }
    )
