"""A "Prometheus" that answers what a real one never would, over real HTTP on 127.0.0.1:
garbled JSON, answers of any size streamed from a generator, bodies dripped a byte at a time.
Each answer is a function of the request's path, set (and changed) by the test."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.realprom import free_port


@dataclass
class Answer:
    """What to send: a status, the body as chunks (a generator may stream gigabytes), whether
    to declare its length, and a pause before each chunk."""

    chunks: Iterable[bytes]
    status: int = 200
    length: int | None = None
    pause: float = 0.0


@dataclass
class HostilePrometheus:
    url: str
    answer: Callable[[str], Answer]
    requests: list[str] = field(default_factory=list)


def json_answer(body: bytes, status: int = 200) -> Answer:
    return Answer([body], status, len(body))


def huge(size: int, declared: bool = False) -> Answer:
    """A syntactically plausible range answer of `size` bytes, made as it is sent."""
    head = b'{"status":"success","data":{"resultType":"matrix","result":['
    item = b'{"metric":{"a":"b"},"values":[[1,"1"]]},'

    def chunks() -> Iterator[bytes]:
        yield head
        sent = len(head)
        block = item * (65536 // len(item))
        while sent < size:
            yield block
            sent += len(block)

    return Answer(chunks(), length=size if declared else None)


def drip(body: bytes, every: float) -> Answer:
    """`body` a byte at a time, `every` seconds apart."""
    return Answer([body[i : i + 1] for i in range(len(body))], length=len(body), pause=every)


@contextlib.contextmanager
def hostile_prometheus(answer: Callable[[str], Answer]) -> Iterator[HostilePrometheus]:
    port = free_port()
    served = HostilePrometheus(f"http://127.0.0.1:{port}", answer)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.do_GET()

        def do_GET(self) -> None:
            served.requests.append(self.path)
            reply = served.answer(self.path.split("?")[0])
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            if reply.length is None:
                self.send_header("connection", "close")
            else:
                self.send_header("content-length", str(reply.length))
            self.end_headers()
            try:
                for chunk in reply.chunks:
                    if reply.pause:
                        time.sleep(reply.pause)
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up: what the tests want
            self.close_connection = reply.length is None

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
