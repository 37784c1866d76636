"""The scaled run's tuning: each family's sweep trials, scored on the dev split, and the choice made from
them (plans/scaled.py says what is swept; nothing is selected on an evaluation set)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from .plans.scaled import BATCH, FAMILY, FREEZE, LIMITS, SWEEP_EPOCHS, SWEEP_LRS
from .stages import Stage, model_path

FREEZE_CHECK, ORDERS_CHECK, GROUPING_CHECK = "check-no-freezing", "check-both-orders", "check-random-batches"


def base_model(run: Path, family: str) -> str:
    return model_path(run, FAMILY[family].base)


def steps_per_epoch(pairs: int, examples_per_pair: int = 1) -> int:
    return math.ceil(math.ceil(pairs * examples_per_pair / 4) / 4)


def trial_name(family: str, i: int) -> str:
    return f"sweep-{family}-{i}"


def grouping_check_stage(run: Path) -> Stage:
    """Efficiency, measured: the first stage-2-only trial with random batches (transformers' default)
    instead of batches grouped by length (gram's): wall time and dev accuracy against that trial."""
    return sweep_stage(run, "stage2-only", 0, name=GROUPING_CHECK, extra=("--no-group-by-length",))


def freeze_check_stage(run: Path) -> Stage:
    """Efficiency, measured: the best stage-2-only trial again with no block frozen (dev accuracy and wall
    time against the frozen run: freezing is kept only if it costs no dev accuracy beyond noise)."""
    best = choose(run, "stage2-only")
    if best is None:
        return waiting(FREEZE_CHECK, "the stage2-only sweep")
    return sweep_stage(run, "stage2-only", best["trial"], freeze=[], name=FREEZE_CHECK)


def orders_check_stage(run: Path) -> Stage:
    """Both presentation orders per pair against one random order, measured: GRAM's best trial again with
    both orders (twice the examples, so twice the steps per epoch): dev accuracy, order agreement and wall
    time against the one-order run."""
    best = choose(run, "gram")
    if best is None:
        return waiting(ORDERS_CHECK, "the gram sweep")
    return sweep_stage(run, "gram", best["trial"], name=ORDERS_CHECK, both_orders=True)


CHECKS = {GROUPING_CHECK: grouping_check_stage, FREEZE_CHECK: freeze_check_stage, ORDERS_CHECK: orders_check_stage}


def trial_settings(run: Path, family: str, i: int) -> dict | None:
    """Trial i's settings: the three learning rates, then the family's fourth run (None until the first
    three have been scored)."""
    if i < len(SWEEP_LRS):
        return {"lr": SWEEP_LRS[i], "eps": "0.1" if FAMILY[family].generative else None}
    best = choose(run, family, trials=range(len(SWEEP_LRS)))
    if best is None:
        return None
    if FAMILY[family].generative:
        return {"lr": best["lr"], "eps": "0.3"}
    lrs = [float(x) for x in SWEEP_LRS]
    k = lrs.index(float(best["lr"]))
    beyond = lrs[k] ** 2 / lrs[k - 1] if k == len(lrs) - 1 else (lrs[0] ** 2 / lrs[1] if k == 0 else None)
    if beyond is None:  # the best is in the middle: halfway (geometric) toward the better neighbour
        lo, hi = dev_score(run, trial_name(family, k - 1)), dev_score(run, trial_name(family, k + 1))
        beyond = math.sqrt(lrs[k] * (lrs[k - 1] if lo >= hi else lrs[k + 1]))
    return {"lr": f"{beyond:.1e}", "eps": None}


def trial_eval_dir(run: Path, name: str, epoch: int) -> Path:
    return run / "sweep-eval" / name / f"epoch{epoch}"


def trial_results(run: Path, name: str, epoch: int) -> dict | None:
    folder = trial_eval_dir(run, name, epoch)
    found = list(folder.glob("*/*/results.json"))  # checkpoint-N/<dev set>/results.json
    if len(found) > 1:
        raise SystemExit(f"replicate: {folder} holds {len(found)} results; one checkpoint's evaluation expected")
    return json.loads(found[0].read_text()) if found else None


def selection_key(results: dict) -> tuple[float, float]:
    length = results.get("length") or {}
    controlled = length.get("length_controlled_accuracy")
    return (controlled if controlled is not None else results["overall"], results["overall"])


def dev_score(run: Path, name: str) -> float:
    scores = [selection_key(r)[0] for e in range(1, SWEEP_EPOCHS + 1) if (r := trial_results(run, name, e))]
    return max(scores) if scores else -1.0


def choose(run: Path, family: str, trials: range | None = None) -> dict | None:
    """The best (lr, epochs, eps) over the family's scored trials; None while any of them is unscored."""
    best, best_key = None, None
    for i in trials if trials is not None else range(len(SWEEP_LRS) + 1):
        settings = trial_settings(run, family, i)
        if settings is None:
            return None
        for epoch in range(1, SWEEP_EPOCHS + 1):
            results = trial_results(run, trial_name(family, i), epoch)
            if results is None:
                return None
            key = selection_key(results)
            if best_key is None or key > best_key:
                best, best_key = {**settings, "epochs": epoch, "trial": i, "dev": key}, key
    return best


def sweep_stage(run: Path, family: str, i: int, freeze: list[str] = FREEZE, name: str | None = None,
                both_orders: bool = False, extra: tuple[str, ...] = ()) -> Stage:
    """Train one trial for SWEEP_EPOCHS on the sweep subset, keep the checkpoint of each epoch, score each
    on the dev split, then delete the models (the final runs retrain with the chosen settings)."""
    name = name or trial_name(family, i)
    data, model_dir = run / "data", run / "sweep-models" / name
    settings = trial_settings(run, family, i)
    if settings is None:
        return waiting(name, f"the first {len(SWEEP_LRS)} {family} trials")
    f = FAMILY[family]
    steps = steps_per_epoch(f.sweep_pairs, 2 if both_orders else 1)
    command = ["gram", f.verb, "--train-file", str(data / f"{f.train}.jsonl"), "--limit", str(f.sweep_pairs),
               "--output-dir", str(model_dir), "--max-length", str(LIMITS[f.limit]), *BATCH,
               "--learning-rate", settings["lr"], "--epochs", str(SWEEP_EPOCHS), "--lr-scheduler", "cosine",
               "--warmup-ratio", "0.1", "--seed", "42", "--logging-steps", "5", "--save-steps", str(steps),
               "--save-total-limit", str(SWEEP_EPOCHS), "--keep-checkpoints", *freeze]
    if f.generative:
        command += ["--label-smoothing", settings["eps"], "--both-orders" if both_orders else "--no-both-orders"]
    command += ["--model", base_model(run, family), *extra]
    commands, creates = [command], [str(model_dir / "train_summary.json")]
    for epoch in range(1, SWEEP_EPOCHS + 1):
        out = trial_eval_dir(run, name, epoch)
        checkpoint = model_dir / f"checkpoint-{steps * epoch}"
        commands.append(["gram", "eval", "--model", str(checkpoint), "--benchmark", str(data / f"{f.dev}.jsonl"),
                         "--output", str(out), "--template", "gram", "--quiet"])
        creates.append(str(out / checkpoint.name / f.dev / "reliability.png"))
    return Stage(name, commands, creates, after=lambda _run: shutil.rmtree(model_dir, ignore_errors=True))


def waiting(name: str, why: str) -> Stage:
    """A stage whose settings are not known yet (listed, but it stops the run if reached)."""
    def stop(_run):
        raise SystemExit(f"replicate: {name} waits for {why}")
    return Stage(name, python=stop)
