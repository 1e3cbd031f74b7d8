"""sloguard's own telemetry: metrics on an injected registry, structured logs."""
