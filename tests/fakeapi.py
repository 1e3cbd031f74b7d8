"""A small, faithful stand-in for the Kubernetes API server, over real HTTP on 127.0.0.1, for the
real `kubernetes` client: only what sloguard calls, with the API's status codes and complete
objects (the client validates what it reads).

So far: `authentication.k8s.io/v1` TokenReview (create). The caller must present the agent's
own token, else 401 with a `Status`, as the API server answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

AGENT_TOKEN = "sloguard-agent-token"
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"


@dataclass
class FakeAPI:
    url: str
    # token -> (username, groups) the API knows
    identities: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

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
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            api.requests.append(("POST", self.path, body))
            if self.headers.get("Authorization") != f"Bearer {AGENT_TOKEN}":
                self.answer(401, status(401, "Unauthorized", "Unauthorized"))
            elif self.path.split("?")[0] != TOKEN_REVIEWS:
                self.answer(
                    404, status(404, "NotFound", "the server could not find the requested resource")
                )
            else:
                self.answer(201, review(api, body))

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
