"""Where every SLO stands at a moment: budgets, burn rates and a status, from numbers (pure)."""
