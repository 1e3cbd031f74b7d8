"""SLO and delivery reports over a period, from numbers (pure): what each service promised,
what it delivered, what changed and what sloguard did."""
