"""Which run a training output directory holds.

A run writes OUTPUT_DIR/gram_run.json when it starts: its stage, every setting that changes the weights,
and the SHA-256 of its training file. A rerun into the same directory resumes only when that identity is
the same (a finished run is left as it is), or trains the same run for longer; otherwise it stops and
names what differs, and --overwrite starts over.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
from pathlib import Path

from ..errors import RunMismatch
from ..io import write_json_atomic
from .checkpoints import last_complete_checkpoint

log = logging.getLogger("gram.train")


RUN_FILE = "gram_run.json"
# settings that change what is logged, kept or reported, never the weights: a rerun may change them
RERUN_NEUTRAL = {"output_dir", "resume", "overwrite", "logging_steps", "save_steps", "save_total_limit", "eval_file",
                 "eval_limit", "report_to", "keep_checkpoints", "push_to_hub"}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_identity(stage: str, config) -> dict:
    """The stage, the settings that change the weights, the training data's content, and how the run is
    laid out: its number of processes (a resume on another number reads its batches in another order and
    finds other RNG and optimizer shards) and its DeepSpeed config's content (another ZeRO stage cannot
    read the checkpoints)."""
    from ..jobs.sharding import world

    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in RERUN_NEUTRAL}
    settings["processes"] = world()[1]
    settings["deepspeed_config_sha256"] = file_sha256(config.deepspeed) if config.deepspeed else None
    return {"stage": stage, "settings": settings, "train_file_sha256": file_sha256(config.train_file)}


# settings added after gram_run.json was introduced -> the value every run saved before them had
LEGACY_SETTING_VALUES = {"group_by_length": False, "fsdp": False}
# settings added later still, whose value a saved run did not record: not compared for such a run
UNRECORDED_BEFORE = ("processes", "deepspeed_config_sha256")


def saved_settings(saved: dict, wanted: dict | None = None) -> dict:
    """A saved run's settings, those it predates filled in with the behaviour it had (or, for what it never
    recorded, with the wanted run's value)."""
    unknown = {k: wanted["settings"].get(k) for k in UNRECORDED_BEFORE} if wanted else {}
    return {**LEGACY_SETTING_VALUES, **unknown, **saved.get("settings", {})}


def differences(saved: dict, wanted: dict) -> list[str]:
    out = [] if saved.get("stage") == wanted["stage"] else [f"stage {saved.get('stage')} -> {wanted['stage']}"]
    old, new = saved_settings(saved, wanted), wanted["settings"]
    out += [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if saved.get("train_file_sha256") != wanted["train_file_sha256"]:
        out.append("the training data's content")
    return out


def extends(saved: dict, wanted: dict) -> bool:
    """Whether `wanted` only trains the saved run for longer (more max_steps or epochs, all else equal), as
    Trainer's own resume allows."""
    old, new = saved_settings(saved, wanted), wanted["settings"]
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
    identity = run_identity(stage, config)
    if config.overwrite:
        if main_process:
            clear_run(out)
            write_json_atomic(out / RUN_FILE, identity)
        return "fresh"
    if (out / RUN_FILE).exists():
        return against_saved_run(out, json.loads((out / RUN_FILE).read_text()), identity, main_process)
    leftovers = sorted(p.name for p in out.glob("checkpoint-*")) + [
        name for name in ("train_summary.json", *MODEL_FILES) if (out / name).exists()]
    if leftovers:
        raise RunMismatch(f"{out} holds {', '.join(leftovers[:3])} from a run gram cannot identify: rerun with "
                          "--overwrite to start over there, or choose another --output-dir")
    if main_process:
        write_json_atomic(out / RUN_FILE, identity)
    return "fresh"


MODEL_FILES = ("model.safetensors", "adapter_model.safetensors")


def clear_run(out: Path) -> None:
    """--overwrite: the old run's checkpoints, summary and identity go (its model files are written over)."""
    for d in out.glob("checkpoint-*"):
        shutil.rmtree(d, ignore_errors=True)
    for name in (RUN_FILE, "train_summary.json"):
        (out / name).unlink(missing_ok=True)


def against_saved_run(out: Path, saved: dict, identity: dict, main_process: bool) -> str:
    """What a run may do in a directory whose gram_run.json names `saved`."""
    changed = differences(saved, identity)
    trained = any(out.glob("checkpoint-*")) or any((out / name).exists() for name in ("train_summary.json", *MODEL_FILES))
    if changed and not trained:  # a run that stopped before its first checkpoint: nothing to keep
        if main_process:
            write_json_atomic(out / RUN_FILE, identity)
        return "fresh"
    if changed and extends(saved, identity) and not last_complete_checkpoint(out):
        raise RunMismatch(f"{out}: the finished run kept no checkpoint to train on from ({'; '.join(changed)}; "
                          "--keep-checkpoints keeps them): rerun with --overwrite to train from the start")
    if changed and extends(saved, identity):
        log.warning("%s: training on past its last run (%s); the learning-rate schedule is this run's, so the "
                    "weights differ from a run started with these settings", out, "; ".join(changed))
        if main_process:
            (out / "train_summary.json").unlink(missing_ok=True)
            write_json_atomic(out / RUN_FILE, identity)
        return "extend"
    if changed:
        raise RunMismatch(f"{out} holds another run ({'; '.join(changed)}): rerun with --overwrite to start "
                          "over there, or choose another --output-dir")
    return "finished" if (out / "train_summary.json").exists() else "resume"
