"""`sloguard run` as a process against callers that misbehave and signals: connections that
trickle are closed, connections past the cap are refused, SIGHUP reloads the definitions, and
SIGTERM stops the agent in bounded time whatever a caller is doing."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.canaries import running_agent
from tests.support.realprom import free_port
from tests.support.repo import FIXTURES
from tests.support.running import wait_for

pytestmark = pytest.mark.integration  # starts real processes or servers

SHOP = (FIXTURES / "native" / "shop.yaml").read_text()


@contextlib.contextmanager
def sockets(port: int, count: int, sent: bytes) -> Iterator[list[socket.socket]]:
    """`count` connections to the agent, each having sent `sent` and nothing more."""
    opened = []
    try:
        for _ in range(count):
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connection.sendall(sent)
            opened.append(connection)
        yield opened
    finally:
        for connection in opened:
            connection.close()


def closed_by_peer(connection: socket.socket) -> bool:
    """Whether the agent closed this connection (anything it sent before is skipped)."""
    try:
        while data := connection.recv(65536):
            del data
    except (ConnectionResetError, TimeoutError):
        return False
    return True


def test_requests_that_never_arrive_whole_are_closed_and_past_the_cap_refused(
    tmp_path: Path,
) -> None:
    definitions = tmp_path / "shop.yaml"
    definitions.write_text(SHOP)
    port = free_port()
    flags = ("--request-timeout=1", "--max-connections=40", "--interval=3600")
    with running_agent(definitions, "http://127.0.0.1:9", "t", *flags, port=port) as (url, _):
        partial = b"GET /healthz HTTP/1.1\r\nHost: agent\r\nX-Slow: "
        trickled = b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Length: 8000000\r\n\r\nx"
        with sockets(port, 20, partial) as headers, sockets(port, 10, trickled) as bodies:
            started = time.monotonic()
            assert all(closed_by_peer(c) for c in headers + bodies)
            assert time.monotonic() - started < 10  # closed at the deadline, not at our end
        with sockets(port, 40, partial):
            with sockets(port, 5, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n") as over:
                answers = [c.recv(4096) for c in over]
            assert all(a.startswith(b"HTTP/1.1 503") for a in answers)
            assert all(b"open connections" in a for a in answers)
        wait_for(lambda: httpx.get(f"{url}/healthz").status_code == 200, "healthz again")


def test_sighup_reloads_the_definitions_and_the_agent_lives_on(tmp_path: Path) -> None:
    directory = tmp_path / "defs"
    directory.mkdir()
    (directory / "shop.yaml").write_text(SHOP)
    with running_agent(directory, "http://127.0.0.1:9", "t", "--interval=3600") as (url, agent):

        def slos() -> str:
            lines = httpx.get(f"{url}/metrics").text.splitlines()
            return next(line for line in lines if line.startswith("sloguard_slos "))

        before = slos()
        second = SHOP.replace("service: shop", "service: cart")
        (directory / "cart.yaml").write_text(second)
        agent.send_signal(signal.SIGHUP)
        wait_for(lambda: slos() != before, "the reload")
        assert agent.poll() is None
        assert float(slos().split()[1]) == 2 * float(before.split()[1])


def test_sigterm_stops_the_agent_in_bounded_time_while_a_caller_trickles(
    tmp_path: Path,
) -> None:
    definitions = tmp_path / "shop.yaml"
    definitions.write_text(SHOP)
    port = free_port()
    flags = ("--request-timeout=600", "--interval=3600")
    trickle = b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Length: 99\r\n\r\nx"
    agent_run = running_agent(
        definitions, "http://127.0.0.1:9", "t", *flags, port=port, stderr=subprocess.PIPE
    )
    with agent_run as (_, agent), sockets(port, 3, trickle):
        started = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=28)  # under Kubernetes' 30 s grace period
        assert time.monotonic() - started < 28
    assert agent.returncode in (0, -signal.SIGTERM)
    lines = stderr.decode().splitlines()
    messages = [json.loads(line)["message"] for line in lines if line.startswith("{")]
    assert any("timeout graceful shutdown exceeded" in m for m in messages), messages
