"""The small run: GRAM's claims on the embedded backbone (SmolLM2-135M, CPU), 320 labeled pairs, nothing tuned.

Data (seed 0 everywhere; nothing from an evaluation set or the adaptation test set is trained on: their
prompts are removed from every training source before sampling):
- stage 1: unlabeled pairs from AlpacaEval outputs (18 models), Arena-Hard v0.1 answers and AlpacaFarm
  outputs, at most 8 pairs per prompt, stage-1 sequence <= 384 tokens;
- stage 2: RMB pairwise without its Summarization group, judge prompt <= 384 tokens, split by prompt into
  a held-out test side (in-distribution check) and the training pairs;
- out-of-distribution evaluation: JudgeBench (GPT-4o responses; every pair is 1.4k-2.2k tokens, so the
  judges read it cut to 1,024 with the middles of the responses dropped), LLMBar Natural and Adversarial,
  HHH alignment, PandaLM (ties apart), MT-Bench human judgements: pairs whose judge prompt is <= 768 tokens,
  then a seeded sample;
- adaptation: HH-RLHF harmless-base test, judge prompt <= 512 tokens, split by prompt into a test side and
  a pool; n task pairs = the first n of the shuffled pool (nested sets). The same for RMB's Summarization
  group at judge prompt <= 1,024 tokens (only 159 of its 530 pairs, on 44 prompts, are that short).
"""

from ..stages import Task, Trained

TITLE = "The small run: GRAM at 135M parameters, 320 labeled pairs, nothing tuned"
RUN_DIR = "replicate"  # under runs/, and its archive under benchmarks/results/
SEED = 0
SIZES = {
    "stage1_pairs": 800, "stage2_pairs": 320, "rmb_test": 60, "eval_per_set": 50, "judgebench": 40,
    "hh_test": 120, "hh_pool": 200, "adapt_n": (50, 200), "summ_test": 60, "summ_adapt_n": (40, 80),
}
LIMITS = {"stage1_tokens": 384, "stage2_tokens": 384, "eval_tokens": 768, "judgebench_tokens": 1024,
          "hh_tokens": 512, "summ_tokens": 1024}
OOD_SETS = ["judgebench", "llmbar-natural", "llmbar-adversarial", "hhh", "pandalm", "mt-bench"]
SETS = ["rmb-test", *OOD_SETS]  # what every model is evaluated on; rmb-test is in distribution
LABELED = "rmb"  # stage 2's pairs: RMB pairwise without Summarization (replication/data.py: labeled_rmb)
STAGE1_PER_PROMPT = 8
EVAL_ARGS: list[str] = []  # each model reads its own training prompt

# Shared by every stage-2 style run so that the models differ only where the claim says they do.
TRAIN = ["--batch-size", "4", "--grad-accum", "4", "--learning-rate", "5e-5", "--epochs", "1",
         "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42", "--logging-steps", "2",
         "--save-steps", "10", "--save-total-limit", "1"]
ADAPT = ["--batch-size", "4", "--grad-accum", "4", "--learning-rate", "2e-5", "--epochs", "1",
         "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42", "--logging-steps", "2",
         "--save-steps", "10", "--save-total-limit", "1"]
TRAINED = {
    "stage1": Trained("pretrain", "stage1", "stage1_tokens"),
    "gram": Trained("finetune", "stage2_train", "stage2_tokens", base="stage1", eps="0.1"),
    "bt": Trained("train-bt", "stage2_train", "stage2_tokens"),
    "gram-eps0": Trained("finetune", "stage2_train", "stage2_tokens", base="stage1", eps="0"),
    "stage2-only": Trained("finetune", "stage2_train", "stage2_tokens", base="smollm2-135m", eps="0.1"),
}
ADAPTED = {"gram": ("adapt", "0.1"), "bt": ("train-bt", None)}  # adapting model -> (command, label smoothing)
TASKS = {  # HH-RLHF's adapted models were named before there was a second task: adapt-gram-50
    "hh": Task("HH-RLHF harmlessness", "hh_pool", "hh-test", "adapt_n", "hh_tokens", "adapt-eval", "adaptation.png"),
    "summ": Task("RMB Summarization", "summ_pool", "summ-test", "summ_adapt_n", "summ_tokens", "summ-eval",
                 "adaptation_summ.png", "summ-"),
}

# In the order they run: what needs stage 1 (the longest stage) first and what needs only the backbone
# (stage 2 only, zero-shot) last, so that a session cut short loses the stages cheapest to run again.
STAGES = [
    ("data",), ("train", "stage1"), ("train", "gram"), ("train", "bt"), ("eval", "gram"), ("eval", "bt"),
    ("train", "gram-eps0"), ("eval", "gram-eps0"), ("adapt", "hh"),
    ("train", "stage2-only"), ("eval", "stage2-only"), ("eval", "zero-shot"),
    ("adapt", "summ"),  # added after the rest had run; needs stage 1 and GRAM again
]

ABOUT = """\
GRAM (Wang et al., ICML 2025) claims that a generative reward model (1) generalises better out of
distribution when it is first pre-trained on unlabeled response pairs (stage 1) than when trained on the
labels alone, (2) gains from label smoothing (eps = 0.1 against eps = 0, where the loss reduces to plain
Bradley-Terry over the two label tokens), (3) generalises better than a discriminative Bradley-Terry
reward model trained on the same labeled pairs, and (4) adapts to a new task with few labels better than
that model (here: HH-RLHF harmlessness, and RMB's Summarization group, which stage 2 leaves out). The paper
shows this with 2B to 8B backbones and hundreds of thousands of pairs; this run scales it to what a 2-core
CPU does in about one 3-hour session: SmolLM2-135M-Instruct, 800 unlabeled pairs, 320 labeled pairs,
evaluation on 40 to 60 pairs per set. At this scale a difference under about 0.1 on one set, or 0.06
pooled, is within noise (the tables give bootstrap intervals).

Each stage is one `gram` command (`pretrain`, `finetune`, `train-bt`, `adapt`, `eval`); the plan is
benchmarks/replication/plans/small.py. Shared settings: max length 384 (stage 1 and 2; 512 for HH-RLHF
adaptation, 1,024 for Summarization), batch 4 x 4 accumulation, AdamW, lr 5e-5 (2e-5 for adaptation),
cosine schedule with 10% warm-up, 1 epoch, seed 42, fp32, both presentation orders trained for the
generative models, all with the shared template head (docs/TRAINING.md). Evaluation averages both orders;
JudgeBench pairs are read cut to 1,024 tokens (their middles dropped), the others are whole.

Wall times are what each stage took on 2 CPU cores: eval-gram and eval-bt ran beside a full test-suite
run, which inflated them (run alone, an evaluation of one model on the seven sets takes ~6 min for GRAM
and ~4 min for BT); stage 1 and stage 2 only were each interrupted once and resumed from a checkpoint,
and their times count both attempts. The data is rebuilt from ../shared/data on every machine (seeded,
under a minute) and checked byte for byte against the archive before the archived stages are restored.\
"""
