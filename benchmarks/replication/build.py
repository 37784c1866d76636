"""A plan's stage list read into stages: each entry (kind, *arguments) built by the builder of its kind."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from . import finals, fixed, sweep
from .data import build_data
from .stages import Stage, eval_stage


def data_stage(plan, run: Path) -> Stage:
    return Stage("data", python=partial(build_data, plan=plan))


def scaled_builder(build):
    """A builder of the scaled run's own (it reads plans/scaled.py itself), called with a plan as the others are."""
    return lambda plan, run, *args: build(run, *args)


BUILDERS = {
    "data": data_stage,
    "eval": eval_stage,
    "train": fixed.train_stage,  # fixed settings (the small run)
    "adapt": fixed.adaptation_stages,
    "sweep": scaled_builder(sweep.sweep_stage),  # tuned on the dev split (the scaled run)
    "check": scaled_builder(lambda run, name: sweep.CHECKS[name](run)),
    "pretrain": scaled_builder(finals.pretrain_stage),
    "final": scaled_builder(finals.final_stage),
    "blind": scaled_builder(finals.blind_stage),
    "tuned-adapt": finals.adaptation_stages,
}


def stages(plan, run: Path) -> list[Stage]:
    """The plan's stages for the run folder, in the order they run. Built anew each time: a stage tuned by
    earlier ones has its settings once those have run."""
    out = []
    for kind, *arguments in plan.STAGES:
        built = BUILDERS[kind](plan, run, *arguments)
        out += built if isinstance(built, list) else [built]
    return out
