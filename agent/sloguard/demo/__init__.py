"""The local demo: a throwaway Prometheus, a synthetic service and the agent, on one machine."""
