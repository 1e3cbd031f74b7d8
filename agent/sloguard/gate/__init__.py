"""The promotion gate: verdicts on a canary from its SLOs (pure; the shell is `gating`)."""
