"""A small, faithful stand-in for the Kubernetes API server, over real HTTP on 127.0.0.1, for the
real `kubernetes` client: only what sloguard calls, with the API's status codes and complete
objects (the client validates what it reads).

- Namespaced objects of the kinds in `RESOURCES`: get, list (equality label selectors), create,
  replace and patch (JSON merge, strategic merge without lists, JSON patch), with the `status`
  and `scale` subresources where the kind has them.
- Optimistic concurrency: every write bumps `metadata.resourceVersion`; a write whose object
  carries another version than the stored one is a 409 Conflict, as the API server answers.
- `?dryRun=All` validates and answers without storing.
- 401 for any token but the agent's; 403 for the (verb, resource) pairs in `FakeAPI.forbidden`
  (RBAC); 404 with a `Status` for anything absent.
- `authentication.k8s.io/v1` TokenReview (create) against `FakeAPI.identities`.
No controllers run: tests change objects (a new ReplicaSet, a Rollout's status) themselves.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

AGENT_TOKEN = "sloguard-agent-token"
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"

# (group/version, plural) -> (kind, subresources)
RESOURCES: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("apps/v1", "deployments"): ("Deployment", frozenset({"status", "scale"})),
    ("apps/v1", "replicasets"): ("ReplicaSet", frozenset({"status", "scale"})),
    ("v1", "services"): ("Service", frozenset({"status"})),
    ("v1", "events"): ("Event", frozenset()),
    ("autoscaling/v2", "horizontalpodautoscalers"): (
        "HorizontalPodAutoscaler",
        frozenset({"status"}),
    ),
    ("argoproj.io/v1alpha1", "rollouts"): ("Rollout", frozenset({"status", "scale"})),
    ("coordination.k8s.io/v1", "leases"): ("Lease", frozenset()),
}
_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+/[^/]+))/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$"
)
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class Refused(Exception):
    """An error answer: HTTP code, Kubernetes reason and message."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class FakeAPI:
    url: str
    # token -> (username, groups) the API knows
    identities: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    # (verb, resource[/subresource]) pairs RBAC denies, e.g. ("patch", "deployments/scale")
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # run (and dropped) before the next update or patch: someone else writing in between
    before_write: list[Callable[[], object]] = field(default_factory=list)
    _versions: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    @property
    def requests(self) -> list[tuple[str, str, Any]]:
        return [(c.method, c.path, c.body) for c in self.calls]

    def writes(self) -> list[Call]:
        """The calls that could change something (dry runs included)."""
        return [c for c in self.calls if c.method in {"POST", "PUT", "PATCH", "DELETE"}]

    def kubeconfig(self, directory: Path) -> Path:
        """A kubeconfig pointing the client at this API with the agent's token."""
        path = directory / "kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "agent", "user": {"token": AGENT_TOKEN}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "agent"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    def put(self, document: dict[str, Any]) -> dict[str, Any]:
        """Store `document` as the cluster's own (tests set the scene and play controllers)."""
        with self.lock:
            key = self._key_of(document)
            stored = self._stamp(copy.deepcopy(document), self.objects.get(key))
            self.objects[key] = stored
            return copy.deepcopy(stored)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            for (_, _, ns, n), obj in self.objects.items():
                if obj["kind"] == kind and ns == namespace and n == name:
                    return copy.deepcopy(obj)
        raise KeyError((kind, namespace, name))

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(o) for o in self.objects.values() if o["kind"] == kind]

    def _key_of(self, document: dict[str, Any]) -> tuple[str, str, str, str]:
        for (version, plural), (kind, _) in RESOURCES.items():
            if kind == document["kind"]:
                meta = document["metadata"]
                return (version, plural, meta.get("namespace", "default"), meta["name"])
        raise ValueError(f"the fake API does not serve {document['kind']}")

    def _stamp(self, obj: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        meta["uid"] = before["metadata"]["uid"] if before else str(uuid.uuid4())
        meta["creationTimestamp"] = (
            before["metadata"]["creationTimestamp"]
            if before
            else meta.get("creationTimestamp") or now_rfc3339()
        )
        generation = before["metadata"].get("generation", 1) if before else 1
        if before is not None and obj.get("spec") != before.get("spec"):
            generation += 1
        meta["generation"] = generation
        meta["resourceVersion"] = str(next(self._versions))
        return obj

    # -- the HTTP verbs, on parsed paths ---------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], content_type: str, body: Any
    ) -> Any:
        match = _PATH.match(path)
        if match is None:
            raise Refused(404, "NotFound", "the server could not find the requested resource")
        version = match["core"] or match["group"]
        plural, ns, name, sub = match["plural"], match["ns"], match["name"], match["sub"]
        if (version, plural) not in RESOURCES:
            raise Refused(404, "NotFound", "the server could not find the requested resource")
        kind, subresources = RESOURCES[(version, plural)]
        if sub is not None and sub not in subresources:
            raise Refused(404, "NotFound", "the server could not find the requested resource")
        verb = {
            "GET": "get" if name else "list",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
        }[method]
        resource = f"{plural}/{sub}" if sub else plural
        if (verb, resource) in self.forbidden:
            raise Refused(
                403,
                "Forbidden",
                f'{plural} "{name or ""}" is forbidden: User '
                f'"system:serviceaccount:sloguard:sloguard" cannot {verb} resource "{resource}" '
                f'in API group "{version.rpartition("/")[0]}" in the namespace "{ns}"',
            )
        dry = query.get("dryRun") == ["All"]
        with self.lock:
            if verb in {"update", "patch"} and self.before_write:
                self.before_write.pop(0)()
            key = (version, plural, ns, name or "")
            if verb == "list":
                return self._list(version, plural, kind, ns, query)
            if verb == "create":
                return self._create(version, plural, kind, ns, body, dry)
            stored = self.objects.get(key)
            if stored is None:
                raise Refused(404, "NotFound", f'{plural} "{name}" not found')
            if verb == "get":
                return scale_of(stored) if sub == "scale" else copy.deepcopy(stored)
            if verb == "update":
                return self._write(key, stored, copy.deepcopy(body), sub, dry)
            return self._write(key, stored, patched(stored, sub, body, content_type), sub, dry)

    def _list(
        self, version: str, plural: str, kind: str, ns: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        wanted = {}
        for term in filter(None, query.get("labelSelector", [""])[0].split(",")):
            key, sep, value = term.partition("=")
            if not sep or key.endswith("!"):
                raise Refused(400, "BadRequest", f"the fake API supports key=value only: {term}")
            wanted[key] = value
        items = [  # as the API lists them: without kind and apiVersion
            {k: copy.deepcopy(v) for k, v in obj.items() if k not in {"kind", "apiVersion"}}
            for (v, p, n, _), obj in sorted(self.objects.items())
            if (v, p, n) == (version, plural, ns)
            and wanted.items() <= obj["metadata"].get("labels", {}).items()
        ]
        return {
            "kind": f"{kind}List",
            "apiVersion": version,
            "metadata": {"resourceVersion": str(next(self._versions))},
            "items": items,
        }

    def _create(
        self, version: str, plural: str, kind: str, ns: str, body: Any, dry: bool
    ) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        obj.setdefault("apiVersion", version)
        obj.setdefault("kind", kind)
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = ns
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise Refused(422, "Invalid", "metadata.name: Required value")
        key = (version, plural, ns, meta["name"])
        if key in self.objects:
            raise Refused(409, "AlreadyExists", f'{plural} "{meta["name"]}" already exists')
        stored = self._stamp(obj, None)
        if not dry:
            self.objects[key] = stored
        return copy.deepcopy(stored)

    def _write(
        self,
        key: tuple[str, str, str, str],
        stored: dict[str, Any],
        result: dict[str, Any],
        sub: str | None,
        dry: bool,
    ) -> dict[str, Any]:
        if sub == "scale":
            replicas = result.get("spec", {}).get("replicas")
            version = result.get("metadata", {}).get("resourceVersion")
            result = copy.deepcopy(stored)
            result["spec"]["replicas"] = replicas
            result["metadata"]["resourceVersion"] = version
        elif sub == "status":  # a status write changes the status only
            status = result.get("status")
            version = result.get("metadata", {}).get("resourceVersion")
            result = copy.deepcopy(stored)
            result["status"] = status
            result["metadata"]["resourceVersion"] = version
        version = result.get("metadata", {}).get("resourceVersion")
        if version and version != stored["metadata"]["resourceVersion"]:
            raise Refused(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {key[1]} "{key[3]}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        result = self._stamp(result, stored)
        if not dry:
            self.objects[key] = result
        return scale_of(result) if sub == "scale" else copy.deepcopy(result)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The `autoscaling/v1` Scale the API serves for a workload's `scale` subresource."""
    meta = obj["metadata"]
    labels = obj["spec"].get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        },
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        },
    }


