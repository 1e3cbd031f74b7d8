"""The agent as `sloguard run` builds it (the composition root), over a source the test
chooses instead of a Prometheus client, and its API in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from sloguard.assembly import Assembly, Settings, assemble
from sloguard.sources.prometheus import PrometheusSettings

UNUSED = PrometheusSettings(url="http://127.0.0.1:9")  # never asked: the source stands in


def assembled(
    paths: Path | tuple[Path, ...],
    source: Any = None,
    clock: Callable[[], float] | None = None,
    **settings: Any,
) -> Assembly:
    """The agent over `source` (a Prometheus client from `settings` when None)."""
    wanted = Settings(
        paths=paths if isinstance(paths, tuple) else (paths,),
        prometheus=settings.pop("prometheus", UNUSED),
        **settings,
    )
    return assemble(wanted, source=source, **({"clock": clock} if clock else {}))


def api(assembly: Assembly) -> httpx.AsyncClient:
    """A client of the assembly's HTTP API, in-process; a crash answers as it would live."""
    transport = httpx.ASGITransport(app=assembly.app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://agent")
