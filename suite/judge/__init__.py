"""Layer 6: judging records — the TaskReport interface, statistics and power, claims and their parts, pre-registration,
tables, plots, the report and the claims file. Never trains."""
