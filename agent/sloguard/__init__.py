"""sloguard: SLOs as code, burn-rate alerting, promotion gates and safe rollbacks."""

__version__ = "0.1.0"
