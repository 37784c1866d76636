"""The scaled replication (issue 18): `python benchmarks/replicate.py --scale scaled`.

The small run stays as it is, a row for comparison. This plan differs where the small run could not tell
content from length:
- stage 2 on RMB pairwise without Summarization plus the AlpacaEval GPT-4 annotations, judge prompt
  <= 768 tokens, length-balanced (`gram.data.balance`: "chosen is the longer" a coin flip within buckets of
  relative length difference), each pair in a seeded random order (so one presentation order per pair
  carries no position signal), nested training sets (the first 250 / 1,000 / 2,000 pairs);
- a dev split drawn by prompt from the same sources (length-balanced too): every model's learning rate,
  epochs and label smoothing are chosen on it, never on an evaluation set;
- stage 1 on 4,000 unlabeled pairs; more out-of-distribution pairs, so that intervals resolve ~0.03;
- the blind set scored by every final model (the "blind" stages).

Tuning (same budget for every family: four training runs of two epochs, each scored on the dev split
after each epoch, so eight dev evaluations): learning rates 2e-5, 1e-4 and 4e-4 on the sweep subset
(the first SWEEP_PAIRS training pairs, one order per pair, the lower 15 of 30 blocks frozen); the
fourth run is eps 0.3 at the best (lr, epochs) for the generative families and, for BT (which has no
eps), one more learning rate beyond the best one. "Epochs" is read off the run's checkpoint after epoch
1 (mid-schedule) and its end. The criterion is length-controlled dev accuracy (mean of the accuracy on
pairs whose chosen response is the longer and on those where it is the shorter), then plain accuracy,
then the earlier run (benchmarks/replication/sweep.py).
"""

from ..stages import Family, Task

TITLE = "The scaled run: GRAM at 135M parameters, 2,000 length-balanced pairs, tuned on a dev split"
RUN_DIR = "replicate-scaled"  # under runs/, and its archive under benchmarks/results/
SEED = 0
SIZES = {
    "stage1_pairs": 4000, "train_sizes": (250, 1000, 2000), "dev": 200, "id_test": 200, "sweep_pairs": 400,
    "eval_per_set": 300, "pandalm": 150, "judgebench": 60, "hh_test": 300, "hh_dev": 100, "hh_pool": 400, "adapt_n": (50, 200),
    "summ_test": 60, "summ_adapt_n": (40, 80),
}
LIMITS = {"stage1_tokens": 384, "stage2_tokens": 768, "eval_tokens": 768, "judgebench_tokens": 1024,
          "hh_tokens": 512, "summ_tokens": 1024, "blind_tokens": 1024}
OOD_SETS = ["judgebench", "llmbar-natural", "llmbar-adversarial", "hhh", "pandalm", "mt-bench"]
SETS = ["id-test", *OOD_SETS]  # what every final model is evaluated on; id-test is in distribution
LABELED = "balanced"  # stage 2's pairs: RMB + AlpacaEval annotations, length-balanced (data.py: labeled_balanced)
STAGE1_PER_PROMPT = 32
EVAL_ARGS = ["--template", "gram"]  # the prompt gram trains on, the zero-shot model too: like with like
FREEZE = ["--freeze-layers", "15"]
BATCH = ["--batch-size", "4", "--grad-accum", "4"]  # 16 pairs per optimizer step
SWEEP_LRS = ("2e-5", "1e-4", "4e-4")
SWEEP_EPOCHS = 2
TRIALS = range(len(SWEEP_LRS) + 1)
FAMILIES = ("stage2-only", "bt", "gram")  # gram: stage 2 on the stage-1 model
FAMILY = {
    "stage2-only": Family("finetune", "smollm2-135m", "train", "dev", SIZES["sweep_pairs"], "stage2_tokens", True),
    "bt": Family("train-bt", "smollm2-135m", "train", "dev", SIZES["sweep_pairs"], "stage2_tokens", False),
    "gram": Family("finetune", "stage1", "train", "dev", SIZES["sweep_pairs"], "stage2_tokens", True),
    # adaptation (claim 4): tuned on HH-RLHF's dev split with the largest n; RMB Summarization has too few
    # pairs for a dev split of its own (99 in its pool) and uses the same choice.
    "adapt-gram": Family("adapt", "gram", "hh_pool", "hh-dev", SIZES["adapt_n"][-1], "hh_tokens", True),
    "adapt-bt": Family("train-bt", "bt", "hh_pool", "hh-dev", SIZES["adapt_n"][-1], "hh_tokens", False),
}
# The models of the tables: name -> (family whose tuned settings it uses, what differs, the pairs it trains on)
FINALS = {
    "gram": ("gram", [], 2000),
    "gram-eps0": ("gram", ["--label-smoothing", "0"], 2000),
    "stage2-only": ("stage2-only", [], 2000),
    "bt": ("bt", [], 2000),
    **{f"{family}-{n}": (family, [], n) for family in FAMILIES for n in SIZES["train_sizes"][:-1]},
}
BLIND = ["gram", "gram-eps0", "stage2-only", "bt", "zero-shot", *(f"gram-{n}" for n in SIZES["train_sizes"][:-1])]
TASKS = {
    "hh": Task("HH-RLHF harmlessness", "hh_pool", "hh-test", "adapt_n", "hh_tokens", "eval",
               "scaled_adaptation_hh-test.png", "hh-"),
    "summ": Task("RMB Summarization", "summ_pool", "summ-test", "summ_adapt_n", "summ_tokens", "eval",
                 "scaled_adaptation_summ-test.png", "summ-"),
}


