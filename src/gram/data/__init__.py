"""Training and evaluation data from records: `gram data pairs`'s pipeline (`pipeline`), pairs from
response sets (`pairs`), the reference's cleaning filters and deduplication (`cleaning`), length
balancing (`balance`), splits by prompt (`splits`), prompt overlap between two sets (`overlap`), and
descriptive counts (`stats`)."""
