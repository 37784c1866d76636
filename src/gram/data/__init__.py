"""Training and evaluation data from records: pairs from response sets (`pairs`), the reference's
cleaning filters and deduplication (`cleaning`), splits by prompt (`splits`), prompt overlap between
two sets (`overlap`), and descriptive counts (`stats`)."""
