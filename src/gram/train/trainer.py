"""Both GRAM training stages on the transformers Trainer: LoRA (PEFT) or full weights, gradient
checkpointing and accumulation, cosine schedule with warmup, resumable checkpoints, torchrun / accelerate
/ DeepSpeed, a loss plot and a model card.

    gram pretrain --train-file unlabeled_pairs.jsonl --output-dir runs/stage1
    gram finetune --model runs/stage1 --train-file labeled_pairs.jsonl --output-dir runs/stage2
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .. import backbone
from ..jsonl import write_json_atomic
from ..losses import bradley_terry_loss, gram_loss
from ..templates import label_token_ids, template_head
from .config import FinetuneConfig, TrainConfig
from .data import (
    LeftPadCollator,
    PairedCollator,
    RightPadCollator,
    bt_examples,
    finetune_examples,
    load_pairs,
    pretrain_examples,
)

log = logging.getLogger("gram.train")


class GramTrainer(Trainer):
    """Stage 2: hidden states for the whole sequence, the LM head only at the last position.

    `logits_to_keep=1` makes the model project only the final hidden state (left padding puts every
    row's label position there), so no (batch, length, vocab) tensor is ever built. Every example of the
    batch counts (the reference's loss took the label position of the first example only).
    """

    loss_is_scaled_for_ga = False  # a mean over the micro-batch: the Trainer divides by the accumulation steps

    def __init__(self, *args, label_ids: tuple[int, int], label_smoothing: float, loss_type: str = "gram", **kwargs):
        super().__init__(*args, **kwargs)
        self.label_ids = list(label_ids)
        self.label_smoothing = label_smoothing
        self.loss_type = loss_type

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")  # (N,) 0 = A, 1 = B
        head_ids = inputs.pop("head_ids", None)
        if head_ids is not None:  # the template head once, its keys and values shared by every row
            cache = shared_head_cache(model, head_ids, inputs["input_ids"].shape[0])
            inputs[backbone.cache_argument(model) or "past_key_values"] = cache
        outputs = model(**inputs, logits_to_keep=1, use_cache=head_ids is not None)
        last = outputs.logits[:, -1, :]  # (N, vocab)
        if self.loss_type == "gram":
            loss = gram_loss(last[:, self.label_ids], labels, self.label_smoothing)
        else:  # ablation: plain cross-entropy over the whole vocabulary at the label position
            targets = torch.tensor(self.label_ids, device=labels.device)[labels]
            loss = F.cross_entropy(last.float(), targets)
        return (loss, outputs) if return_outputs else loss


def shared_head_cache(model, head_ids: torch.Tensor, rows: int):
    """A cache holding the head's keys and values (with their autograd graph), expanded to `rows` rows."""
    from transformers import DynamicCache

    head = backbone.output_cache(model(input_ids=head_ids, use_cache=True, logits_to_keep=1,
                                       position_ids=torch.arange(head_ids.shape[1], device=head_ids.device)[None]))
    config = getattr(model, "config", None)
    return DynamicCache(ddp_cache_data=[(layer.keys.expand(rows, -1, -1, -1), layer.values.expand(rows, -1, -1, -1))
                                        for layer in head.layers], config=config)


class BTTrainer(Trainer):
    """The Bradley-Terry baseline: rewards of a batch's chosen and rejected responses in one forward."""

    loss_is_scaled_for_ga = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        rewards = outputs.logits[:, 0]  # (2N,): chosen first, then rejected
        n = rewards.shape[0] // 2
        loss = bradley_terry_loss(rewards[:n], rewards[n:])
        return (loss, outputs) if return_outputs else loss


class ProgressCallback(TrainerCallback):
    """Adds tokens/s (non-padding tokens per second, all processes) and peak memory to each log line."""

    def __init__(self):
        self.start = self.last_time = None
        self.last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.last_time = time.perf_counter()
        self.last_tokens = state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or "loss" not in logs:
            return
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen
        logs["tokens_per_s"] = round((tokens - self.last_tokens) / max(now - self.last_time, 1e-9), 1)
        logs["peak_rss_mb"] = round(peak_rss_mb(), 1)
        self.last_time, self.last_tokens = now, tokens


def peak_rss_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def load_for_training(config: TrainConfig, reward_head: bool = False):
    """The model to train: a causal LM, or (reward_head) the same backbone with a fresh one-output
    sequence-classification head for the Bradley-Terry baseline."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    path = backbone.resolve(config.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    device = backbone.default_device()
    dtype = backbone.resolve_dtype(config.dtype, device)
    if reward_head:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=dtype, use_safetensors=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, use_safetensors=True)
    if config.lora:
        from peft import LoraConfig, get_peft_model

        targets = config.lora_targets if config.lora_targets == "all-linear" else config.lora_targets.split(",")
        model = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                                 lora_dropout=config.lora_dropout, target_modules=targets,
                                                 task_type="SEQ_CLS" if reward_head else "CAUSAL_LM"))
        if config.gradient_checkpointing:
            model.enable_input_require_grads()
    return model, tokenizer, path


def training_arguments(config: TrainConfig) -> TrainingArguments:
    return TrainingArguments(
        output_dir=config.output_dir,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps in transformers 5
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        activation_checkpointing=config.gradient_checkpointing,
        bf16=backbone.resolve_dtype(config.dtype, backbone.default_device()) == torch.bfloat16,
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        report_to=config.report_to,
        deepspeed=config.deepspeed,
        # several CPU processes (torchrun on a CPU machine): accelerate's MULTI_CPU mode over gloo
        use_cpu=not torch.cuda.is_available(),
        ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not torch.cuda.is_available() else None,
        dataloader_drop_last=False,
        disable_tqdm=False,
    )


def run(stage: str, config: TrainConfig) -> dict:
    """Train one stage end to end; returns a summary (also written to OUTPUT_DIR/train_summary.json)."""
    torch.manual_seed(config.seed)
    model, tokenizer, base_path = load_for_training(config, reward_head=stage == "bt")
    pairs = load_pairs(config.train_file, config.limit)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if stage == "pretrain":
        examples, counts = pretrain_examples(pairs, tokenizer, config.max_length)
        collator, trainer_cls, extra = RightPadCollator(pad_id), Trainer, {}
    elif stage == "bt":
        from ..reward_model import safe_pad_id

        examples, counts = bt_examples(pairs, tokenizer, config.max_length)
        pad_id = safe_pad_id(tokenizer, [e[k] for e in examples for k in ("chosen_ids", "rejected_ids")])
        model.config.pad_token_id = pad_id  # the head pools the last token that is not padding
        collator, trainer_cls, extra = PairedCollator(pad_id), BTTrainer, {}
    else:
        assert isinstance(config, FinetuneConfig)
        examples, counts = finetune_examples(pairs, tokenizer, config.max_length, config.both_orders, config.template)
        # the shared template head: not with activation checkpointing, which runs without a cache
        head = None if config.gradient_checkpointing else tuple(template_head(tokenizer, config.template))
        collator, trainer_cls = LeftPadCollator(pad_id, head or None), GramTrainer
        extra = {"label_ids": label_token_ids(tokenizer), "label_smoothing": config.label_smoothing,
                 "loss_type": config.loss}
    if not examples:
        raise ValueError(f"{config.train_file}: no training examples ({dict(counts)})")
    log.warning("%s: %d pairs -> %d examples (%s)", stage, len(pairs), len(examples),
                ", ".join(f"{k} {v}" for k, v in counts.items() if k != "examples"))

    args = training_arguments(config)
    trainer = trainer_cls(model=model, args=args, train_dataset=examples, data_collator=collator,
                          processing_class=tokenizer, callbacks=[ProgressCallback()], **extra)
    last = last_complete_checkpoint(config.output_dir) if config.resume else None
    if last:
        log.warning("resuming from %s", last)
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - start

    summary = {"stage": stage, "base_model": config.model, "base_path": base_path, "train_file": config.train_file,
               "pairs": len(pairs), "examples": len(examples), "counts": dict(counts),
               "steps": trainer.state.global_step, "train_seconds": round(seconds, 1),
               "train_loss": result.training_loss, "resumed_from": last,
               "config": dataclasses.asdict(config)}
    final = save_final(trainer, config, tokenizer)
    if trainer.is_world_process_zero():
        if config.eval_file and stage != "pretrain":
            summary["eval"] = evaluate_pairs(final, tokenizer, config, reward_model=stage == "bt")
        plot_losses(trainer.state.log_history, Path(config.output_dir) / "loss.png", stage)
        write_model_card(Path(config.output_dir), stage, summary, trainer.state.log_history)
        write_json_atomic(Path(config.output_dir, "train_summary.json"), json.loads(json.dumps(summary, default=str)))
    return summary


def last_complete_checkpoint(output_dir: str | Path) -> str | None:
    """The newest checkpoint-N that was written to the end, or None.

    Trainer writes a checkpoint in place (weights, optimizer, RNG states, then trainer_state.json), so a
    process killed mid-save leaves a newer, partial directory; resuming from it would fail or, worse, mix
    states. trainer_state.json comes last: a checkpoint whose state file parses is complete."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    steps = []
    for d in root.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        if d.is_dir() and d.name.split("-")[-1].isdigit():
            steps.append((int(d.name.split("-")[-1]), d))
    for _, d in sorted(steps, reverse=True):
        try:
            json.loads((d / "trainer_state.json").read_text())
        except (OSError, ValueError):
            log.warning("skipping %s: written only in part (killed while saving?)", d)
            continue
        return str(d)
    return None


def save_final(trainer: Trainer, config: TrainConfig, tokenizer):
    """The final model as a plain HF directory in output_dir (LoRA merged unless told otherwise).

    Called on every process: `save_model` gathers sharded (ZeRO-3, FSDP) weights and writes on the main
    process only."""
    if config.lora and config.merge_lora:
        model = trainer.model.merge_and_unload()
        if trainer.is_world_process_zero():
            model.save_pretrained(config.output_dir, safe_serialization=True)
            tokenizer.save_pretrained(config.output_dir)
        return model
    trainer.save_model(config.output_dir)  # adapters only when --no-merge-lora
    return trainer.model


def evaluate_pairs(model, tokenizer, config: TrainConfig, reward_model: bool = False) -> dict:
    from ..judge import Judge
    from ..reward_model import RewardModelJudge

    pairs = [p for p in load_pairs(config.eval_file, config.eval_limit) if p.label in ("a", "b")]
    was_training = model.training
    judge = (RewardModelJudge(model, tokenizer, max_length=config.max_length) if reward_model
             else Judge(model, tokenizer, max_length=config.max_length, template=config.template))
    scores = judge.compare_many(pairs)
    model.train(was_training)
    correct = sum((s.score_a > 0.5) == (p.label == "a") for s, p in zip(scores, pairs))
    consistent = sum(bool(s.consistent) for s in scores)
    out = {"eval_file": config.eval_file, "pairs": len(pairs), "accuracy": correct / len(pairs) if pairs else None,
           "position_consistency": consistent / len(pairs) if pairs else None}
    log.warning("eval on %s: accuracy %.3f over %d pairs", config.eval_file, out["accuracy"] or 0, len(pairs))
    return out


def plot_losses(history: list[dict], path: Path, stage: str) -> None:
    points = [(h["step"], h["loss"]) for h in history if "loss" in h]
    if not points:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(*zip(*points), marker="." if len(points) < 50 else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title(f"gram {stage}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def write_model_card(output_dir: Path, stage: str, summary: dict, history: list[dict]) -> None:
    config = summary["config"]
    what = {"pretrain": "GRAM stage 1 (unsupervised pre-training on unlabeled response pairs)",
            "finetune": "GRAM stage 2 (supervised fine-tuning with the label-smoothed GRAM loss)",
            "adapt": "GRAM task adaptation (stage 2 again on task pairs)",
            "bt": "Bradley-Terry reward model (sequence-classification head), the discriminative baseline"}[stage]
    base = backbone.EMBEDDED[summary["base_model"]][2] if summary["base_model"] in backbone.EMBEDDED else summary["base_model"]
    lines = ["---", f"base_model: {base}", "library_name: transformers", "tags: [gram, reward-model]",
             "---", "", f"# {Path(output_dir).name}", "", f"{what}, trained with gram.", "",
             f"- base model: `{summary['base_model']}`", f"- training data: `{summary['train_file']}` "
             f"({summary['pairs']} pairs -> {summary['examples']} examples)",
             f"- steps: {summary['steps']}, training time {summary['train_seconds']} s, mean training loss "
             f"{summary['train_loss']:.4f}", ""]
    if "eval" in summary:
        e = summary["eval"]
        lines += ["## Evaluation", "", f"`{e['eval_file']}`: accuracy {e['accuracy']:.3f} over {e['pairs']} pairs "
                  f"(both orders), position consistency {e['position_consistency']:.3f}", ""]
    lines += ["## Hyperparameters", "", "```yaml"] + [f"{k}: {v}" for k, v in config.items()] + ["```", "",
              "Score pairs with `gram score --model THIS_DIR --input pairs.jsonl --output scores.jsonl`.", ""]
    (output_dir / "README.md").write_text("\n".join(lines))
