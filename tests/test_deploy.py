"""The manifests in deploy/: valid against Kubernetes' own schemas (kubernetes-validate, no
cluster), pods that the Pod Security "restricted" profile admits, RBAC with no more than the
actions need, a NetworkPolicy that lets only the rollout controllers and Prometheus in, and
container arguments `sloguard run` accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from sloguard import __version__
from sloguard.cli import main

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
BUILT_IN = ("v1", "apps/", "rbac.authorization.k8s.io/", "policy/", "networking.k8s.io/")
ALLOWED_VOLUMES = {
    "configMap",
    "downwardAPI",
    "emptyDir",
    "projected",
    "secret",
    "csi",
    "persistentVolumeClaim",
    "ephemeral",
}


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append(
                    (
                        f"{path.relative_to(DEPLOY)}:{document['kind']}/{document['metadata']['name']}",
                        document,
                    )
                )
    return found


DOCUMENTS = documents()
PODS = [(name, d["spec"]["template"]["spec"]) for name, d in DOCUMENTS if d["kind"] == "Deployment"]


@pytest.mark.parametrize(
    ("name", "document"),
    [d for d in DOCUMENTS if d[1]["apiVersion"].startswith(BUILT_IN)],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_built_in_object_matches_the_kubernetes_schema(
    name: str, document: dict[str, Any]
) -> None:
    kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_kustomize_lists_every_standalone_file() -> None:
    listed = yaml.safe_load((DEPLOY / "standalone" / "kustomization.yaml").read_text())["resources"]
    present = sorted(
        p.name for p in (DEPLOY / "standalone").glob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert sorted(listed) == present


@pytest.mark.parametrize(("name", "pod"), PODS, ids=[n for n, _ in PODS])
def test_every_pod_meets_the_restricted_profile(name: str, pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"] and not context["capabilities"].get("add")
        assert context["readOnlyRootFilesystem"] is True
        assert not context.get("privileged")
    for volume in pod.get("volumes", []):
        assert set(volume) - {"name"} <= ALLOWED_VOLUMES, volume


def sloguard_containers() -> list[dict[str, Any]]:
    return [c for _, pod in PODS for c in pod["containers"] if c["name"] == "sloguard"]


@pytest.mark.parametrize("container", sloguard_containers(), ids=lambda c: " ".join(c["args"][:2]))
def test_the_container_arguments_are_ones_sloguard_run_accepts(
    container: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in container["env"]:
        monkeypatch.setenv(variable["name"], variable.get("value", "from-the-cluster"))
    command, *args = container["args"]
    assert command == "run"
    context = main.commands["run"].make_context("run", list(args))
    assert context.params["audit_log"] == Path("/var/lib/sloguard/audit.jsonl")
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "/var/lib/sloguard" in mounts and "/tmp" in mounts  # writable under a read-only root
    assert mounts[context.params["paths"][0].as_posix()]["readOnly"] is True


def rules() -> list[tuple[str, str, str]]:
    found = []
    for _, document in DOCUMENTS:
        if document["kind"] in {"Role", "ClusterRole"}:
            for rule in document["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            found.append((group, resource, verb))
    return found


def test_rbac_grants_exactly_what_the_actions_and_the_gate_need() -> None:
    granted = set(rules())
    assert granted == {
        ("argoproj.io", "rollouts", "get"),
        ("argoproj.io", "rollouts", "list"),
        ("argoproj.io", "rollouts", "watch"),
        ("argoproj.io", "rollouts/status", "patch"),
        ("apps", "deployments", "get"),
        ("apps", "deployments", "list"),
        ("apps", "deployments", "watch"),
        ("apps", "deployments", "patch"),
        ("apps", "replicasets", "get"),
        ("apps", "replicasets", "list"),
        ("", "services", "get"),
        ("", "services", "patch"),
        ("autoscaling", "horizontalpodautoscalers", "get"),
        ("autoscaling", "horizontalpodautoscalers", "list"),
        ("autoscaling", "horizontalpodautoscalers", "watch"),
        ("autoscaling", "horizontalpodautoscalers", "patch"),
        ("", "events", "create"),
        ("", "events", "patch"),
        ("coordination.k8s.io", "leases", "create"),
        ("coordination.k8s.io", "leases", "get"),
        ("coordination.k8s.io", "leases", "update"),
        ("authentication.k8s.io", "tokenreviews", "create"),
    }
    assert not any("*" in item for item in granted)
    assert not any(
        resource.endswith("/scale") or resource == "secrets" for _, resource, _ in granted
    )


def test_only_the_rollout_controllers_and_prometheus_may_call_the_agent() -> None:
    [policy] = [d for _, d in DOCUMENTS if d["kind"] == "NetworkPolicy"]
    callers = {
        (
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        )
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
    }
    assert callers == {
        ("argo-rollouts", "argo-rollouts"),
        ("flagger-system", "flagger"),
        ("monitoring", "prometheus"),
    }
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_the_standalone_agent_runs_two_replicas_kept_through_disruptions() -> None:
    [deployment] = [
        d for name, d in DOCUMENTS if name.startswith("standalone") and d["kind"] == "Deployment"
    ]
    [budget] = [d for _, d in DOCUMENTS if d["kind"] == "PodDisruptionBudget"]
    assert deployment["spec"]["replicas"] == 2 and budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    [namespace] = [d for _, d in DOCUMENTS if d["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_manifests_run_the_version_the_changelog_and_package_name() -> None:
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["version"]
    changelog = (DEPLOY.parent / "CHANGELOG.md").read_text()
    top = re.findall(r"^## \[(\d[^\]]*)\]", changelog, re.M)[0]
    manifests = "\n".join(p.read_text() for p in sorted(DEPLOY.rglob("*.yaml")))
    tags = set(re.findall(r"image: ghcr\.io/sloguard/sloguard:(\S+)", manifests))
    assert project == __version__ == top
    assert tags == {top}, "the manifests' image tag is the CHANGELOG's version"
