"""Checkpoints of a training run: the last complete resume point, and the final model a user ships."""

from __future__ import annotations

import json
import logging
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
