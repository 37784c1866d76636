"""Stages of a run whose settings are fixed in its plan (the small run): each trained model one `gram`
command with the plan's TRAIN settings, and each adaptation task's curve with its ADAPT settings."""

from __future__ import annotations

from pathlib import Path

from .stages import Stage, adapted_name, evaluation, model_path


def train_command(plan, run: Path, verb: str, data: str, out: str, limit: str, settings: list[str],
                  base: str | None = None, pairs: int | None = None, eps: str | None = None) -> list[str]:
    """`gram <verb>` on data/<data>.jsonl into models/<out>, from `base` (None: the command's default), on its
    first `pairs` pairs (None: all), with label smoothing `eps` (None: not given)."""
    command = ["gram", verb, "--train-file", str(run / "data" / f"{data}.jsonl"), "--output-dir",
               str(run / "models" / out), "--max-length", str(plan.LIMITS[limit]), *settings]
    if base is not None:
        command += ["--model", model_path(run, base)]
    if pairs is not None:
        command += ["--limit", str(pairs)]
    if eps is not None:
        command += ["--label-smoothing", eps]
    return command


def train_stage(plan, run: Path, name: str) -> Stage:
    """models/<name>, as TRAINED[name] says, with the plan's TRAIN settings."""
    t = plan.TRAINED[name]
    return Stage(name, [train_command(plan, run, t.verb, t.data, name, t.limit, plan.TRAIN, t.base, eps=t.eps)], [None])


def adaptation_stages(plan, run: Path, task: str) -> list[Stage]:
    """GRAM and BT adapted with n task pairs (nested: the first n of the pool), then each evaluated on the
    task's test side together with n = 0 (the stage-2 models themselves)."""
    t = plan.TASKS[task]
    out = []
    for n in plan.SIZES[t.sizes]:
        for model, (verb, eps) in plan.ADAPTED.items():
            name = adapted_name(model, t, n)
            out.append(Stage(name, [train_command(plan, run, verb, t.pool, name, t.limit, plan.ADAPT, model, n, eps)],
                             [None]))
    for model in plan.ADAPTED:
        for n in (0, *plan.SIZES[t.sizes]):
            name = adapted_name(model, t, n)
            out.append(evaluation(plan, run, f"{t.tag}-{name}", name, [t.test], t.tag))
    return out
