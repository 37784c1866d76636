"""`gram pretrain`, `gram finetune`, `gram adapt`, `gram train-bt`: one config dataclass each
(gram.train.config), as flags or --config YAML.

    gram pretrain --train-file unlabeled.jsonl --output-dir runs/stage1
    gram finetune --model runs/stage1 --train-file labeled.jsonl --output-dir runs/stage2 --eval-file heldout.jsonl
    gram adapt --model runs/stage2 --train-file task.jsonl --output-dir runs/adapted
    torchrun --nproc_per_node 2 -m gram.cli finetune --config configs/smollm2-finetune.yaml
"""

from __future__ import annotations

import json
import os

from ..train.config import AdaptConfig, BTConfig, FinetuneConfig, PretrainConfig
from .flags import add_command

COMMANDS = {
    # command: (stage in gram.train.stages, config, help)
    "pretrain": ("pretrain", PretrainConfig,
                 "stage 1: learn to write response pairs (prompt masked), from unlabeled pairs"),
    "finetune": ("finetune", FinetuneConfig,
                 "stage 2: the label-smoothed GRAM loss at the label position, from labeled pairs"),
    "adapt": ("adapt", AdaptConfig, "task adaptation: stage 2 again from a GRAM checkpoint on a small task set"),
    "train-bt": ("bt", BTConfig, "baseline: a Bradley-Terry reward model (sequence-classification head) on labeled pairs"),
}


def add_parsers(sub) -> None:
    for name, (stage, config_cls, help_text) in COMMANDS.items():
        parser = add_command(sub, name, config_cls, run, help=help_text,
                             description=(config_cls.__doc__ or help_text).strip())
        parser.set_defaults(stage=stage)


def run(args) -> int:
    from ..eval.heldout import evaluate_trained
    from ..train.run import run as train

    summary = train(args.stage, args.options, evaluate=evaluate_trained)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    brief = {k: summary[k] for k in ("stage", "pairs", "examples", "steps", "warmup_steps", "train_seconds",
                                     "train_loss")}
    if "eval" in summary:
        brief["eval_accuracy"] = summary["eval"]["accuracy"]
    print(json.dumps(brief))
    return 0
