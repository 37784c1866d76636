"""`gram eval`: score benchmarks with one or more models and write results, tables and plots.

    gram eval --model runs/stage2 --benchmark judgebench --benchmark llmbar-natural --output eval/stage2
    gram eval --model smollm2-135m --model runs/stage2 --benchmark hhh --output eval/compare
    gram eval --model M --benchmark my_pairs.jsonl --output DIR              # any gram pair file
    gram eval --model M --benchmark rb.parquet --format rewardbench --output DIR

Named benchmarks are read under $GRAM_DATA, else under ../shared/data (this project's checkout layout).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..eval.registry import BENCHMARKS, HUB_BENCHMARKS
from ..eval.run import evaluate, write_comparison
from ..jobs import sharding
from ..options import group, opt
from .flags import (
    EngineFlags,
    EvalJudgeOptions,
    ModelsOptions,
    ReasoningOptions,
    add_command,
    quiet,
)


@dataclass
class EvalOptions:
    loading: ModelsOptions = group(ModelsOptions)
    engine: EngineFlags = group(EngineFlags)
    benchmark: list[str] | None = opt(None, "a benchmark name or a file of labeled pairs (repeat for several)",
                                      required=True, repeat=True)
    format: str | None = opt(None, "reader for benchmark files (default gram)")
    output: str | None = opt(None, "directory for results, tables and plots", required=True)
    judging: EvalJudgeOptions = group(EvalJudgeOptions)
    reasoning: ReasoningOptions = group(ReasoningOptions)
    limit: int | None = opt(None, "a sample of N pairs of each benchmark, stratified by category (--seed)", at_least=1)
    seed: int = opt(0, "the seed of --limit's sample (default 0)")
    resume: bool = opt(False, "keep finished benchmarks and go on from where an interrupted one stopped")
    quiet: bool = quiet()


def run(args) -> int:
    everything = []
    for finished in evaluate(args):
        print("\n".join(finished.lines), file=sys.stderr)
        everything.append(finished.results)
    if sharding.world()[0] > 0:
        return 0
    print(write_comparison(args.output, everything))
    return 0


def add_parser(sub) -> None:
    add_command(sub, "eval", EvalOptions, run,
                help="accuracy, consistency and calibration of one or more models on benchmarks",
                description="Benchmarks by name: " + "; ".join(f"{b.name}: {b.note}" for b in BENCHMARKS.values())
                + ". From the hub, where it is reachable: " + "; ".join(f"{k}: {v[0]} ({v[1]})"
                                                                      for k, v in HUB_BENCHMARKS.items())
                + ". Or a file of labeled pairs (gram rows, or --format F), or a hub dataset id "
                  "org/name[:split] with --format.")
