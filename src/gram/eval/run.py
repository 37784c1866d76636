"""`gram eval`'s work: each model on each benchmark, results written to OUTPUT/MODEL/BENCHMARK, finished
ones kept by --resume. The command (gram.cli.eval) parses its flags, runs `evaluate` and prints what it
yields.

`--limit N` scores a seeded sample of N pairs stratified by category (benchmark files are often sorted by
category: their first N rows would be one category), never the first N rows.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..io import write_text_atomic
from ..jobs import sharding
from ..jobs.runner import score_rows
from ..jobs.settings import JudgeSpec
from ..jobs.sharding import leave_process_group
from ..model import backbone
from ..records import ResponseSet
from .registry import PROJECT_DATA, data_dir, load_benchmark
from .reports import comparison, model_label, summarize_results, write_reports
from .sets import rank_sets, summarize_sets, write_set_reports


@dataclass
class Finished:
    """One model on one benchmark: its results, and the lines the command prints for it."""

    results: dict
    lines: list[str] = field(default_factory=list)


def evaluate(args) -> Iterator[Finished]:
    """Every model on every benchmark (args: `gram eval`'s options, each model's judge a JudgeSpec of them). All data is read, and every model resolved, before any model loads. A process
    of a sharded run other than the first yields nothing."""
    models = args.model or [backbone.DEFAULT_MODEL]
    root = data_dir(default=PROJECT_DATA)
    benches = [load_benchmark(b, args.format, root) for b in args.benchmark]
    distinct_folders("--benchmark", args.benchmark, [name for name, _, _ in benches])
    distinct_folders("--model", models, [model_label(m) for m in models])
    specs = [JudgeSpec.from_args(args, model) for model in models]  # a missing third model is said now
    for model in models:
        for name, _, _ in benches:
            check_owner(Path(args.output) / model_label(model) / name, model)
    for model, spec in zip(models, specs):
        judge = None
        for name, pairs, identity in benches:
            pairs, sample = limited(pairs, args.limit, args.seed)
            where = Path(args.output) / model_label(model) / name
            settings = eval_settings(spec, {**identity, **sample}, len(pairs))
            finished = where / "results.json"
            if args.resume and finished.exists() and json.loads(finished.read_text()).get("settings") == settings:
                yield Finished(json.loads(finished.read_text()), [f"gram eval: {model} on {name}: already done -> {where}"])
                continue
            if judge is None:
                judge = spec.load()
            evaluate_one = rank_benchmark if pairs and isinstance(pairs[0], ResponseSet) else score_benchmark
            done = evaluate_one(args, judge, model, name, pairs, where, settings)
            if done is not None:
                yield done
    leave_process_group()


def same_model(a: str, b: str) -> bool:
    """Whether two --model values name one model (a directory by its resolved path, else by name)."""
    return a == b or (Path(a).exists() and Path(b).exists() and Path(a).resolve() == Path(b).resolve())


def check_owner(where: Path, model: str) -> None:
    """Results are written to OUTPUT/<the model's last path component>/BENCHMARK: runs/exp1/checkpoint-500
    and runs/exp2/checkpoint-500 share a folder. Another model's results there are never replaced: the run
    refuses before any scoring, naming them."""
    try:
        owner = json.loads((where / "results.json").read_text())["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if not same_model(owner, model):
        raise InputError(where / "results.json", None, "model", f"holds the results of {owner}, not {model}: "
                         "give this model another --output (or move those results away)")


def write_comparison(output: str | Path, everything: list[dict]) -> str:
    """OUTPUT/comparison.md: this run's results and every other model's results in OUTPUT, side by side;
    returns its text."""
    seen = {(r["model"], r["data"]["benchmark"]) for r in everything}
    for path in sorted(Path(output).glob("*/*/results.json")):
        try:
            earlier = json.loads(path.read_text())
            key = (earlier["model"], earlier["data"]["benchmark"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if key not in seen and "overall" in earlier:
            everything, seen = [*everything, earlier], seen | {key}
    table = comparison(everything)
    write_text_atomic(Path(output) / "comparison.md", table)
    return table


def limited(records: list, limit: int | None, seed: int) -> tuple[list, dict]:
    """(records, what the sample was) for --limit: `limit` records drawn with `seed`, stratified by
    category: one of each category (or source, where a record has none) first (the largest first, where the limit is below their number),
    then each category in proportion to its size; kept in file order. No limit, or one at least the set's
    size: every record, and an empty note."""
    if not limit or limit >= len(records):
        return records, {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[record.category or record.source].append(i)
    rng, keyed = random.Random(seed), []
    for category in sorted(groups):
        members = groups[category]
        rng.shuffle(members)
        keyed += [(j > 0, (j + 0.5) / len(members), category, i) for j, i in enumerate(members)]
    chosen = sorted(i for *_, i in sorted(keyed)[:limit])
    return [records[i] for i in chosen], {"sample": {"limit": limit, "seed": seed, "of": len(records),
                                                     "stratified_by": "category"}}


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


def eval_settings(spec: JudgeSpec, identity: dict, evaluated: int) -> dict:
    """What identifies one model's results on one benchmark (a finished one is kept by --resume)."""
    return {"data": {**identity, "evaluated": evaluated}, **spec.identity()}


