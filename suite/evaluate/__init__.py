"""Layer 7: evaluating models that already exist — published test sets, scoring saved runs, external models."""
