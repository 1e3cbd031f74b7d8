"""A keep-alive HTTP/1.1 client with pre-encoded requests, for load: httpx spends ~8 ms of CPU
per request, which on two cores would measure the load generator, not the agent."""

from __future__ import annotations

import asyncio
import re


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(
        self, path: str, content_type: str, payload: bytes, headers: bytes = b""
    ) -> tuple[int, bytes]:
        """POST `payload`; `headers` are extra header lines, each ending in CRLF."""
        self.writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: agent\r\n"
            b"Content-Type: "
            + content_type.encode()
            + b"\r\n"
            + headers
            + b"Content-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()
