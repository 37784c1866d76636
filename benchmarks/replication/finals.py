"""The scaled run's other stages: stage 1, the final models and the adaptation curves trained with their
family's choice on the dev split (sweep.py), and the blind set scored by every final model."""

from __future__ import annotations

from pathlib import Path

from .plans.scaled import BATCH, FAMILY, FINALS, FREEZE, LIMITS, SIZES, TASKS
from .stages import Stage, adapted_name, eval_stage, model_path
from .sweep import base_model, choose, waiting

BLIND_PAIRS = Path(__file__).resolve().parents[3] / "shared" / "blind" / "pairs.jsonl"


def final_stage(run: Path, name: str) -> Stage:
    family, change, pairs = FINALS[name]
    return trained_stage(run, name, family, FAMILY[family].train, pairs, FAMILY[family].limit, change)


def trained_stage(run: Path, name: str, family: str, train: str, pairs: int, limit: str, change=()) -> Stage:
    """models/<name>: the family's tuned settings on the first `pairs` of data/<train>.jsonl."""
    best = choose(run, family)
    if best is None:
        return waiting(name, f"the {family} sweep")
    f, out = FAMILY[family], run / "models" / name
    command = ["gram", f.verb, "--train-file", str(run / "data" / f"{train}.jsonl"), "--limit", str(pairs),
               "--output-dir", str(out), "--max-length", str(LIMITS[limit]), *BATCH, "--learning-rate", best["lr"],
               "--epochs", str(best["epochs"]), "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42",
               "--logging-steps", "5", "--save-steps", "10", "--save-total-limit", "1", *FREEZE]
    if f.generative:
        command += ["--label-smoothing", best["eps"], "--no-both-orders"]
    command += ["--model", base_model(run, family), *change]
    return Stage(name, [command], [str(out / "train_summary.json")])


def adaptation_stages(plan, run: Path, task: str) -> list[Stage]:
    """Claim 4: GRAM and BT adapted with n task pairs (the first n of the pool), each scored on the task's
    test side together with n = 0 (the stage-2 models themselves)."""
    t = TASKS[task]
    sizes = SIZES[t.sizes]
    out = [trained_stage(run, adapted_name(kind, t, n), f"adapt-{kind}", t.pool, n, t.limit)
           for n in sizes for kind in ("gram", "bt")]
    return out + [eval_stage(plan, run, adapted_name(kind, t, n), [t.test])
                  for kind in ("gram", "bt") for n in (0, *sizes)]


def blind_stage(run: Path, name: str, pairs: Path = BLIND_PAIRS) -> Stage:
    """`gram score` on the blind pairs (both orders, --max-length 1024) into blind/<model>/scores.jsonl; the
    archive keeps each row's id and scores, nothing of the text. Nothing is tuned or selected on them."""
    out = run / "blind" / name / "scores.jsonl"
    command = ["gram", "score", "--model", model_path(run, name), "--input", str(pairs), "--output", str(out),
               "--max-length", str(LIMITS["blind_tokens"]), "--template", "gram", "--quiet"]
    return Stage(f"blind-{name}", [command], [str(out)])


def pretrain_stage(run: Path) -> Stage:
    out = run / "models" / "stage1"
    return Stage("stage1", [["gram", "pretrain", "--train-file", str(run / "data" / "stage1.jsonl"), "--output-dir",
                             str(out), "--max-length", str(LIMITS["stage1_tokens"]), *BATCH, "--learning-rate", "5e-5",
                             "--epochs", "1", "--lr-scheduler", "cosine", "--warmup-ratio", "0.1", "--seed", "42",
                             "--logging-steps", "5", "--save-steps", "20", "--save-total-limit", "1", *FREEZE]],
                 [str(out / "train_summary.json")])
