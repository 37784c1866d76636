"""GRAM's claims replicated on the embedded backbone (SmolLM2-135M, CPU), stage by stage: the entry point of
benchmarks/replication/ (the plans are benchmarks/replication/plans/small.py and scaled.py).

    python benchmarks/replicate.py                  # run every stage not yet done, in order (resumable)
    python benchmarks/replicate.py --list           # the stages, done or not, with their wall times
    python benchmarks/replicate.py --only gram      # one stage (or several: --only bt --only eval-bt)
    python benchmarks/replicate.py --report         # docs/results/small.md and its plots from what has run
    python benchmarks/replicate.py --archive        # (again) keep finished stages' results for a later session
    python benchmarks/replicate.py --scale scaled   # issue 18's scaled, tuned run; same flags

Claims tested (Wang et al., ICML 2025): (1) pre-training on unlabeled response pairs (stage 1) helps a
generative reward model generalise out of distribution, against the same model trained on labels alone;
(2) label smoothing (eps 0.1) helps against eps = 0 (plain Bradley-Terry over the two label tokens);
(3) GRAM generalises better than a discriminative Bradley-Terry reward model trained on the same pairs;
(4) GRAM adapts to a new task (HH-RLHF harmlessness; RMB's Summarization group, which stage 2 leaves out)
with few labels better than that BT model. What was found: docs/RESULTS.md.
"""

import sys

from replication.cli import main

if __name__ == "__main__":
    sys.exit(main())
