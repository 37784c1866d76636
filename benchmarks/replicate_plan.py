"""What the replication's stages are made of and its adaptation stages named after, shared by the run
(replicate.py, replicate_scaled.py) and its report (replicate_report.py) so that none imports another."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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


def stage1_pairs(shared: Path, held_out: set[str], tokenizer, max_tokens: int, count: int, per_prompt: int,
                 seed: int = 0) -> tuple[list, int]:
    """(the first `count` unlabeled pairs whose stage-1 sequence fits `max_tokens`, how many pairs were drawn):
    pairs of responses to prompts outside `held_out` from AlpacaEval outputs, Arena-Hard v0.1 answers and
    AlpacaFarm outputs, at most `per_prompt` per prompt, shuffled (seeded)."""
    import json
    import random

    from gram.data.pairs import pairs_from_set
    from gram.formats import read
    from gram.records import prompt_key
    from gram.templates import encode_pretrain

    rng = random.Random(seed)
    unlabeled = []
    for fmt, path in [("alpaca-eval", "alpaca-eval/results"), ("arena-hard", "arena-hard-auto/data/arena-hard-v0.1"),
                      ("alpaca-farm", "alpaca-farm/examples/data")]:
        for s in read(fmt, shared / path).records:
            if prompt_key(s.prompt) not in held_out and len(s.responses) >= 2:
                unlabeled += pairs_from_set(s, per_prompt=per_prompt, rng=rng)
    rng.shuffle(unlabeled)
    kept = []
    for p in unlabeled:
        if len(json.dumps([p.prompt, p.response_a, p.response_b])) < 8 * max_tokens:  # cheap bound first
            ids, _, _ = encode_pretrain(tokenizer, p.prompt, p.response_a, p.response_b)
            if len(ids) <= max_tokens:
                kept.append(p)
        if len(kept) == count:
            break
    return kept, len(unlabeled)
