"""Evaluation: the benchmark registry (`registry`), response-set benchmarks (`sets`), metrics
(`metrics`), the official leaderboard summaries (`official`), results files, plots and comparison tables
(`reports`), and the held-out check at the end of training (`heldout`). The scoring itself runs on
gram.jobs."""
