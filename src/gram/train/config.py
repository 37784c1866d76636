"""One config dataclass per training command (gram.options): each doubles as the command's flags and its
YAML file.

    gram finetune --config configs/smollm2-finetune.yaml --learning-rate 1e-5   # flags override the file

Defaults follow the GRAM reference configs (NiuTrans/GRAM examples/train_full: cosine schedule, 10%
warmup, lr 1e-5 for pre-training and 2e-5 for fine-tuning, label smoothing 0.1, cutoff 2048).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.backbone import DEFAULT_MODEL
from ..options import opt
from ..templates import JUDGE_TEMPLATES


@dataclass
class TrainConfig:
    HELP_SHOWS_DEFAULTS = True  # each flag's help ends with its default
    NEGATABLE = True  # --lora / --no-lora

    model: str = opt(DEFAULT_MODEL, "base model: embedded name, model directory or hub id")
    train_file: str = opt("", "training pairs (gram JSONL rows, e.g. from `gram data pairs`)", required=True)
    output_dir: str = opt("", "where checkpoints, logs, the loss plot and the final model go", required=True)
    max_length: int = opt(2048, "tokens per example; longer pairs lose the middles of their responses (reference "
                                  "cutoff_len)", at_least=1)
    limit: int | None = opt(None, "use only the first N training rows", at_least=1)
    epochs: float = opt(1.0, "passes over the training data", above=0)
    max_steps: int = opt(-1, "stop after this many optimizer steps (overrides epochs when > 0)")
    batch_size: int = opt(2, "examples per device per micro-batch", at_least=1)
    grad_accum: int = opt(8, "micro-batches per optimizer step", at_least=1)
    learning_rate: float = opt(1e-5, "peak learning rate", above=0)
    lr_scheduler: str = opt("cosine", "learning-rate schedule (transformers names: cosine, linear, constant_with_warmup, ...)")
    warmup_ratio: float = opt(0.1, "share of the steps spent warming up", at_least=0, below=1)
    weight_decay: float = opt(0.0, "AdamW weight decay", at_least=0)
    max_grad_norm: float = opt(1.0, "gradient clipping", at_least=0)
    seed: int = opt(42, "seed for initialisation, shuffling and dropout")
    dtype: str = opt("auto", "weights dtype: auto (bf16 on a GPU that has it, else fp32, also on a CPU with fast "
                             "bf16), float32, bfloat16, float16",
                     choices=("auto", "float32", "bfloat16", "float16"))
    gradient_checkpointing: bool = opt(False, "recompute activations in the backward pass: less memory, ~30% more time")
    group_by_length: bool = opt(True, "batch examples of similar length together (seeded random groups, each "
                                      "sorted by length): far less padding, so faster steps")
    lora: bool = opt(False, "train LoRA adapters (PEFT) instead of all weights")
    freeze_layers: int = opt(0, "freeze the first N transformer blocks and the input embeddings: a step costs the "
                                "forward pass plus the backward of the blocks above (not with --lora or "
                                "--gradient-checkpointing)", at_least=0)
    lora_r: int = opt(16, "LoRA rank", at_least=1)
    lora_alpha: int = opt(32, "LoRA alpha", at_least=1)
    lora_dropout: float = opt(0.05, "LoRA dropout", at_least=0, below=1)
    lora_targets: str = opt("all-linear", "modules to adapt (PEFT target_modules; comma-separated or all-linear)")
    merge_lora: bool = opt(True, "merge the adapters into the final model so any loader reads it as a plain model")
    logging_steps: int = opt(10, "optimizer steps between log lines", at_least=1)
    save_steps: int = opt(100, "optimizer steps between checkpoints (resume points)", at_least=1)
    save_total_limit: int | None = opt(2, "checkpoints kept while the run goes", at_least=1)
    keep_checkpoints: bool = opt(False, "keep the checkpoint-N folders (optimizer state, resume points) once the run "
                                        "has finished; without it the output directory holds only what a user ships")
    resume: bool = opt(True, "resume from the last checkpoint in output_dir when there is one (same settings and data only)")
    overwrite: bool = opt(False, "start over in an output_dir that holds another run: its checkpoints and summary are deleted")
    eval_file: str | None = opt(None, "labeled pairs scored after training (accuracy, both orders) for the model card")
    eval_limit: int | None = opt(None, "score only the first N rows of eval_file", at_least=1)
    deepspeed: str | None = opt(None, "DeepSpeed config JSON (ZeRO-2/3; on a CPU with DS_ACCELERATOR=cpu)")
    fsdp: bool = opt(False, "shard weights, gradients and optimizer state over the launch's processes with torch "
                            "FSDP2 (each transformer block one unit; under torchrun, GPUs or CPUs)")
    report_to: str = opt("none", "logging integrations (transformers report_to: none, tensorboard, wandb, ...)")
    push_to_hub: str | None = opt(None, "hub repository (org/name) to upload the finished model directory to "
                                        "(model, tokenizer, card, summary, loss plot; not the checkpoints)")


@dataclass
class PretrainConfig(TrainConfig):
    """Stage 1: next-token loss on the response pair, prompt masked (reference: lr 1e-5, 1 epoch)."""


@dataclass
class FinetuneConfig(TrainConfig):
    """Stage 2: the GRAM loss at the label position (reference: lr 2e-5, 2 epochs, eps 0.1)."""

    learning_rate: float = opt(2e-5, "peak learning rate", above=0)
    epochs: float = opt(2.0, "passes over the training data", above=0)
    label_smoothing: float = opt(0.1, "epsilon of the GRAM loss (0 = Bradley-Terry)", at_least=0, below=1)
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

    epochs: float = opt(3.0, "passes over the (small) task data", above=0)
    grad_accum: int = opt(4, "micro-batches per optimizer step", at_least=1)
    learning_rate: float = opt(1e-5, "peak learning rate", above=0)
    logging_steps: int = opt(5, "optimizer steps between log lines", at_least=1)
    save_steps: int = opt(50, "optimizer steps between checkpoints", at_least=1)


@dataclass
class BTConfig(TrainConfig):
    """The discriminative baseline: a sequence-classification head on the same backbone, trained with the
    Bradley-Terry loss -log sigmoid(r_chosen - r_rejected) on the same labeled pairs."""

    learning_rate: float = opt(2e-5, "peak learning rate", above=0)
    epochs: float = opt(2.0, "passes over the training data", above=0)
