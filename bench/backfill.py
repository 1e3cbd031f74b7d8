"""Samples written as OpenMetrics turned into Prometheus TSDB blocks with promtool, for the
benchmarks that serve a history from a real Prometheus."""

from __future__ import annotations

import subprocess
from pathlib import Path


def backfill(openmetrics: Path, tsdb: Path, block_hours: int = 1000) -> None:
    """Blocks of up to `block_hours` in `tsdb` from the file; exits naming promtool's error."""
    done = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics",
         f"--max-block-duration={block_hours}h", str(openmetrics), str(tsdb)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"promtool could not backfill: {done.stderr[-2000:]}")