def rank_benchmark(args, judge, model: str, name: str, sets, where: Path, settings: dict) -> Finished | None:
    """RewardBench 2: rank each set, official rules (on the main process only)."""
    if sharding.world()[0] > 0:
        return None
    rows, seconds = rank_sets(judge, sets, where / "scores.jsonl", settings, resume=args.resume,
                              desc=f"{model_label(model)} {name}", quiet=args.quiet)
    results = {"model": model, "data": settings["data"], **summarize_sets(sets, rows, seconds), "settings": settings}
    write_set_reports(where, results)
    return Finished(results, [f"gram eval: {model} on {name}: RewardBench 2 score {results['overall']:.3f} over "
                              f"{results['n']} sets ({results['seconds']} s) -> {where}"])


def score_benchmark(args, judge, model: str, name: str, pairs, where: Path, settings: dict) -> Finished | None:
    """Labeled pairs: score both orders, write results, tables and plots (rank 0 of a sharded run)."""
    done = score_rows(judge, pairs, [p.to_row() for p in pairs], where / "scores.jsonl", settings,
                      resume=args.resume, orders=args.orders, desc=f"{model_label(model)} {name}", quiet=args.quiet)
    if done.rows is None:  # another process of a sharded run: rank 0 reports
        return None
    results = {"model": model, "orders": args.orders, "data": settings["data"],
               **summarize_results(pairs, done.scores, done.seconds), "settings": settings}
    write_reports(where, results)
    return Finished(results, score_lines(args, model, name, where, results))


def score_lines(args, model: str, name: str, where: Path, results: dict) -> list[str]:
    """What `gram eval` says of one benchmark: warnings (unlabeled, shortened pairs), the sample a --limit
    drew, then accuracy, length-controlled accuracy and the share of longer picks."""
    lines, head = [], f"gram eval: {model} on {name}:"
    if results["unlabeled"]:  # scored, but no accuracy can count them
        lines.append(f"gram eval: warning: {model} on {name}: {results['unlabeled']} of "
                     f"{results['n'] + results['ties_excluded'] + results['unlabeled']} pairs "
                     "have no label" + (f"; the accuracy is over the {results['n']} labeled ones" if results["n"] else
                                        ": no accuracy (label the pairs a / b, or use `gram score` for unlabeled ones)"))
    if results["truncated"]:
        lines.append(f"gram eval: warning: {model} on {name}: {results['truncated']} pairs were over "
                     + (f"--max-length {args.max_length}" if args.max_length else "the model's context")
                     + " and were shortened (their middles cut)")
    if sample := results["data"].get("sample"):
        lines.append(f"{head} --limit {sample['limit']}: a sample of {sample['limit']} of {sample['of']} pairs, "
                     f"stratified by category, seed {sample['seed']}")
    acc = "-" if results["overall"] is None else f"{results['overall']:.3f}"
    L = results["length"]
    lc = "-" if L["length_controlled_accuracy"] is None else f"{L['length_controlled_accuracy']:.3f}"
    longer = "-" if L["picks_longer"] is None else f"{L['picks_longer']:.2f}"
    lines.append(f"{head} accuracy {acc} over {results['n']} pairs, length-controlled {lc}, "
                 f"picks the longer {longer} ({results['seconds']} s) -> {where}")
    return lines
