"""Adapters that fetch numbers from the outside world (I/O)."""
