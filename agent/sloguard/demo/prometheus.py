"""A throwaway Prometheus on 127.0.0.1: own port, own data directory, always stopped.

The binary is `PROMETHEUS_BIN` or `prometheus` on PATH (Debian's package; `make setup`
installs it).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from sloguard import yamltext
from sloguard.errors import ToolError
from sloguard.loading import Loaded
from sloguard.rules.output import RuleFormat, render_rule_files
from sloguard.sources.http import answers_ok


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_rules(directory: Path, loaded: Loaded, interval: str | None = None) -> list[Path]:
    """The generated rule files in `directory`, every group evaluated each `interval` when
    given (so minutes of data tell what hours would), else at their generated intervals."""
    files = []
    for name, text in render_rule_files(
        loaded.services, loaded.sources, RuleFormat.PROMETHEUS
    ).items():
        if interval is not None:
            document = yaml.safe_load(text)
            for group in document["groups"]:
                group["interval"] = interval
            text = yamltext.dump(document)
        (directory / name).write_text(text, encoding="utf-8")
        files.append(directory / name)
    return files


def binary(env: Mapping[str, str]) -> str:
    """The Prometheus server to run; ToolError naming how to get one when there is none."""
    found = env.get("PROMETHEUS_BIN") or shutil.which("prometheus")
    if not found:
        raise ToolError(
            "no Prometheus server: set PROMETHEUS_BIN, or install Debian's package "
            "(make setup, or apt-get install prometheus)"
        )
    return found


@contextlib.contextmanager
def local_prometheus(
    directory: Path,
    scrape_targets: Mapping[str, str],
    rule_files: list[Path],
    *,
    env: Mapping[str, str],
    extra_args: tuple[str, ...] = (),
    port: int | None = None,
    honor_labels: bool = False,
    scrape_interval: str = "1s",
    alertmanager: str | None = None,
    external_labels: Mapping[str, str] | None = None,
    remote_write: str | None = None,
    ready_seconds: float = 30,
) -> Iterator[str]:
    """Run Prometheus scraping `job -> host:port` and evaluating `rule_files` (sending alerts
    to the `alertmanager` host:port when given, and every sample to the `remote_write` URL
    within a second, with its `external_labels`); yields its URL once ready (ToolError after
    `ready_seconds`: loading 10,000 SLOs' rules takes about half a minute). Its data lives in
    `directory/tsdb` (backfilled blocks go there first)."""
    port = port or free_port()
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
            **({"external_labels": dict(external_labels)} if external_labels else {}),
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "honor_labels": honor_labels,
                "static_configs": [{"targets": [target]}],
            }
            for job, target in scrape_targets.items()
        ]
        + [{"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
    }
    if remote_write is not None:
        queue = {"batch_send_deadline": "1s"}
        config["remote_write"] = [{"url": remote_write, "queue_config": queue}]
    if alertmanager is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    config_file = directory / "prometheus.yml"
    config_file.write_text(yamltext.dump(config), encoding="utf-8")
    log = directory / "prometheus.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                binary(env),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={directory / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                *extra_args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + ready_seconds
        while True:
            if answers_ok(f"{url}/-/ready"):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise ToolError(f"Prometheus did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server, killed if it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
