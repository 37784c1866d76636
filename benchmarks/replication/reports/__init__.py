"""The replication's reports, one module a run (docs/results/<scale>.md, generated whole), and the
statistics and tables they share (common.py)."""
