"""gram inside other RL frameworks' loops: `verl` (a `compute_score` for verl's reward loop)."""
