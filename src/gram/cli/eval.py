"""`gram eval`: score benchmarks with one or more models and write results, tables and plots.

    gram eval --model runs/stage2 --benchmark judgebench --benchmark llmbar-natural --output eval/stage2
    gram eval --model smollm2-135m --model runs/stage2 --benchmark hhh --output eval/compare
    gram eval --model M --benchmark my_pairs.jsonl --output DIR              # any gram pair file
    gram eval --model M --benchmark rb.parquet --format rewardbench --output DIR

Named benchmarks are read under $GRAM_DATA, else under ../shared/data (this project's checkout layout).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..eval.registry import BENCHMARKS, HUB_BENCHMARKS, data_dir, load_benchmark
from ..eval.reports import comparison, model_label, summarize_results, write_reports
from ..eval.sets import rank_sets, summarize_sets, write_set_reports
from ..io import write_text_atomic
from ..jobs import sharding
from ..jobs.runner import score_rows
from ..jobs.settings import judge_settings
from ..jobs.sharding import leave_process_group
from ..model import backbone
from ..options import group, opt
from ..records import ResponseSet
from ..scoring import load_judge
from ..scoring.judge import trained_template
from .flags import EngineFlags, EvalJudgeOptions, ModelsOptions, add_command, judge_options, quiet

PROJECT_DATA = "../shared/data"  # where the data sits beside a checkout of this project


@dataclass
class EvalOptions:
    loading: ModelsOptions = group(ModelsOptions)
    engine: EngineFlags = group(EngineFlags)
    benchmark: list[str] | None = opt(None, "a benchmark name or a file of labeled pairs (repeat for several)",
                                      required=True, repeat=True)
    format: str | None = opt(None, "reader for benchmark files (default gram)")
    output: str | None = opt(None, "directory for results, tables and plots", required=True)
    judging: EvalJudgeOptions = group(EvalJudgeOptions)
    limit: int | None = opt(None, "the first N pairs of each benchmark only", at_least=1)
    resume: bool = opt(False, "keep finished benchmarks and go on from where an interrupted one stopped")
    quiet: bool = quiet()


def run(args) -> int:
    models = args.model or [backbone.DEFAULT_MODEL]
    root = data_dir(default=PROJECT_DATA)
    benches = [load_benchmark(b, args.format, root) for b in args.benchmark]  # read all data before any model
    distinct_folders("--benchmark", args.benchmark, [name for name, _, _ in benches])
    distinct_folders("--model", models, [model_label(m) for m in models])
    for model in models:  # a missing third model is said now, not after scoring the first two
        backbone.resolve(model)
    everything = []
    for model in models:
        judge = None
        for name, pairs, identity in benches:
            pairs = pairs[:args.limit] if args.limit else pairs
            where = Path(args.output) / model_label(model) / name
            settings = eval_settings(args, model, identity, len(pairs))
            finished = where / "results.json"
            if args.resume and finished.exists() and json.loads(finished.read_text()).get("settings") == settings:
                everything.append(json.loads(finished.read_text()))
                print(f"gram eval: {model} on {name}: already done -> {where}", file=sys.stderr)
                continue
            if judge is None:
                judge = load_judge(model, device=args.device, dtype=args.dtype, **judge_options(args))
            evaluate = rank_benchmark if pairs and isinstance(pairs[0], ResponseSet) else score_benchmark
            results = evaluate(args, judge, model, name, pairs, where, settings)
            if results is not None:
                everything.append(results)
    leave_process_group()
    if sharding.world()[0] > 0:
        return 0
    write_text_atomic(Path(args.output) / "comparison.md", comparison(everything))
    print(comparison(everything))
    return 0


def distinct_folders(flag: str, given: list[str], names: list[str]) -> None:
    """Results go to OUTPUT/MODEL/BENCHMARK: two flags that name one folder would overwrite each other, so
    the run refuses before it starts."""
    first: dict[str, str] = {}
    for spec, name in zip(given, names):
        if name in first:
            again = "is given twice" if first[name] == spec else f"writes to the folder {name!r}, as {first[name]} does"
            raise InputError(spec, None, None, f"{flag} {again}: each needs a results folder of its own "
                             "(rename or link one of them)")
        first[name] = spec


def eval_settings(args, model: str, identity: dict, evaluated: int) -> dict:
    """What identifies one model's results on one benchmark (a finished one is kept by --resume)."""
    return {"data": {**identity, "evaluated": evaluated}, **judge_settings(args, model),
            "template": args.template or trained_template(backbone.resolve(model))}


