"""Repeated gate polls answered before the framework parses them.

Argo's web provider and Flagger send the same bytes at every poll, and within the gate's
cache seconds the answer is the decision already made for those bytes. Serving it here skips
FastAPI's routing, dependency and body validation, two thirds of the agent's CPU per cached
answer (bench/gate.py). Callers reach it through the gate's auth (`security.AuthFirst`);
every miss goes on to the app unchanged."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sloguard.gating import Gatekeeper


class RepeatedPolls:
    """ASGI middleware, inside `BodyLimit` (which has bounded the body already) and the auth."""

    def __init__(self, app: ASGIApp, gatekeeper: Gatekeeper, path: str) -> None:
        self.app = app
        self.gatekeeper = gatekeeper
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        chunks: list[Message] = []
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in chunks)
        answer = self.gatekeeper.repeated(body) if chunks[-1]["type"] == "http.request" else None
        if answer is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(answer.body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer.body})
            return

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)
