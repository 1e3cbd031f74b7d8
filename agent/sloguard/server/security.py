"""What guards the gate's endpoints: who may call (a shared bearer token, Kubernetes identities
through TokenReview, or both), checked before anything else is read of a request, and a cap on
request bodies."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sloguard.files import WatchedFile

MAX_BODY_BYTES = 64 * 1024
MAX_HELD_BYTES = 64 * 1024 * 1024  # every request body being read or served, together


class BearerToken:
    """The token callers must present. Read from a file when given one, again whenever the
    file changes, so a rotated Secret takes effect without a restart."""

    def __init__(self, value: str = "", path: Path | None = None) -> None:
        self.value = value
        self._file = WatchedFile(path) if path is not None else None

    def accepts(self, presented: str) -> bool:
        expected = self._file.text() if self._file is not None else self.value
        return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


class Reviewer(Protocol):
    """Tells whether a token belongs to someone allowed (`kube.TokenReviewer`)."""

    async def accepts(self, token: str) -> bool: ...


@dataclass
class GateAuth:
    """Who may call the gate: the holder of the shared token, or a Kubernetes identity the
    reviewer accepts (e.g. Argo Rollouts' service account, its projected token)."""

    token: BearerToken | None = None
    reviewer: Reviewer | None = None

    async def accepts(self, presented: str) -> bool:
        if self.token is not None and self.token.accepts(presented):
            return True
        return self.reviewer is not None and await self.reviewer.accepts(presented)


async def allowed(auth: GateAuth | None, authorization: str) -> bool:
    """Whether a request with this `Authorization` header may use the gate (anyone may when
    no auth is configured)."""
    return auth is None or await auth.accepts(bearer(authorization))


def bearer(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header ("" when there is none)."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def flagger_token(body: bytes) -> str:
    """The token a Flagger webhook carries in `metadata.token` ("" when the body has none,
    or is no JSON object at all: such a caller is simply unauthenticated)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    metadata = payload.get("metadata") if isinstance(payload, dict) else None
    token = metadata.get("token") if isinstance(metadata, dict) else None
    return token if isinstance(token, str) else ""


class AuthFirst:
    """ASGI middleware, inside `BodyLimit`: a guarded route answers 401 to a caller the auth
    does not accept before its body is parsed or validated, so nothing a stranger sends
    reaches the framework. The token is the `Authorization` header's, or for Flagger's
    webhooks (which carry no headers) the body's `metadata.token`."""

    def __init__(
        self, app: ASGIApp, auth: GateAuth, header: Callable[[str], bool], flagger: str
    ) -> None:
        self.app = app
        self.auth = auth
        self.header = header  # whether a path is guarded by a bearer header
        self.flagger = flagger  # the prefix of the paths taking metadata.token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        in_body = path.startswith(self.flagger)
        if scope["type"] != "http" or (not self.header(path) and not in_body):
            await self.app(scope, receive, send)
            return
        chunks: list[Message] = []
        if in_body:
            while True:
                message = await receive()
                chunks.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
            presented = flagger_token(b"".join(m.get("body", b"") for m in chunks))
        else:
            presented = bearer(dict(scope["headers"]).get(b"authorization", b"").decode("latin-1"))
        if not await self.auth.accepts(presented):
            where = "in the webhook's metadata.token" if in_body else ""
            await respond(
                send,
                401,
                {"detail": " ".join(["a valid bearer token is required", where]).strip()},
                [(b"www-authenticate", b"Bearer")],
            )
            return

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)


async def respond(
    send: Send, status: int, document: object, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """A whole JSON answer from ASGI middleware."""
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware answering 413 (JSON) to a request body over `limit` bytes, whether it
    declares its length or streams; bodies within the limit are passed on unchanged. All the
    bodies held at once stay under `max_held` bytes: past it a request is answered 503 (retry),
    so uploads parked just under the limit cannot add up to the agent's memory."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        paths: Mapping[str, int] | None = None,
        max_held: int = MAX_HELD_BYTES,
    ) -> None:
        self.app = app
        self.limit = limit
        self.paths = dict(paths or {})  # a larger (or smaller) limit for some paths
        self.max_held = max_held
        self.held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.limit)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await self._refuse(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                self.held += len(chunk)
                if size > limit:
                    await self._refuse(send, limit)
                    return
                if self.held > self.max_held:
                    busy = {"detail": "too many request bodies being received; retry"}
                    await respond(send, 503, busy, [(b"retry-after", b"1")])
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            del chunks
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
        finally:
            self.held -= size

    async def _refuse(self, send: Send, limit: int) -> None:
        await respond(send, 413, {"detail": f"request body over the {limit // 1024} KiB limit"})
