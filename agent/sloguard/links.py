"""Stable identities that tie rules, alerts and dashboards together (pure)."""

from __future__ import annotations

import hashlib

GRAFANA_UID_MAX = 40
# The Grafana tag of sloguard's dashboards and of the deploy markers the agent posts.
GRAFANA_TAG = "sloguard"
# Service dashboards are `slo-<service>`, so no service can take the overview's uid.
OVERVIEW_UID = "sloguard-overview"


def dashboard_uid(service: str) -> str:
    """Grafana uid of a service's dashboard: readable, stable, within Grafana's 40 characters."""
    uid = f"slo-{service}"
    if len(uid) <= GRAFANA_UID_MAX:
        return uid
    digest = hashlib.sha256(service.encode()).hexdigest()[:8]
    return f"{uid[: GRAFANA_UID_MAX - 9]}-{digest}"


def dashboard_url(service: str, slo: str, grafana_url: str = "") -> str:
    """Link to one SLO on its service dashboard; relative when no Grafana URL is configured."""
    return f"{grafana_url.rstrip('/')}/d/{dashboard_uid(service)}?var-slo={slo}"
