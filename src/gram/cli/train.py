"""`gram pretrain`, `gram finetune`, `gram adapt`, `gram train-bt`: one config dataclass each
(gram.train.config), as flags or --config YAML.

    gram pretrain --train-file unlabeled.jsonl --output-dir runs/stage1
    gram finetune --model runs/stage1 --train-file labeled.jsonl --output-dir runs/stage2 --eval-file heldout.jsonl
    gram adapt --model runs/stage2 --train-file task.jsonl --output-dir runs/adapted
    torchrun --nproc_per_node 2 -m gram.cli finetune --config configs/smollm2-finetune.yaml
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from ..train.config import (
    AdaptConfig,
    BTConfig,
    ConfigError,
    FinetuneConfig,
    PretrainConfig,
    base_type,
    from_args,
)

COMMANDS = {
    # command: (stage in gram.train.stages, config, help)
    "pretrain": ("pretrain", PretrainConfig,
                 "stage 1: learn to write response pairs (prompt masked), from unlabeled pairs"),
    "finetune": ("finetune", FinetuneConfig,
                 "stage 2: the label-smoothed GRAM loss at the label position, from labeled pairs"),
    "adapt": ("adapt", AdaptConfig, "task adaptation: stage 2 again from a GRAM checkpoint on a small task set"),
    "train-bt": ("bt", BTConfig, "baseline: a Bradley-Terry reward model (sequence-classification head) on labeled pairs"),
}


def add_config_arguments(parser: argparse.ArgumentParser, config_cls) -> None:
    """One flag per config field (its help and default from the field), and --config for a YAML file."""
    parser.add_argument("--config", default=None, help="YAML file of these options (flags given here override it)")
    for f in dataclasses.fields(config_cls):
        kind, _ = base_type(f.type)
        flag = "--" + f.name.replace("_", "-")
        # argparse %-formats help strings: a literal "%" must be doubled
        help_text = (f.metadata.get("help", "") + f" (default: {f.default})").replace("%", "%%")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=None, help=help_text, choices=f.metadata.get("choices"))


def add_parsers(sub) -> None:
    for name, (stage, config_cls, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=(config_cls.__doc__ or help_text).strip())
        add_config_arguments(p, config_cls)
        p.set_defaults(func=run, stage=stage, config_cls=config_cls)


def run(args) -> int:
    from ..eval.heldout import evaluate_trained
    from ..train.identity import RunMismatch
    from ..train.run import NoExamples
    from ..train.run import run as train

    try:
        config = from_args(args.config_cls, args)
        summary = train(args.stage, config, evaluate=evaluate_trained)
    except (ConfigError, RunMismatch, NoExamples) as err:
        print(f"gram {args.command}: error: {err}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    brief = {k: summary[k] for k in ("stage", "pairs", "examples", "steps", "train_seconds", "train_loss")}
    if "eval" in summary:
        brief["eval_accuracy"] = summary["eval"]["accuracy"]
    print(json.dumps(brief))
    return 0