def rank_benchmark(args, judge, model: str, name: str, sets, where: Path, settings: dict) -> dict | None:
    """RewardBench 2: rank each set, official rules (on the main process only)."""
    if sharding.world()[0] > 0:
        return None
    rows, seconds = rank_sets(judge, sets, where / "scores.jsonl", settings, resume=args.resume,
                              desc=f"{model_label(model)} {name}", quiet=args.quiet)
    results = {"model": model, "data": settings["data"], **summarize_sets(sets, rows, seconds), "settings": settings}
    write_set_reports(where, results)
    print(f"gram eval: {model} on {name}: RewardBench 2 score {results['overall']:.3f} over "
          f"{results['n']} sets ({results['seconds']} s) -> {where}", file=sys.stderr)
    return results


def score_benchmark(args, judge, model: str, name: str, pairs, where: Path, settings: dict) -> dict | None:
    """Labeled pairs: score both orders, write results, tables and plots (rank 0 of a sharded run)."""
    done = score_rows(judge, pairs, [p.to_row() for p in pairs], where / "scores.jsonl", settings,
                      resume=args.resume, orders=args.orders, desc=f"{model_label(model)} {name}", quiet=args.quiet)
    if done.rows is None:  # another process of a sharded run: rank 0 reports
        return None
    results = {"model": model, "orders": args.orders, "data": settings["data"],
               **summarize_results(pairs, done.scores, done.seconds), "settings": settings}
    write_reports(where, results)
    if results["unlabeled"]:  # scored, but no accuracy can count them
        print(f"gram eval: warning: {model} on {name}: {results['unlabeled']} of {len(pairs)} pairs have no label"
              + (f"; the accuracy is over the {results['n']} labeled ones" if results["n"] else
                 ": no accuracy (label the pairs a / b, or use `gram score` for unlabeled ones)"), file=sys.stderr)
    if results["truncated"]:
        print(f"gram eval: warning: {model} on {name}: {results['truncated']} pairs were over "
              + (f"--max-length {args.max_length}" if args.max_length else "the model's context")
              + " and were shortened (their middles cut)", file=sys.stderr)
    acc = "-" if results["overall"] is None else f"{results['overall']:.3f}"
    L = results["length"]
    lc = "-" if L["length_controlled_accuracy"] is None else f"{L['length_controlled_accuracy']:.3f}"
    longer = "-" if L["picks_longer"] is None else f"{L['picks_longer']:.2f}"
    print(f"gram eval: {model} on {name}: accuracy {acc} over {results['n']} pairs, length-controlled {lc}, "
          f"picks the longer {longer} ({results['seconds']} s) -> {where}", file=sys.stderr)
    return results


def add_parser(sub) -> None:
    add_command(sub, "eval", EvalOptions, run,
                help="accuracy, consistency and calibration of one or more models on benchmarks",
                description="Benchmarks by name: " + "; ".join(f"{b.name}: {b.note}" for b in BENCHMARKS.values())
                + ". From the hub, where it is reachable: " + "; ".join(f"{k}: {v[0]} ({v[1]})"
                                                                      for k, v in HUB_BENCHMARKS.items())
                + ". Or a file of labeled pairs (gram rows, or --format F), or a hub dataset id "
                  "org/name[:split] with --format.")
