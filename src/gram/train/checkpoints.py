"""Checkpoints of a training run: the last complete resume point, whether it holds the final step, the
loss it logged, and the final model a user ships. Which run a directory holds: gram.train.identity."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

log = logging.getLogger("gram.train")


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


def save_final(trainer: Trainer, config, tokenizer):
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


def remove_checkpoints(output_dir: str | Path) -> int:
    """Delete the checkpoint-N folders of a finished run; how many there were."""
    found = [d for d in Path(output_dir).glob(f"{PREFIX_CHECKPOINT_DIR}-*") if d.is_dir()]
    for d in found:
        shutil.rmtree(d)
    return len(found)


def finished_training(checkpoint: str) -> dict | None:
    """The trainer state of a checkpoint written at the last step of its run, else None."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return state if state.get("max_steps") and state.get("global_step", 0) >= state["max_steps"] else None


def mean_logged_loss(state: dict) -> float | None:
    """The mean training loss over the logged steps (each logged loss averages the steps since the last)."""
    total, steps, last = 0.0, 0, 0
    for entry in state.get("log_history", []):
        if "loss" in entry:
            total += entry["loss"] * (entry["step"] - last)
            steps += entry["step"] - last
            last = entry["step"]
    return total / steps if steps else None
