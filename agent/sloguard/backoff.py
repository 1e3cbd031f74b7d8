"""How long to wait before trying again after a transient failure (pure): the same schedule for
every client that retries (Prometheus, Grafana)."""

from __future__ import annotations


def retry_delay(base_seconds: float, failed_attempts: int) -> float:
    """Seconds to wait after `failed_attempts` (1, 2, ...) have failed: `base_seconds`, doubling
    each time."""
    return base_seconds * 2.0 ** (failed_attempts - 1)
