"""Structured logs: one JSON object per line on stderr, extra fields included."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Fields every record has, and uvicorn's ANSI-coloured copy of its message.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure(level: str = "info") -> None:
    """Send every log record to stderr as JSON (the composition root calls this once)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per Prometheus query is noise at info; failures are logged by the agent.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
