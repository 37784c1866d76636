"""What a replication run is made of: stages, and the vocabulary its plans are written in (trained models,
adaptation tasks, tuned families), with the evaluation stage every plan shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

BACKBONE = "smollm2-135m"


@dataclass
class Stage:
    name: str
    commands: list[list[str]] = field(default_factory=list)  # run in order; each skipped when its `creates` exists
    creates: list[str | None] = field(default_factory=list)
    python: object = None  # or an in-process function(run_dir), run before the commands
    after: object = None  # an in-process function(run_dir) run once the stage is done and archived


class Trained(NamedTuple):
    """A model trained with a plan's fixed settings: the `gram` command, its training file, max-length key,
    the model it starts from (None: the command's default) and its label smoothing (None: none given)."""
    verb: str
    data: str
    limit: str
    base: str | None = None
    eps: str | None = None


@dataclass(frozen=True)
class Task:
    """A task-adaptation curve: GRAM and BT adapted with the first n pairs of `pool`, scored on `test`."""
    title: str
    pool: str  # data file (no .jsonl) the task pairs come from
    test: str  # data file of the held-out side
    sizes: str  # key of SIZES: the n to adapt with
    limit: str  # key of LIMITS: max length
    tag: str  # evaluation folder under the run
    plot: str  # file under docs/results
    infix: str = ""  # in the adapted models' names: adapt-gram-<infix><n>


@dataclass(frozen=True)
class Family:
    """A kind of run tuned on its own: the command, the model it starts from (a name under models/, or the
    backbone), its training and dev files, the pairs a sweep run trains on, its max-length key."""
    verb: str
    base: str
    train: str
    dev: str
    sweep_pairs: int
    limit: str
    generative: bool


def adapted_name(model: str, task: Task, n: int) -> str:
    """The model adapted with n pairs of the task (n = 0: the stage-2 model itself)."""
    return model if n == 0 else f"adapt-{model}-{task.infix}{n}"


def model_path(run: Path, name: str) -> str:
    """A model name as `gram` reads it: the backbone by its name, anything else from the run's models/."""
    return BACKBONE if name in ("zero-shot", BACKBONE) else str(run / "models" / name)


def evaluation(plan, run: Path, name: str, model: str, sets: list[str], tag: str) -> Stage:
    """`gram eval` of one model on each set's data file, into run/<tag>/<model>/<set>/."""
    commands, creates = [], []
    label = BACKBONE if model == "zero-shot" else model  # the folder `gram eval` names after the model
    for s in sets:
        out = run / tag
        commands.append(["gram", "eval", "--model", model_path(run, model), "--benchmark", str(run / "data" / f"{s}.jsonl"),
                         "--output", str(out), "--max-length", str(plan.LIMITS["judgebench_tokens"]), *plan.EVAL_ARGS,
                         "--quiet"])
        creates.append(str(out / label / s / "reliability.png"))  # the last file gram eval writes
    return Stage(name, commands, creates)


def eval_stage(plan, run: Path, model: str, sets: list[str] | None = None) -> Stage:
    """eval-<model>: the plan's evaluation sets (in distribution and out of it), or eval-<model>-<sets>: those."""
    sets = sets or plan.SETS
    name = f"eval-{model}" + ("" if sets == plan.SETS else f"-{'-'.join(sets)}")
    return evaluation(plan, run, name, model, sets, "eval")
