"""The HTTP app: routes and payloads only."""
