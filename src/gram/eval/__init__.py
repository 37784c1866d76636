"""Evaluation: the benchmark registry (`benchmarks`), the one resumable, sharded scoring runner that
`gram score` and `gram eval` share (`runner`, over `partial` outputs and `sharding`), metrics
(`metrics`), the official leaderboard summaries (`official`), results files, plots and comparison
tables (`reports`), and the held-out check at the end of training (`heldout`)."""
