"""One config dataclass per training command; each doubles as the command's flags and its YAML file.

    gram finetune --config configs/smollm2-finetune.yaml --learning-rate 1e-5   # flags override the file

Defaults follow the GRAM reference configs (NiuTrans/GRAM examples/train_full: cosine schedule, 10%
warmup, lr 1e-5 for pre-training and 2e-5 for fine-tuning, label smoothing 0.1, cutoff 2048).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from ..backbone import DEFAULT_MODEL
from ..templates import JUDGE_TEMPLATES


def opt(default, help: str, **kwargs):
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class TrainConfig:
    model: str = opt(DEFAULT_MODEL, "base model: embedded name, model directory or hub id")
    train_file: str = opt("", "training pairs (gram JSONL rows, e.g. from `gram data pairs`)", required=True)
    output_dir: str = opt("", "where checkpoints, logs, the loss plot and the final model go", required=True)
    max_length: int = opt(2048, "tokens per example; longer pairs lose the middles of their responses (reference cutoff_len)")
    limit: int | None = opt(None, "use only the first N training rows")
    epochs: float = opt(1.0, "passes over the training data")
    max_steps: int = opt(-1, "stop after this many optimizer steps (overrides epochs when > 0)")
    batch_size: int = opt(2, "examples per device per micro-batch")
    grad_accum: int = opt(8, "micro-batches per optimizer step")
    learning_rate: float = opt(1e-5, "peak learning rate")
    lr_scheduler: str = opt("cosine", "learning-rate schedule (transformers names: cosine, linear, constant_with_warmup, ...)")
    warmup_ratio: float = opt(0.1, "share of the steps spent warming up")
    weight_decay: float = opt(0.0, "AdamW weight decay")
    max_grad_norm: float = opt(1.0, "gradient clipping")
    seed: int = opt(42, "seed for initialisation, shuffling and dropout")
    dtype: str = opt("auto", "weights dtype: auto (bf16 on a GPU that has it, else fp32), float32, bfloat16, float16",
                     choices=("auto", "float32", "bfloat16", "float16"))
    gradient_checkpointing: bool = opt(False, "recompute activations in the backward pass: less memory, ~30% more time")
    group_by_length: bool = opt(True, "batch examples of similar length together (seeded random groups, each "
                                      "sorted by length): far less padding, so faster steps")
    lora: bool = opt(False, "train LoRA adapters (PEFT) instead of all weights")
    freeze_layers: int = opt(0, "freeze the first N transformer blocks and the input embeddings: a step costs the "
                                "forward pass plus the backward of the blocks above (not with --lora or "
                                "--gradient-checkpointing)")
    lora_r: int = opt(16, "LoRA rank")
    lora_alpha: int = opt(32, "LoRA alpha")
    lora_dropout: float = opt(0.05, "LoRA dropout")
    lora_targets: str = opt("all-linear", "modules to adapt (PEFT target_modules; comma-separated or all-linear)")
    merge_lora: bool = opt(True, "merge the adapters into the final model so any loader reads it as a plain model")
    logging_steps: int = opt(10, "optimizer steps between log lines")
    save_steps: int = opt(100, "optimizer steps between checkpoints (resume points)")
    save_total_limit: int | None = opt(2, "checkpoints kept while the run goes")
    keep_checkpoints: bool = opt(False, "keep the checkpoint-N folders (optimizer state, resume points) once the run "
                                        "has finished; without it the output directory holds only what a user ships")
    resume: bool = opt(True, "resume from the last checkpoint in output_dir when there is one (same settings and data only)")
    overwrite: bool = opt(False, "start over in an output_dir that holds another run: its checkpoints and summary are deleted")
    eval_file: str | None = opt(None, "labeled pairs scored after training (accuracy, both orders) for the model card")
    eval_limit: int | None = opt(None, "score only the first N rows of eval_file")
    deepspeed: str | None = opt(None, "DeepSpeed config JSON (GPU clusters)")
    report_to: str = opt("none", "logging integrations (transformers report_to: none, tensorboard, wandb, ...)")
    push_to_hub: str | None = opt(None, "hub repository (org/name) to upload the finished model directory to "
                                        "(model, tokenizer, card, summary, loss plot; not the checkpoints)")


@dataclass
class PretrainConfig(TrainConfig):
    """Stage 1: next-token loss on the response pair, prompt masked (reference: lr 1e-5, 1 epoch)."""


@dataclass
class FinetuneConfig(TrainConfig):
    """Stage 2: the GRAM loss at the label position (reference: lr 2e-5, 2 epochs, eps 0.1)."""

    learning_rate: float = opt(2e-5, "peak learning rate")
    epochs: float = opt(2.0, "passes over the training data")
    label_smoothing: float = opt(0.1, "epsilon of the GRAM loss (0 = Bradley-Terry)")
    both_orders: bool = opt(True, "train each pair in both presentation orders (position debiasing)")
    loss: str = opt("gram", "gram: cross-entropy over the two label tokens; full-vocab: plain cross-entropy over the "
                            "whole vocabulary at the label position (ablation)", choices=("gram", "full-vocab"))
    template: str = opt("gram", "judge prompt trained on (saved with the model; scoring reads it back): gram, the "
                                "reference fine-tuning prompt, or another of --template's choices",
                        choices=tuple(JUDGE_TEMPLATES))


@dataclass
class AdaptConfig(FinetuneConfig):
    """Task adaptation: stage 2 again from a GRAM checkpoint on a few hundred to a few thousand task pairs.

    Small-data defaults: more epochs, a smaller effective batch, a lower peak rate, frequent logging."""

    epochs: float = opt(3.0, "passes over the (small) task data")
    grad_accum: int = opt(4, "micro-batches per optimizer step")
    learning_rate: float = opt(1e-5, "peak learning rate")
    logging_steps: int = opt(5, "optimizer steps between log lines")
    save_steps: int = opt(50, "optimizer steps between checkpoints")


@dataclass
class BTConfig(TrainConfig):
    """The discriminative baseline: a sequence-classification head on the same backbone, trained with the
    Bradley-Terry loss -log sigmoid(r_chosen - r_rejected) on the same labeled pairs."""

    learning_rate: float = opt(2e-5, "peak learning rate")
    epochs: float = opt(2.0, "passes over the training data")


class ConfigError(ValueError):
    pass


def base_type(annotation):
    """int for `int | None` and the like; the annotation strings come from `from __future__ import annotations`."""
    hint = annotation
    if isinstance(hint, str):
        hint = eval(hint, {"typing": typing})  # noqa: S307  (annotations of this module only)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], True
    return hint, False


def from_args(config_cls, args: argparse.Namespace):
    """Defaults, then the YAML file, then the flags given on the command line."""
    values = {}
    names = {f.name for f in dataclasses.fields(config_cls)}
    if getattr(args, "config", None):
        import yaml

        path = Path(args.config)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read the config: {err}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of option: value")
        for key, value in loaded.items():
            name = key.replace("-", "_")
            if name not in names:
                raise ConfigError(f"{path}: {key}: unknown option for `{config_cls.__name__}`")
            values[name] = value
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    config = config_cls(**values)
    for f in dataclasses.fields(config_cls):
        value = getattr(config, f.name)
        if f.metadata.get("required") and not value:
            raise ConfigError(f"--{f.name.replace('_', '-')} is required (on the command line or in --config)")
        kind, optional = base_type(f.type)
        if value is None and optional:
            continue
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            setattr(config, f.name, float(value))
        elif not isinstance(value, kind):
            raise ConfigError(f"{f.name}: expected {kind.__name__}, got {value!r}")
        if f.metadata.get("choices") and value not in f.metadata["choices"]:
            raise ConfigError(f"{f.name}: expected one of {f.metadata['choices']}, got {value!r}")
    return config
