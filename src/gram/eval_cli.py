"""`gram eval`: see gram.evaluate."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def add_parser(sub, add_model_args) -> None:
    from .evaluate import BENCHMARKS

    p = sub.add_parser("eval", help="accuracy, consistency and calibration of one or more models on benchmarks",
                       description="Benchmarks by name: " + "; ".join(f"{b.name}: {b.note}" for b in BENCHMARKS.values())
                       + ". Or a file of labeled pairs (gram rows, or --format F).")
    add_model_args(p, several=True)
    p.add_argument("--benchmark", action="append", required=True,
                   help="a benchmark name or a file of labeled pairs (repeat for several)")
    p.add_argument("--format", default=None, help="reader for benchmark files (default gram)")
    p.add_argument("--output", required=True, help="directory for results, tables and plots")
    p.add_argument("--batch-size", type=int, default=8, help="pairs per forward pass")
    p.add_argument("--max-length", type=int, default=2048, help="tokens per judge prompt")
    p.add_argument("--orders", choices=["both", "ab"], default="both", help="presentation orders scored")
    p.add_argument("--limit", type=int, default=None, help="the first N pairs of each benchmark only")
    p.add_argument("--resume", action="store_true",
                   help="keep finished benchmarks and go on from where an interrupted one stopped")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from tqdm import tqdm

    from . import backbone, sharding
    from .evaluate import (
        EVAL_CHUNK,
        comparison,
        load_benchmark,
        model_label,
        score_pairs,
        scores_of,
        summarize_results,
        write_reports,
    )
    from .judge import Judge
    from .resume import PartialOutput

    models = args.model or [backbone.DEFAULT_MODEL]
    benches = [load_benchmark(b, args.format) for b in args.benchmark]  # read all data before any model
    out = Path(args.output)
    everything = []
    rank, size = sharding.world()
    for model in models:
        judge = None
        for name, pairs, identity in benches:
            pairs = pairs[:args.limit] if args.limit else pairs
            where = out / model_label(model) / name
            settings = {"model": model, "dtype": args.dtype, "data": {**identity, "evaluated": len(pairs)},
                        "orders": args.orders, "max_length": args.max_length}
            finished = where / "results.json"
            if args.resume and finished.exists() and json.loads(finished.read_text()).get("settings") == settings:
                everything.append(json.loads(finished.read_text()))
                print(f"gram eval: {model} on {name}: already done -> {where}", file=sys.stderr)
                continue
            if judge is None:
                judge = Judge.load(model, device=args.device, dtype=args.dtype, max_length=args.max_length,
                                   batch_size=args.batch_size)
            lo, hi = sharding.bounds(len(pairs), rank, size)  # this process's slice (all without a launcher)
            partial = PartialOutput(sharding.shard_path(where / "scores.jsonl", rank, size),
                                    {**settings, "slice": [lo, hi]}, args.resume, chunk=EVAL_CHUNK)
            partial.check([p.to_row() for p in pairs[lo:hi]])
            start = time.perf_counter()
            with tqdm(total=hi - lo, unit="pair", file=sys.stderr, desc=f"{model_label(model)} {name}",
                      disable=args.quiet or rank > 0) as bar:
                scores = score_pairs(judge, pairs[lo:hi], args.orders, bar, partial)
            seconds = time.perf_counter() - start
            if size > 1:
                sharding.barrier()
                if rank > 0:
                    continue
                scores = [scores_of(r) for r in sharding.merged_rows(where / "scores.jsonl", size)]
                sharding.remove_shards(where / "scores.jsonl", size)
            results = {"model": model, "orders": args.orders, "data": settings["data"],
                       **summarize_results(pairs, scores, seconds), "settings": settings}
            write_reports(where, results, pairs, scores)
            everything.append(results)
            acc = "-" if results["overall"] is None else f"{results['overall']:.3f}"
            print(f"gram eval: {model} on {name}: accuracy {acc} over {results['n']} pairs "
                  f"({results['seconds']} s) -> {where}", file=sys.stderr)
    sharding.finish()
    if rank > 0:
        return 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.md").write_text(comparison(everything))
    print(comparison(everything))
    return 0
