"""Span ingest: OTLP/HTTP protobuf batches of 512 spans into `sloguard run`, back to back from a
few keep-alive connections; spans/s, request latency, the agent's CPU and memory.

Run: .venv/bin/python -m bench.traces [--seconds 20] [--connections 4] [--soak 600] [--garbage]

With --garbage every fourth request of each connection is hostile instead (a 4M-span protobuf,
a 15 KB gzip of 8M spans, 2M JSON objects, random bytes, a 20 MiB version, a junk version):
the agent must answer them 4xx (or count them within its caps) and keep its memory flat.

The batches are encoded once with the OpenTelemetry SDK's own encoder: 512 spans of `checkout`
(two versions), 80% `POST /pay` server spans that two trace SLOs count (one in 50 failed, one in
20 slow), the rest other spans. Figures: spans/s, p50/p99 request latency, the agent's CPU (one
process, one event loop: 100% is one core) and RSS at the start and end (and its peak).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from tests.support.canaries import running_agent
from tests.support.spans import DEFINITION, empty_spans

from bench.keepalive import Connection
from bench.process import cpu_seconds, rss_mb

HERE = Path(__file__).resolve().parent

BATCH = 512


def batch(version: str) -> bytes:
    """512 spans of one resource, encoded as the SDK's OTLP exporter sends them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "checkout", "service.version": version, "k8s.pod.name": "checkout-0"}
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    start = time.time_ns()
    for i in range(BATCH):
        pay = i % 5 != 0
        span = tracer.start_span(
            "POST /pay" if pay else "SELECT orders",
            kind=SpanKind.SERVER if pay else SpanKind.CLIENT,
            start_time=start,
            attributes={
                "http.request.method": "POST",
                "http.route": "/pay",
                "http.response.status_code": 200,
                "server.address": "checkout",
                "url.scheme": "http",
            },
        )
        if i % 50 == 0:
            span.set_status(Status(StatusCode.ERROR, "failed"))
        span.end(end_time=start + (400 if i % 20 == 0 else 30) * 1_000_000)
    return bytes(encode_spans(memory.get_finished_spans()).SerializeToString())


# (content type, extra header lines, body): what a hostile or broken exporter sends.
Hostile = tuple[str, bytes, bytes]
GZIP = b"Content-Encoding: gzip\r\n"


def garbage() -> list[Hostile]:
    protobuf, json = "application/x-protobuf", "application/json"
    objects = b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + b"{}," * 2_000_000 + b"{}]}]}]}"
    return [
        (protobuf, b"", empty_spans(4_000_000)),
        (protobuf, GZIP, gzip.compress(empty_spans(8_000_000))),
        (json, GZIP, gzip.compress(objects)),
        (protobuf, b"", random.Random(7).randbytes(300_000)),
        (protobuf, GZIP, gzip.compress(batch("v" * 20 * 2**20))),
    ]


async def load(
    port: int,
    payloads: list[bytes],
    connections: int,
    seconds: float,
    hostile: list[Hostile] | None = None,
    statuses: Counter[int] | None = None,
) -> list[float]:
    """Latencies of the good batches; every fourth request is hostile when `hostile` is given
    (with a junk version now and then), its status counted in `statuses`."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def sender(index: int) -> None:
        connection = await Connection.open(port)
        payload = payloads[index % len(payloads)]
        sent = 0
        try:
            while time.monotonic() < deadline:
                sent += 1
                if hostile and sent % 4 == 0:
                    junk = (f"junk-{index}-{sent}", b"", batch(f"junk-{index}-{sent}"))
                    kind, headers, body = hostile[(sent // 4) % len(hostile)]
                    if sent % 16 == 0:
                        kind, headers, body = "application/x-protobuf", junk[1], junk[2]
                    try:
                        status, _ = await connection.post("/v1/traces", kind, body, headers)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        # Answered before its body was read (503: bodies held), then closed.
                        connection.close()
                        connection = await Connection.open(port)
                        status = 0
                    if statuses is not None:
                        statuses[status] += 1
                    if status >= 500 and status != 503:
                        raise RuntimeError(f"the receiver answered {status} to garbage")
                    continue
                started = time.perf_counter()
                try:
                    status, _ = await connection.post(
                        "/v1/traces", "application/x-protobuf", payload
                    )
                except (asyncio.IncompleteReadError, ConnectionError):
                    # The agent closed the connection after answering a hostile request on it
                    # before reading its body: an exporter reconnects and sends again.
                    connection.close()
                    connection = await Connection.open(port)
                    if statuses is not None:
                        statuses[0] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"the receiver answered {status}")
        finally:
            connection.close()

    await asyncio.gather(*(sender(i) for i in range(connections)))
    return latencies


def report(name: str, latencies: list[float], seconds: float, cpu: float) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    spans = len(latencies) * BATCH
    print(
        f"{name}: {spans / seconds:,.0f} spans/s ({len(latencies)} batches of {BATCH} in "
        f"{seconds:.0f}s); request latency ms p50 {statistics.median(ordered) * 1000:.1f}  "
        f"p99 {p99 * 1000:.1f}; agent CPU {100 * cpu / seconds:.0f}% of a core",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--soak", type=float, default=0, help="also this many seconds of soak")
    parser.add_argument("--garbage", action="store_true", help="mix hostile requests in")
    args = parser.parse_args()
    payloads = [batch("1.0.0"), batch("1.1.0")]
    hostile = garbage() if args.garbage else None
    statuses: Counter[int] = Counter()
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-") as tmp:
        definitions = Path(tmp) / "defs"
        definitions.mkdir()
        (definitions / "checkout.yaml").write_text(DEFINITION)
        with running_agent(definitions, "http://127.0.0.1:9", "t") as (url, process):
            port = int(url.rsplit(":", 1)[1])
            print(
                f"sloguard run; {args.connections} connections posting {BATCH}-span protobuf "
                f"batches ({len(payloads[0]) // 1024} KiB each) back to back",
                flush=True,
            )
            asyncio.run(load(port, payloads, args.connections, 3))  # warm up
            cpu = cpu_seconds(process.pid)
            latencies = asyncio.run(
                load(port, payloads, args.connections, args.seconds, hostile, statuses)
            )
            report("ingest", latencies, args.seconds, cpu_seconds(process.pid) - cpu)
            if args.soak:
                rss = [rss_mb(process.pid)]
                all_latencies: list[float] = []
                started, cpu = time.monotonic(), cpu_seconds(process.pid)
                while time.monotonic() - started < args.soak:
                    all_latencies += asyncio.run(
                        load(port, payloads, args.connections, 30, hostile, statuses)
                    )
                    rss.append(rss_mb(process.pid))
                elapsed = time.monotonic() - started
                report("soak", all_latencies, elapsed, cpu_seconds(process.pid) - cpu)
                print(
                    f"soak: agent RSS {rss[0]:.0f} MB at start, {rss[-1]:.0f} MB at the end, "
                    f"peak {max(rss):.0f} MB (every 30 s: {' '.join(f'{r:.0f}' for r in rss)})",
                    flush=True,
                )
            counted = httpx.get(f"{url}/metrics").text
            total = sum(
                float(line.rsplit(" ", 1)[1])
                for line in counted.splitlines()
                if line.startswith("sloguard_trace_spans_received_total")
            )
            print(f"received {total:,.0f} spans in all", flush=True)
            if hostile:
                print(
                    f"hostile requests answered (0: connection closed): "
                    f"{dict(sorted(statuses.items()))}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
