"""Grafana dashboards from SLO definitions, built with grafanalib (pure: values in, JSON out)."""
