"""The console at 1,000 SLOs: how long the overview takes to render on the server and to load
in Debian's Chromium, and how much the agent's memory grows while people use the console.

Run: .venv/bin/python -m bench.console [--slos 1000] [--repeat 30] [--requests 600]

The same 1,000 SLOs as bench/generation.py (100 services), evaluated by the agent as
`sloguard run` builds it (the composition root) over a source answering like a Prometheus
with the rules loaded (every budget, burn rate and event count; 240 points a series for the
SLO pages' range queries), so the figures are the console's own, not Prometheus's:
- server: `render_overview` of every SLO (the first page of 100 rows, worst first, with the
  counts), and the whole `GET /` through the app in-process;
- browser: the page served by uvicorn on 127.0.0.1, loaded by Chromium (Playwright with the
  system browser): DOMContentLoaded and load, from the navigation timing;
- memory: the process's RSS before and after `--requests` requests spread over every page
  (overview with filters and search, SLO pages, the gate's and the actions' pages and JSON),
  with 200 distinct gate decisions made first, so the journals are full.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright
from tests.support.browser import FLAGS
from tests.support.realprom import free_port

from bench.generation import write_definitions
from bench.process import rss_mb
from sloguard.assembly import Assembly, Settings, assemble
from sloguard.evaluation.readings import Sample
from sloguard.loading import load
from sloguard.promql import PART_LABEL
from sloguard.server.console import Overview, render_overview
from sloguard.sources.prometheus import PrometheusSettings

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


class Fleet:
    """Answers like a Prometheus with every SLO's rules recording: a budget spread from
    exhausted to untouched, burn rates to match, a million events per window."""

    def __init__(self, ids: Sequence[dict[str, str]]) -> None:
        self.asked = 0  # instant queries
        self.by_service: dict[str, list[tuple[int, dict[str, str]]]] = {}  # as a query escapes it
        for n, i in enumerate(ids):
            self.by_service.setdefault(re.escape(i["service"]), []).append((n, i))

    async def query(self, expr: str, at: float) -> Sequence[Sample]:
        self.asked += 1
        asked = re.search(r'service=~"([^"]+)"', expr)  # a shard's services
        names = set(asked[1].replace("\\\\", "\\").split("|")) if asked else set()
        ids = [found for name in names for found in self.by_service.get(name, [])]
        if expr.startswith("{__name__"):
            return [
                ({**i, "__name__": f"slo:burn_rate:{w}"}, (n % 40) / 2)
                for n, i in ids
                for w in WINDOWS
            ]
        if expr.startswith("slo:error_budget_remaining"):
            return [(i, 1 - (n % 40) / 20) for n, i in ids]
        if expr.startswith("slo:sli_events:window"):
            return [(i, 1e8) for _, i in ids]
        if PART_LABEL in expr:
            windows = re.findall(f'"{PART_LABEL}", "([^"]+)"', expr)
            return [({**i, PART_LABEL: w}, 1e6) for _, i in ids for w in windows]
        return []

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        found = re.search(r'service="([^"]+)",slo="([^"]+)"', expr)
        labels = {"service": found.group(1), "slo": found.group(2)} if found else {}
        times = [start + k * step for k in range(int((end - start) // step) + 1)]
        return [(labels, [(t, 0.5) for t in times])]

    async def samples(
        self, expr: str, at: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        return []  # the console's pages read no raw samples (reports do)


def agent(directory: Path, slos: int) -> tuple[Assembly, Fleet]:
    """The agent over `slos` bench SLOs, answered by a `Fleet`."""
    write_definitions(directory, slos)
    ids = [{"service": s.service, "slo": slo.name} for s in load([directory]).services
           for slo in s.slos]  # fmt: skip
    settings = Settings(paths=(directory,), prometheus=PrometheusSettings("http://127.0.0.1:9"))
    fleet = Fleet(ids)
    return assemble(settings, source=fleet), fleet


def server_side(assembly: Assembly, repeat: int) -> None:
    evaluations, services = assembly.agent.current(), assembly.agent.services
    render_overview(evaluations, services, Overview())  # templates compiled, caches warm
    rendered = []
    for _ in range(repeat):
        started = time.perf_counter()
        render_overview(evaluations, services, Overview())
        rendered.append(time.perf_counter() - started)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=assembly.app()), base_url="http://a")

    async def requests(path: str) -> list[float]:
        taken = []
        for _ in range(repeat):
            started = time.perf_counter()
            answer = await http.get(path)
            taken.append(time.perf_counter() - started)
            assert answer.status_code == 200
        return taken

    served, listed = asyncio.run(requests("/")), asyncio.run(requests("/v1/slos"))
    print(f"overview of {len(evaluations)} SLOs, first page of 100 rows:")
    print(f"  render_overview  median {ms(rendered)} ms, worst {max(rendered) * 1000:.1f} ms")
    print(f"  GET / in-process median {ms(served)} ms, worst {max(served) * 1000:.1f} ms")
    print(
        f"  GET /v1/slos (every SLO as JSON) in-process median {ms(listed)} ms, "
        f"worst {max(listed) * 1000:.1f} ms"
    )


@contextlib.contextmanager
def serving(assembly: Assembly) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(assembly.app(), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    while not server.started:
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def in_the_browser(url: str, repeat: int) -> None:
    loaded, complete, size = [], [], 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=[f for f in FLAGS if f != "--headless"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for _ in range(repeat):
            page.goto(url, wait_until="load")
            timing = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.domContentLoadedEventEnd, n.loadEventEnd, n.transferSize]; }"
            )
            loaded.append(timing[0] / 1000)
            complete.append(timing[1] / 1000)
            size = timing[2]
        browser.close()
    print(f"overview in Chromium ({size / 1024:.0f} KiB over HTTP):")
    print(f"  DOMContentLoaded median {ms(loaded)} ms, worst {max(loaded) * 1000:.0f} ms")
    print(f"  load             median {ms(complete)} ms")


def memory(assembly: Assembly, url: str, requests: int) -> None:
    services = [(s.service, slo.name) for s in assembly.agent.services for slo in s.slos]
    paths = ["", "?status=critical", "?q=service-0042", "?page=5", "gate", "actions",
             "v1/gate/decisions?limit=1000", "v1/actions", "v1/slos"]  # fmt: skip
    with httpx.Client(base_url=url, timeout=30) as http:
        for n, (service, _) in enumerate(services[:200]):  # the journal full
            canary = {"rollouts_pod_template_hash": f"h{n}"}
            http.post("v1/analysis", json={"service": service, "canary": canary})
        kept = len(http.get("v1/gate/decisions?limit=1000").json())
        gc.collect()
        before = rss_mb(os.getpid())
        for n in range(requests):
            if n % 3 == 0:
                service, slo = services[(n * 37) % len(services)]
                path = f"slos/{service}/{slo}" + ("?range=1d" if n % 2 else "")
            else:
                path = paths[n % len(paths)]
            assert http.get(path).status_code == 200, path
        gc.collect()
        after = rss_mb(os.getpid())
    print(f"memory over {requests} console requests ({kept} gate decisions kept):")
    print(f"  RSS {before:.0f} MB -> {after:.0f} MB: grew {after - before:.1f} MB")


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-console-") as tmp:
        assembly, fleet = agent(Path(tmp), args.slos)
        cycles = []
        for _ in range(3):
            asked, started = fleet.asked, time.perf_counter()
            asyncio.run(assembly.agent.cycle())
            cycles.append(time.perf_counter() - started)
        print(
            f"one evaluation cycle of {args.slos} SLOs on the rules path (answers from memory: "
            f"the agent's own cost): median {statistics.median(cycles):.2f} s, "
            f"{fleet.asked - asked} queries; RSS {rss_mb(os.getpid()):.0f} MB"
        )
        server_side(assembly, args.repeat)
        with serving(assembly) as url:
            in_the_browser(url, min(args.repeat, 10))
            memory(assembly, url, args.requests)


if __name__ == "__main__":
    main()
