"""The replication's plans, one module each: constants and a stage list, nothing that runs."""
