"""A real Alertmanager (Debian's `prometheus-alertmanager`) for tests, routing every alert to a
webhook receiver the test reads: own ports on 127.0.0.1, own storage, always stopped."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloguard.demo.prometheus import free_port
from tests.support.repo import REPO


@dataclass
class Alertmanager:
    url: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # webhook payloads

    def delivered(self, timeout: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
        """The alerts delivered to the webhook, once at least `count` arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alerts = [a for d in list(self.deliveries) for a in d["alerts"]]
            if len(alerts) >= count:
                return alerts
            time.sleep(0.05)
        raise AssertionError(f"{count} alert(s) not delivered within {timeout}s: {self.deliveries}")


def hook_only(inhibit_rules: list[dict[str, Any]] | None = None) -> Callable[[str], Any]:
    """A configuration that sends every alert to the webhook, at once."""

    def config(hook: str) -> dict[str, Any]:
        return {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname", "action_id"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "hook", "webhook_configs": [{"url": hook}]}],
            "inhibit_rules": inhibit_rules or [],
        }

    return config


@contextlib.contextmanager
def running_alertmanager(
    directory: Path, config: Callable[[str], Any] | None = None
) -> Iterator[Alertmanager]:
    """Alertmanager with `config(webhook URL)` (default: everything to the webhook at once);
    each delivery's payload names its receiver."""
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is missing: apt-get install prometheus-alertmanager")
    manager = Alertmanager(url="")

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            manager.deliveries.append(
                json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return None

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{hook.server_address[1]}/alert"
    config_file = directory / "alertmanager.yml"
    config_file.write_text(json.dumps((config or hook_only())(hook_url)))
    port = free_port()
    manager.url = f"http://127.0.0.1:{port}"
    log = (directory / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={directory / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip: no 10 s hold on the first notification
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{manager.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"Alertmanager did not start: {(directory / 'alertmanager.log').read_text()}"
                )
            time.sleep(0.05)
        yield manager
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        hook.shutdown()
        hook.server_close()


def amtool_render(data: Path, template: str, kind: str = "text") -> str:
    """A template of alertmanager/sloguard.tmpl rendered by amtool from `data` (a webhook's
    payload: Alertmanager's template data); `kind` html escapes as email does."""
    binary = shutil.which("amtool")
    assert binary, "amtool not found: apt-get install prometheus-alertmanager"
    rendered = subprocess.run(
        [
            binary,
            "template",
            "render",
            f"--template.glob={REPO / 'alertmanager' / 'sloguard.tmpl'}",
            f"--template.data={data}",
            f"--template.type={kind}",
            f'--template.text={{{{ template "{template}" . }}}}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout
