"""sloguard's own traces: OpenTelemetry over OTLP/HTTP, off unless an endpoint is configured.

The composition root builds the provider once and injects its `Tracer`; nothing here touches
the global provider (it can be set only once per process). The standard variables apply:
OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT turns tracing on, OTEL_SDK_DISABLED=true or
OTEL_TRACES_EXPORTER=none keep it off, OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name the
process, and the exporter reads OTEL_EXPORTER_OTLP_HEADERS, _COMPRESSION, _TIMEOUT itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NoOpTracer, Span, SpanKind, Status, StatusCode, Tracer

from sloguard import __version__
from sloguard.errors import SourceError


@dataclass(frozen=True)
class Tracing:
    """The tracer to inject, and the provider to flush and shut down at exit (None when off)."""

    tracer: Tracer
    provider: TracerProvider | None

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.force_flush()
            self.provider.shutdown()


def from_environment(env: Mapping[str, str]) -> Tracing:
    """Tracing as the OTEL_* variables in `env` configure it."""
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not endpoint and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        # The signal-less endpoint is a base URL: the spec appends the signal's path.
        endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    disabled = env.get("OTEL_SDK_DISABLED", "").lower() == "true"
    if not endpoint or disabled or env.get("OTEL_TRACES_EXPORTER", "").lower() == "none":
        return Tracing(NoOpTracer(), None)
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME", "sloguard")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider.get_tracer("sloguard", __version__), provider)


@contextlib.contextmanager
def query_span(tracer: Tracer, name: str, expr: str) -> Iterator[Span]:
    """A client span around one Prometheus query; a SourceError marks it failed (kind and
    reason) and goes on."""
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, record_exception=False) as span:
        span.set_attributes({"db.system": "prometheus", "db.statement": expr})
        try:
            yield span
        except SourceError as exc:
            span.set_attributes({"error.type": exc.kind, "sloguard.error": exc.reason})
            span.set_status(Status(StatusCode.ERROR, exc.reason))
            raise
