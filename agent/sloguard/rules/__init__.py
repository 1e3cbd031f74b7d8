"""Spec to Prometheus rules (pure): recording and multi-window, multi-burn-rate alert rules."""
