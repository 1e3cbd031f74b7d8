"""What hostile callers, backends and files cost `sloguard run`: one probe of each class the
agent bounds, with what the caller got, how long it took and the agent's peak memory.

Run: .venv/bin/python -m bench.hostile

One agent (default limits, the gate with a token) serves the gate's `shop` and the trace SLIs'
`checkout`, reading a "Prometheus" that answers what each backend probe needs (garbled, huge,
dripped). Before each probe the agent's peak RSS is reset (/proc/PID/clear_refs, needs root or
the agent's own user), so "peak" is that probe's. Definition files are probed with
`sloguard validate` as a child process (its time and peak RSS).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from tests.support.canaries import DEFINITION as SHOP
from tests.support.canaries import running_agent
from tests.support.hostile import Answer, drip, hostile_prometheus, huge, json_answer
from tests.support.spans import DEFINITION as CHECKOUT
from tests.support.spans import empty_spans, length_delimited, versioned

from bench.process import rss_mb

HERE = Path(__file__).resolve().parent

TOKEN = "bench-token"
EMPTY = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
GARBLED = b'{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}'
SLOGUARD = Path(sys.executable).with_name("sloguard")


def reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


class Bench:
    def __init__(self, url: str, pid: int, backend: dict[str, Callable[[], Answer]]) -> None:
        self.url, self.pid, self.backend = url, pid, backend
        self.port = int(url.rsplit(":", 1)[1])
        self.rows: list[tuple[str, str, str, float, float, float]] = []

    def probe(self, name: str, limit: str, run: Callable[[], str]) -> None:
        reset_peak(self.pid)
        started = time.perf_counter()
        got = run()
        seconds = time.perf_counter() - started
        time.sleep(0.5)  # let a worker thread finish what it was given
        self.rows.append((name, limit, got, seconds, rss_mb(self.pid, "VmHWM"), rss_mb(self.pid)))
        row = self.rows[-1]
        print(
            f"{row[0]}: {row[2]} in {row[3]:.2f} s, peak RSS {row[4]:.0f} MB, then {row[5]:.0f}",
            flush=True,
        )

    def post(self, path: str, body: bytes, **headers: str) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", content=body, headers=headers, timeout=60)

    def gate(self, body: dict[str, Any]) -> str:
        answer = self.post(
            "/v1/analysis",
            json.dumps(body).encode(),
            authorization=f"Bearer {TOKEN}",
            **{"content-type": "application/json"},
        )
        return f"{answer.status_code} {answer.json().get('verdict', '')}".strip()

    def otlp(self, body: bytes, media: str = "application/x-protobuf", zipped: bool = False) -> str:
        headers = {"content-type": media, **({"content-encoding": "gzip"} if zipped else {})}
        return str(self.post("/v1/traces", body, **headers).status_code)


def canary(version: str, **extra: str) -> dict[str, Any]:
    """A request of its own (the gate shares answers to the same request for 5 s)."""
    return {
        "service": "shop",
        "canary": {"rollouts_pod_template_hash": version, **extra},
        "baseline": {"rollouts_pod_template_hash": "old"},
    }


def connections(port: int, count: int, sent: bytes) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=60)
        connection.sendall(sent)
        opened.append(connection)
    return opened


def all_closed(opened: list[socket.socket]) -> int:
    closed = 0
    for connection in opened:
        with contextlib.suppress(OSError):
            if connection.recv(1) == b"":
                closed += 1
        connection.close()
    return closed


def slowloris(bench: Bench, count: int) -> str:
    opened = connections(bench.port, count, b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: ")
    health = time.perf_counter()
    ok = httpx.get(f"{bench.url}/healthz").status_code
    health = time.perf_counter() - health
    closed = all_closed(opened)
    return (
        f"{closed}/{count} closed by the agent; /healthz {ok} in {health * 1000:.0f} ms meanwhile"
    )


def crowd(bench: Bench, count: int) -> str:
    opened = connections(bench.port, count, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    answers = [c.recv(64) for c in opened]
    for connection in opened:
        connection.close()
    refused = sum(a.startswith(b"HTTP/1.1 503") for a in answers)
    return f"{count - refused} served, {refused} answered 503"


def parked(bench: Bench, count: int) -> str:
    size = 8 * 1024 * 1024 - 1
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-protobuf\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    opened = connections(bench.port, count, head)
    chunk = b"\0" * (size - 1)
    refused = 0
    for connection in opened:
        with contextlib.suppress(OSError):
            connection.sendall(chunk)
    time.sleep(1)
    for connection in opened:
        connection.settimeout(0.2)
        with contextlib.suppress(OSError):
            refused += connection.recv(64).startswith(b"HTTP/1.1 503")
        connection.close()
    return f"{refused} of {count} answered 503 (bodies held at once: 64 MiB at most)"


def junk_versions(bench: Bench, count: int) -> str:
    for n in range(count):
        bench.otlp(versioned(f"junk-{n}"))
    series = sum(
        line.startswith("sloguard_trace_events_total{")
        for line in httpx.get(f"{bench.url}/metrics").text.splitlines()
    )
    return f"200 each; {series} series kept (256 per trace SLI)"


def validate(directory: Path, text: str) -> str:
    """`sloguard validate` on `text`, under GNU time (a child's peak RSS as the kernel counts it
    would include this process's pages before exec)."""
    (directory / "bad.yaml").write_text(text)
    timed = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    result = subprocess.run(
        [*timed, str(SLOGUARD), "validate", str(directory)], capture_output=True, text=True
    )
    peak = f", peak RSS {int(result.stderr.split()[-1]) / 1024:.0f} MB" if timed else ""
    return f"exit {result.returncode}{peak}"


@contextlib.contextmanager
def agent(directory: Path, backend: dict[str, Callable[[], Answer]]) -> Iterator[Bench]:
    with hostile_prometheus(lambda _: backend["answer"]()) as prom:
        flags = ("--query-timeout=3", "--retries=0", "--interval=3600")
        with running_agent(directory, prom.url, TOKEN, *flags) as (url, process):
            yield Bench(url, process.pid, backend)


def main() -> None:
    backend: dict[str, Callable[[], Answer]] = {"answer": lambda: json_answer(EMPTY)}
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-") as tmp:
        directory = Path(tmp) / "defs"
        directory.mkdir()
        (directory / "shop.yaml").write_text(SHOP)
        (directory / "checkout.yaml").write_text(CHECKOUT)
        files = Path(tmp) / "files"
        files.mkdir()
        laughs = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        rows = []
        for name, text in [
            (f"definitions: billion laughs ({len(laughs)} bytes)", laughs),
            ("definitions: a 10 MB file", "slos:\n" + "  - {name: x}\n" * 800_000),
            ("definitions: slos: &a [ *a ]", "slos: &a [ *a ]\n"),
        ]:
            started = time.perf_counter()
            got = validate(files, text)
            rows.append((name, got, time.perf_counter() - started))
            print(f"{name}: {got} in {rows[-1][2]:.2f} s", flush=True)
        with agent(directory, backend) as bench:
            print(f"sloguard run at start: RSS {rss_mb(bench.pid):.0f} MB", flush=True)
            bench.probe(
                "gate: canary matcher on a label the SLO reads",
                "labels the SLI uses",
                lambda: bench.gate(canary("new", code="200")),
            )
            bench.probe(
                "gate: 1e999 in the body",
                "answers that encode",
                lambda: str(
                    bench.post(
                        "/v1/analysis", b'{"service": 1e999}', authorization=f"Bearer {TOKEN}"
                    ).status_code
                ),
            )
            bench.probe(
                "gate: no token, body not JSON",
                "token first",
                lambda: str(bench.post("/v1/analysis", b"[" * 60000).status_code),
            )
            bench.probe(
                "OTLP: 4M empty spans, 8 MB protobuf",
                "1,000,000 fields",
                lambda: bench.otlp(empty_spans(4_000_000)),
            )
            bomb = gzip.compress(empty_spans(8_000_000))
            bench.probe(
                f"OTLP: 8M empty spans, {len(bomb) // 1024} KB gzipped",
                "1,000,000 fields",
                lambda: bench.otlp(bomb, zipped=True),
            )
            objects = gzip.compress(
                b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + b"{}," * 2_000_000 + b"{}]}]}]}"
            )
            bench.probe(
                f"OTLP: 2M {{}} spans, {len(objects) // 1024} KB gzipped JSON",
                "1,000,000 JSON values",
                lambda: bench.otlp(objects, "application/json", zipped=True),
            )
            attributes = gzip.compress(
                length_delimited(1, length_delimited(2, length_delimited(2, b"J\0" * 15_000_000)))
            )
            bench.probe(
                f"OTLP: one span, 15M empty attributes, {len(attributes) // 1024} KB gzipped",
                "1,000,000 fields",
                lambda: bench.otlp(attributes, zipped=True),
            )
            lists = gzip.compress(b'{"resourceSpans":[],"x":[' + b"[]," * 10_000_000 + b"[]]}")
            bench.probe(
                f"OTLP: 10M empty JSON lists, {len(lists) // 1024} KB gzipped",
                "1,000,000 JSON values",
                lambda: bench.otlp(lists, "application/json", zipped=True),
            )
            version = gzip.compress(versioned("v" * 20 * 2**20))
            bench.probe(
                "OTLP: 20 MiB service.version",
                "256-byte label",
                lambda: bench.otlp(version, zipped=True),
            )
            bench.probe(
                "OTLP: 300 junk versions",
                "256 series per SLI",
                lambda: junk_versions(bench, 300),
            )
            for name, answer, limit in [
                ("Prometheus: 200 MB answer", lambda: huge(200 * 2**20), "16 MiB"),
                ("Prometheus: 200 MB answer, again", lambda: huge(200 * 2**20), "16 MiB"),
                ("Prometheus: 200 MB answer, a third time", lambda: huge(200 * 2**20), "16 MiB"),
                ("Prometheus: a byte every 0.5 s", lambda: drip(EMPTY, 0.5), "3 s deadline"),
                ("Prometheus: garbled result items", lambda: json_answer(GARBLED), "shape"),
            ]:
                backend["answer"] = answer
                bench.probe(name, limit, functools.partial(bench.gate, canary(name[-20:])))
            backend["answer"] = lambda: json_answer(EMPTY)
            bench.probe(
                "800 connections with half their headers",
                "30 s per request",
                lambda: slowloris(bench, 800),
            )
            bench.probe(
                "1,200 connections at once", "1,000 connections", lambda: crowd(bench, 1200)
            )
            bench.probe(
                "40 OTLP uploads parked at 8 MiB - 1", "64 MiB of bodies", lambda: parked(bench, 40)
            )
            print(f"sloguard run at the end: RSS {rss_mb(bench.pid):.0f} MB", flush=True)
    print("\n| probe | limit | caller gets | time | peak RSS (after) |")
    print("|---|---|---|---|---|")
    for name, limit, got, seconds, peak, after in bench.rows:
        print(f"| {name} | {limit} | {got} | {seconds:.2f} s | {peak:.0f} MB ({after:.0f}) |")
    for name, got, seconds in rows:
        print(f"| {name} | no aliases, 1 MiB, 100,000 nodes | {got} | {seconds:.2f} s | |")


if __name__ == "__main__":
    main()
