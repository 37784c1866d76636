"""What the replication's stages are made of and its adaptation stages named after, shared by the run
(replicate.py, replicate_scaled.py) and its report (replicate_report.py) so that none imports another."""

from __future__ import annotations

from dataclasses import dataclass, field


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


TASKS = {"hh": Task("HH-RLHF harmlessness", "hh_pool", "hh-test", "adapt_n", "hh_tokens", "adapt-eval", "adaptation.png"),
         "summ": Task("RMB Summarization", "summ_pool", "summ-test", "summ_adapt_n", "summ_tokens", "summ-eval",
                      "adaptation_summ.png")}


def adapted_name(model: str, task: str, n: int) -> str:
    """adapt-gram-50 for HH-RLHF (the first task, named before there was a second), adapt-gram-summ-40 after."""
    if n == 0:
        return model  # the stage-2 model itself
    return f"adapt-{model}-{n}" if task == "hh" else f"adapt-{model}-{task}-{n}"


@dataclass
class Stage:
    name: str
    commands: list[list[str]] = field(default_factory=list)  # run in order; each skipped when its `creates` exists
    creates: list[str | None] = field(default_factory=list)
    python: object = None  # or an in-process function(run_dir), run before the commands
    after: object = None  # an in-process function(run_dir) run once the stage is done and archived