def patched(stored: dict[str, Any], sub: str | None, body: Any, kind: str) -> dict[str, Any]:
    """`stored` (or its Scale) with a patch applied, by the request's content type."""
    target = scale_of(stored) if sub == "scale" else copy.deepcopy(stored)
    if kind == MERGE:
        return merge(target, body)
    if kind == STRATEGIC:
        if contains_list(body):
            raise Refused(400, "BadRequest", "the fake API does not model strategic list merges")
        return merge(target, body)
    if kind == JSON_PATCH:
        return json_patch(target, body)
    raise Refused(
        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {kind}"
    )


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def contains_list(value: Any) -> bool:
    if isinstance(value, list):
        return True
    return isinstance(value, dict) and any(contains_list(v) for v in value.values())


def json_patch(target: dict[str, Any], operations: Any) -> dict[str, Any]:
    """RFC 6902 JSON patch: add, remove, replace and test (a failed test is 422)."""
    if not isinstance(operations, list):
        raise Refused(400, "BadRequest", "a JSON patch is a list of operations")
    document = copy.deepcopy(target)
    for op in operations:
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]
        ]
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.get(part)
            if node is None:
                raise Refused(422, "Invalid", f"path {op['path']} does not exist")
        name = op["op"]
        if name == "test":
            if (node[int(last)] if isinstance(node, list) else node.get(last)) != op["value"]:
                raise Refused(422, "Invalid", f"test failed at {op['path']}")
        elif name in {"add", "replace"}:
            if name == "replace" and isinstance(node, dict) and last not in node:
                raise Refused(422, "Invalid", f"replace: {op['path']} does not exist")
            if isinstance(node, list):
                node.insert(len(node) if last == "-" else int(last), op["value"])
            else:
                node[last] = op["value"]
        elif name == "remove":
            if isinstance(node, list):
                node.pop(int(last))
            elif node.pop(last, None) is None:
                raise Refused(422, "Invalid", f"remove: {op['path']} does not exist")
        else:
            raise Refused(400, "BadRequest", f"unsupported JSON patch operation {name!r}")
    return document


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@contextmanager
def running_api() -> Iterator[FakeAPI]:
    api = FakeAPI(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.serve("GET")

        def do_POST(self) -> None:
            self.serve("POST")

        def do_PUT(self) -> None:
            self.serve("PUT")

        def do_PATCH(self) -> None:
            self.serve("PATCH")

        def serve(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            content_type = (self.headers.get("Content-Type") or "application/json").split(";")[0]
            body = json.loads(raw) if raw else None
            api.calls.append(Call(method, url.path, query, content_type, body))
            try:
                if self.headers.get("Authorization") != f"Bearer {AGENT_TOKEN}":
                    raise Refused(401, "Unauthorized", "Unauthorized")
                if method == "POST" and url.path == TOKEN_REVIEWS:
                    self.answer(201, review(api, body or {}))
                    return
                answer = api.handle(method, url.path, query, content_type, body)
                self.answer(201 if method == "POST" else 200, answer)
            except Refused as refused:
                self.answer(refused.code, status(refused.code, refused.reason, refused.message))

        def answer(self, code: int, document: dict[str, Any]) -> None:
            payload = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def review(api: FakeAPI, body: dict[str, Any]) -> dict[str, Any]:
    """The API server's answer to a TokenReview: the spec echoed, the status filled in."""
    spec = body.get("spec", {})
    known = api.identities.get(spec.get("token", ""))
    audiences = spec.get("audiences") or ["https://kubernetes.default.svc"]
    if known is None:
        state: dict[str, Any] = {"authenticated": False, "error": "invalid bearer token"}
    else:
        username, groups = known
        state = {
            "authenticated": True,
            "user": {"username": username, "uid": f"uid-{username}", "groups": groups},
            "audiences": audiences,
        }
    return {
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": state,
    }
