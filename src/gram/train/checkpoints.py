"""Checkpoints of a training run: the last complete resume point, whether it holds the final step, the
loss it logged, and the final model a user ships. Which run a directory holds: gram.train.identity."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..errors import SaveFailed
from .engines import load_whole_models

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


# what a checkpoint holds besides the model files `save_model` writes (weights, config, tokenizer)
TRAINING_STATE = ("optimizer", "scheduler", "rng_state", "trainer_state.json", "training_args.bin", "latest",
                  "zero_to_fp32.py", "scaler.pt", "fsdp_state")


def save_final(trainer: Trainer, config, finished_checkpoint: str | None = None) -> None:
    """The final model as a plain HF directory in output_dir, on every engine through one path.

    Every process calls it: `save_model` gathers sharded weights (ZeRO-3, FSDP) and writes on the main
    process only. A run that was killed after writing its last step's checkpoint (`finished_checkpoint`)
    takes the model files from there: `save_model` wrote them, and no engine need be started. Adapters
    (--lora) are then merged by the main process from the files (merge_adapters), never in sharded
    memory; --no-merge-lora ships them as they are."""
    if finished_checkpoint is None:
        trainer.save_model(config.output_dir)
    elif trainer.is_world_process_zero():
        for f in Path(finished_checkpoint).iterdir():
            if f.is_file() and not f.name.startswith(TRAINING_STATE):
                shutil.copy2(f, Path(config.output_dir, f.name))
    load_whole_models()


def merge_adapters(config, trained_config, reward_head: bool = False) -> None:
    """--lora: the adapters in output_dir merged into the base model they were trained on, written as a
    plain model in their place. `trained_config` is the trained model's config (the baseline's padding id
    lives there)."""
    from peft import PeftModel

    from ..model import backbone

    out = Path(config.output_dir)
    base, _ = backbone.load(config.model, dtype=trained_config.dtype, kind="reward" if reward_head else "causal-lm",
                            for_training=True)
    base.config.pad_token_id = trained_config.pad_token_id
    merged = PeftModel.from_pretrained(base, out).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        (out / name).unlink(missing_ok=True)


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


SAVING_FRAMES = {"_save_checkpoint", "save_model", "save_pretrained", "_save_optimizer_and_scheduler", "save_file"}
NO_SPACE = ("no space left", "storagefull", "errno 28", "os error 28", "file too large", "filetoolarge", "os error 27")


def while_saving(err: BaseException) -> bool:
    """Whether `err` was raised inside Trainer's or transformers' saving code."""
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in SAVING_FRAMES:
            return True
        tb = tb.tb_next
    return False


def why_saving_failed(err: BaseException, output_dir: str | Path) -> tuple[str, bool]:
    """A reason in words, and whether space is what is missing: the disk's state when it is full, else
    the error's first line (torch's own message for a failed write is cryptic: 'unexpected pos ...')."""
    texts, e = [], err
    while e is not None:
        texts.append(f"{e} {getattr(e, 'errno', '')}".lower())
        e = e.__cause__ or e.__context__
    free = shutil.disk_usage(output_dir).free
    if any(word in t for t in texts for word in NO_SPACE) or free < 64 * 2**20:
        return f"the disk is full or the file too large ({free / 2**20:.1f} MiB free where it writes)", True
    text = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
    return f"a write did not complete ({text})", False


def save_failed(err: BaseException, output_dir: str | Path, step: int, final: bool = False) -> SaveFailed:
    """The one-line error for a failed save at `step`; a checkpoint left half-written is removed (a rerun
    skips it anyway, and it holds the space the next save needs)."""
    reason, space = why_saving_failed(err, output_dir)
    target = Path(output_dir) if final else Path(output_dir, f"{PREFIX_CHECKPOINT_DIR}-{step}")
    if not final and target.is_dir() and not (target / "trainer_state.json").exists():
        shutil.rmtree(target, ignore_errors=True)
    kept = last_complete_checkpoint(output_dir)
    then = f"it resumes from {kept}" if kept else "it starts over (no checkpoint was complete)"
    return SaveFailed(f"saving {'the final model in ' if final else ''}{target} at step {step} failed: {reason}; "
                      f"{'free space' if space else 'fix what stops the write'} and rerun the same command: {then}")
