"""Trace SLIs from spans: which received spans a definition counts, and whether each is good or
bad. Pure: spans in (as plain values), counts out; the OTLP receiver (`server/otlp.py`) decodes
and keeps the counters."""
