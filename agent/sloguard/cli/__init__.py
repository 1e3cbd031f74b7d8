"""The `sloguard` command: the composition root that turns flags and SLOGUARD_* variables into
calls on the pure core and the shells (files, promtool, Prometheus, the cluster). Each module
adds its commands to `main`."""

from sloguard.cli import (  # noqa: F401 (commands)
    authoring,
    cluster,
    demo,
    judging,
    oncall,
    reports,
    running,
)
from sloguard.cli.common import environment_by_rule, main

environment_by_rule(main)

__all__ = ["main"]