def final(name: str) -> list[tuple]:
    """A final model's stages: trained with its family's choice, evaluated, and (BLIND) scoring the blind set."""
    return [("final", name), ("eval", name), *([("blind", name)] if name in BLIND else [])]


# In the order they run. What needs no model comes first; the stage-1 chain (stage 1 -> the GRAM sweep ->
# the GRAM models) next, so that a fresh machine retrains it once for everything that reads it.
STAGES = [
    ("data",),
    *(("sweep", "stage2-only", i) for i in TRIALS),
    ("check", "check-random-batches"), ("check", "check-no-freezing"),
    *(("sweep", "bt", i) for i in TRIALS),
    ("pretrain",),
    *(("sweep", "gram", i) for i in TRIALS),
    *(stage for name in ("gram", "gram-eps0", "stage2-only", "bt") for stage in final(name)),
    ("eval", "zero-shot"), ("blind", "zero-shot"), ("check", "check-both-orders"),
    *(stage for n in SIZES["train_sizes"][:-1] for family in FAMILIES for stage in final(f"{family}-{n}")),
    *(("sweep", f"adapt-{kind}", i) for kind in ("gram", "bt") for i in TRIALS),
    *(("tuned-adapt", task) for task in TASKS),
]

ABOUT = """\
What differs from the small run (docs/results/small.md; the plan is benchmarks/replication/plans/scaled.py):
- Stage 2 reads RMB pairwise (without Summarization) and the AlpacaEval GPT-4 annotations, judge prompt
  <= 768 tokens, **length-balanced** (`gram data pairs --balance-length`'s sampler: "chosen is the longer" a
  coin flip within buckets of relative length difference), each pair in a seeded random order.
- **Nothing is tuned on an evaluation set.** A dev split (by prompt, same sources, length-balanced) picks
  each family's learning rate (2e-5, 1e-4, 4e-4), epochs (1 or 2) and label smoothing (0.1 or 0.3); BT,
  which has no eps, spends its fourth run on one more learning rate. Same budget for every family: four
  training runs, eight dev evaluations.
- The lower 15 of 30 blocks are frozen (1.7x faster steps in docs/BENCHMARKS.md's benchmark, 1.5x on a
  whole sweep run here); what that costs on dev is measured (the sweep table's "no block frozen" row).
- Stage 2 trains one random order per pair; whether both orders (twice the compute) buy dev accuracy or
  order agreement is measured on GRAM's chosen setting (the sweep table's "both orders" row), and so is
  grouping micro-batches by length against random batches (the "random batches" row).
- Every final model scores the blind set (`../shared/blind/pairs.jsonl`); the scores are archived in
  benchmarks/results/replicate-scaled/blind/<model>/scores.jsonl, and nothing is read from them here.

Compute, measured here (2 cores, fp32): a sweep run (400 pairs, one order, 2 epochs = 50 steps of 16
pairs, ~8,300 tokens a step) trains in 16 min with micro-batches grouped by length (~430 tokens/s) against
23 min with random batches (~320 tokens/s: 23% of the tokens were padding); scoring the 204 dev pairs in
both orders takes 3 min. The whole plan took 18.9 hours of this machine over several sessions (stage 1's
64 min include two restarts, steps 201-208 run twice after stops between checkpoints); the data is rebuilt
from ../shared/data on every machine and checked byte for byte against the archive before the archived
stages are restored.\
"""
