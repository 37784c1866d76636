"""Checkpoints of a training run: which run an output directory holds, the last complete resume point,
and the final model a user ships.

A run writes OUTPUT_DIR/gram_run.json when it starts: its stage, every setting that changes the weights,
and the SHA-256 of its training file. A rerun into the same directory resumes only when that identity is
the same (a finished run is left as it is); otherwise it stops and names what differs, and --overwrite
starts over.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
from pathlib import Path

from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..io import write_json_atomic

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


RUN_FILE = "gram_run.json"
# settings that change what is logged, kept or reported, never the weights: a rerun may change them
RERUN_NEUTRAL = {"output_dir", "resume", "overwrite", "logging_steps", "save_steps", "save_total_limit", "eval_file",
                 "eval_limit", "report_to", "keep_checkpoints", "push_to_hub"}


class RunMismatch(ValueError):
    """An output directory holding another run than the one asked for."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_identity(stage: str, config) -> dict:
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in RERUN_NEUTRAL}
    return {"stage": stage, "settings": settings, "train_file_sha256": file_sha256(config.train_file)}


# settings added since gram_run.json was introduced, with the behaviour a run written before them had
BEFORE_THE_SETTING = {"group_by_length": False}


def saved_settings(saved: dict) -> dict:
    return {**BEFORE_THE_SETTING, **saved.get("settings", {})}


def differences(saved: dict, wanted: dict) -> list[str]:
    out = [] if saved.get("stage") == wanted["stage"] else [f"stage {saved.get('stage')} -> {wanted['stage']}"]
    old, new = saved_settings(saved), wanted["settings"]
    out += [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if saved.get("train_file_sha256") != wanted["train_file_sha256"]:
        out.append("the training data's content")
    return out


def extends(saved: dict, wanted: dict) -> bool:
    """Whether `wanted` only trains the saved run for longer (more max_steps or epochs, all else equal), as
    Trainer's own resume allows."""
    old, new = saved_settings(saved), wanted["settings"]
    keys = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    if not keys or not keys <= {"max_steps", "epochs"} or saved.get("stage") != wanted["stage"] \
            or saved.get("train_file_sha256") != wanted["train_file_sha256"]:
        return False
    longer = [(new[k] > old[k]) if new[k] > 0 and old[k] > 0 else new[k] > 0 for k in keys]
    return all(longer) and not (keys == {"epochs"} and new.get("max_steps", -1) > 0)


def prepare_output_dir(stage: str, config, main_process: bool = True) -> str:
    """"fresh", "resume", "extend" or "finished": what a run asked for may do in config.output_dir.

    "extend": the run only asks for more steps (or epochs) than the saved one, and goes on from its last
    checkpoint.

    Raises RunMismatch when the directory holds another run (or model files gram did not write with a
    run identity) and --overwrite was not given; with it, the old checkpoints, summary and identity are
    deleted first (the final model files are written over)."""
    out = Path(config.output_dir)
    marker = out / RUN_FILE
    identity = run_identity(stage, config)
    if config.overwrite:
        if main_process:
            for d in out.glob("checkpoint-*"):
                shutil.rmtree(d, ignore_errors=True)
            for name in (RUN_FILE, "train_summary.json"):
                (out / name).unlink(missing_ok=True)
            write_json_atomic(marker, identity)
        return "fresh"
    if marker.exists():
        saved = json.loads(marker.read_text())
        changed = differences(saved, identity)
        trained = any(out.glob("checkpoint-*")) or any(
            (out / name).exists() for name in ("train_summary.json", "model.safetensors", "adapter_model.safetensors"))
        if changed and not trained:  # a run that stopped before its first checkpoint: nothing to keep
            if main_process:
                write_json_atomic(marker, identity)
            return "fresh"
        if changed and extends(saved, identity) and not last_complete_checkpoint(out):
            raise RunMismatch(f"{out}: the finished run kept no checkpoint to train on from ({'; '.join(changed)}; "
                              "--keep-checkpoints keeps them): rerun with --overwrite to train from the start")
        if changed and extends(saved, identity):
            log.warning("%s: training on past its last run (%s); the learning-rate schedule is this run's, so the "
                        "weights differ from a run started with these settings", out, "; ".join(changed))
            if main_process:
                (out / "train_summary.json").unlink(missing_ok=True)
                write_json_atomic(marker, identity)
            return "extend"
        if changed:
            raise RunMismatch(f"{out} holds another run ({'; '.join(changed)}): rerun with --overwrite to start "
                              "over there, or choose another --output-dir")
        return "finished" if (out / "train_summary.json").exists() else "resume"
    leftovers = sorted(p.name for p in out.glob("checkpoint-*")) + [
        name for name in ("train_summary.json", "model.safetensors", "adapter_model.safetensors") if (out / name).exists()]
    if leftovers:
        raise RunMismatch(f"{out} holds {', '.join(leftovers[:3])} from a run gram cannot identify: rerun with "
                          "--overwrite to start over there, or choose another --output-dir")
    if main_process:
        write_json_atomic(marker, identity)
    return "fresh"


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
