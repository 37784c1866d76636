"""The `gram` command.

    gram demo
    gram score --model smollm2-135m --input pairs.jsonl --output scores.jsonl --batch-size 8
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from . import backbone
from .jsonl import InputError, check_prompt, pair_from_row, read_jsonl, write_jsonl_atomic
from .templates import JUDGE_TAILS, TemplateError

log = logging.getLogger("gram")


def add_model_args(parser: argparse.ArgumentParser, several: bool = False) -> None:
    parser.add_argument("--model", default=None if several else backbone.DEFAULT_MODEL,
                        action="append" if several else "store",
                        help=f"embedded name ({', '.join(backbone.EMBEDDED)}), model directory or hub id "
                             f"(default: {backbone.DEFAULT_MODEL})" + ("; repeat for several" if several else ""))
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="weights dtype; auto = bfloat16 on a GPU that has it, float32 otherwise")


SCORE_CHUNK = 64  # pairs scored, then appended to the output, at a time


def cmd_score(args) -> int:
    from tqdm import tqdm

    from . import sharding
    from .evaluate import SCORE_FIELDS, score_fields, scores_of
    from .judge import Judge, summarize
    from .resume import PartialOutput

    rows = list(read_jsonl(args.input))
    if args.limit is not None:
        rows = rows[:args.limit]
    pairs = [pair_from_row(row, args.input, line) for line, row in rows]  # validate all before loading
    start = time.perf_counter()
    judge = Judge.load(args.model, device=args.device, dtype=args.dtype, max_length=args.max_length,
                       batch_size=args.batch_size, template=args.template,
                       max_batch_tokens=args.max_batch_tokens)
    log.info("loaded %s in %.1f s", args.model, time.perf_counter() - start)
    inputs = [row for _, row in rows]
    settings = {"input": str(args.input), "model": args.model, "dtype": args.dtype, "orders": args.orders,
                "template": args.template, "max_length": args.max_length, "rows": len(inputs)}
    rank, size = sharding.world()
    lo, hi = sharding.bounds(len(pairs), rank, size)  # this process's slice (all of it without a launcher)
    out = PartialOutput(sharding.shard_path(args.output, rank, size), {**settings, "slice": [lo, hi]}, args.resume,
                        chunk=SCORE_CHUNK)
    out.check(inputs[lo:hi], produced=SCORE_FIELDS)
    resumed_at = out.done
    start = time.perf_counter()
    with tqdm(total=hi - lo, initial=out.done, unit="pair", file=sys.stderr, desc="scoring",
              disable=args.quiet or rank > 0) as bar:
        # fixed chunks from the slice's first row: a resumed run sends the judge the same batches as a clean one
        for first in range(lo + out.done, hi, SCORE_CHUNK):
            chunk = judge.compare_many(pairs[first:min(first + SCORE_CHUNK, hi)], orders=args.orders, progress=bar)
            out.append([{**row, **score_fields(s)} for row, s in zip(inputs[first:], chunk)])
    seconds = time.perf_counter() - start
    out.finish()
    if size > 1:
        sharding.barrier()
        if rank == 0:
            write_jsonl_atomic(args.output, sharding.merged_rows(args.output, size))
            sharding.remove_shards(args.output, size)
        sharding.finish()
        if rank > 0:
            return 0
        out_rows = [json.loads(line) for line in open(args.output, encoding="utf-8")]
    else:
        out_rows = out.rows
    scores = [scores_of(r) for r in out_rows]

    summary = summarize(scores, seconds)
    consistency = ("n/a (one order)" if summary["position_consistency"] is None
                   else f"{summary['position_consistency']:.3f}")
    rate = (hi - lo - resumed_at) * size / seconds if seconds > 0 else float("nan")
    resumed = f" ({resumed_at} from the interrupted run)" if resumed_at else ""
    processes = f", {size} processes" if size > 1 else ""
    print(f"gram score: {summary['pairs']} pairs{resumed} in {seconds:.1f} s ({rate:.2f} pairs/s{processes}), "
          f"orders {args.orders}, truncated {summary['truncated']}, position consistency {consistency} "
          f"-> {args.output}", file=sys.stderr)
    return 0


def cmd_rank(args) -> int:
    from tqdm import tqdm

    from .formats import read
    from .judge import Judge
    from .rank import rank
    from .records import ResponseSet
    from .resume import PartialOutput

    records = read(args.format, args.input).records
    sets = [r for r in records if isinstance(r, ResponseSet)]
    if len(sets) != len(records):
        raise InputError(args.input, None, None, "expected response sets (prompt, responses), found pairs")
    sets = sets[:args.limit] if args.limit else sets
    judge = Judge.load(args.model, device=args.device, dtype=args.dtype, max_length=args.max_length,
                       batch_size=args.batch_size)
    settings = {"input": str(args.input), "format": args.format, "model": args.model, "dtype": args.dtype,
                "strategy": args.strategy,
                "budget": args.budget, "seed": args.seed, "max_length": args.max_length, "lists": len(sets)}
    out = PartialOutput(args.output, settings, args.resume)
    out.check([s.to_row() for s in sets], produced=("ranking", "picked", "comparisons", "rounds", "bt_scores",
                                                    "budget_exhausted"))
    start = time.perf_counter()
    for s in tqdm(sets[out.done:], unit="list", file=sys.stderr, disable=args.quiet, initial=out.done, total=len(sets)):
        r = rank(judge, s.prompt, s.responses, args.strategy, budget=args.budget, seed=args.seed)
        out.append([{**s.to_row(), "ranking": r.order, "picked": r.best, "comparisons": r.comparisons,
                     "rounds": r.rounds, "bt_scores": r.scores, "budget_exhausted": r.budget_exhausted}])
    seconds = time.perf_counter() - start
    out.finish()
    comparisons = sum(row["comparisons"] for row in out.rows)
    known = sum(row["best"] is not None for row in out.rows)
    hits = sum(row["best"] is not None and row["picked"] == row["best"] for row in out.rows)
    accuracy = f", picked the known best in {hits}/{known} ({hits / known:.3f})" if known else ""
    print(f"gram rank: {len(sets)} lists, strategy {args.strategy}, {comparisons} comparisons in {seconds:.1f} s"
          f"{accuracy} -> {args.output}", file=sys.stderr)
    return 0


def cmd_bon(args) -> int:
    from tqdm import tqdm

    from .bon import best_of_n
    from .judge import Judge

    if args.prompt:
        prompts = list(args.prompt)
    else:
        prompts = [check_prompt(row.get("prompt"), args.input, line) for line, row in read_jsonl(args.input)]
    policy, tokenizer = backbone.load(args.policy, device=args.device, dtype=args.dtype)
    judge = Judge.load(args.model, device=args.device, dtype=args.dtype, max_length=args.max_length)
    rows, start = [], time.perf_counter()
    for i, prompt in enumerate(tqdm(prompts, unit="prompt", file=sys.stderr, disable=args.quiet)):
        responses, r = best_of_n(policy, tokenizer, judge, prompt, args.n, args.strategy, args.budget,
                                 max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed + i)
        rows.append({"prompt": prompt, "responses": responses, "best": r.best, "best_response": responses[r.best],
                     "ranking": r.order, "comparisons": r.comparisons})
    write_jsonl_atomic(args.output, rows)
    print(f"gram bon: {len(rows)} prompts x {args.n} samples, strategy {args.strategy}, "
          f"{sum(r['comparisons'] for r in rows)} comparisons in {time.perf_counter() - start:.1f} s -> {args.output}",
          file=sys.stderr)
    return 0


def cmd_demo(args) -> int:
    from .demo import run

    return run(args.model, device=args.device, dtype=args.dtype)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gram", description="Generative foundation reward models (GRAM).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="judge a few example pairs end to end and print a table")
    add_model_args(demo)
    demo.set_defaults(func=cmd_demo)

    score = sub.add_parser("score", help="pairwise scores for a JSONL file of pairs",
                           description="Input rows: prompt (string or message list), response_a, response_b. "
                                       "Output rows: every input field plus score_a, score_b, p_a_ab, p_a_ba.")
    add_model_args(score)
    score.add_argument("--input", required=True, help="JSONL file of pairs")
    score.add_argument("--output", required=True, help="JSONL file to write (atomically)")
    score.add_argument("--batch-size", type=int, default=8, help="pairs per forward pass (default 8)")
    score.add_argument("--max-batch-tokens", type=int, default=None,
                       help="cap on rows x padded length per forward pass (default: 2048 on the CPU, where "
                            "bigger batches of long pairs are slower; none on a GPU)")
    score.add_argument("--max-length", type=int, default=2048,
                       help="tokens per judge prompt; longer pairs lose the middles of their responses, "
                            "then of the prompt (default 2048)")
    score.add_argument("--orders", choices=["both", "ab"], default="both",
                       help="both: average the two presentation orders (default); ab: response_a first only, "
                            "half the cost, position bias not removed")
    score.add_argument("--template", choices=sorted(JUDGE_TAILS), default="gram",
                       help="gram: the reference fine-tuning prompt ending in '#Preferred:' (default); "
                            "gram-eval: the reference evaluation scripts' prompt")
    score.add_argument("--limit", type=int, default=None, help="score only the first N rows (a quick look)")
    score.add_argument("--resume", action="store_true",
                       help="go on from where an interrupted run with the same output stopped")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    score.set_defaults(func=cmd_score)

    rank_p = sub.add_parser("rank", help="rank the responses of each prompt (best-of-n) with the judge",
                            description="Input rows: response sets (prompt, responses[, best]) as `gram data` "
                                        "writes them, or any set format with --format (e.g. rmb-bon).")
    add_model_args(rank_p)
    rank_p.add_argument("--input", required=True, help="response sets")
    rank_p.add_argument("--format", default="gram", help="reader for the input (default gram)")
    rank_p.add_argument("--output", required=True, help="JSONL: each set plus ranking, picked, comparisons")
    rank_p.add_argument("--strategy", choices=["linear", "knockout", "round-robin", "selection"], default="knockout",
                        help="linear (reference), knockout (batched rounds), round-robin (Bradley-Terry scores), "
                             "selection (full ranking)")
    rank_p.add_argument("--budget", type=int, default=None, help="at most this many comparisons per list")
    rank_p.add_argument("--seed", type=int, default=0, help="seed for budgeted round-robin sampling")
    rank_p.add_argument("--batch-size", type=int, default=8, help="pairs per forward pass")
    rank_p.add_argument("--max-length", type=int, default=2048, help="tokens per judge prompt")
    rank_p.add_argument("--limit", type=int, default=None, help="the first N lists only")
    rank_p.add_argument("--resume", action="store_true",
                        help="go on from where an interrupted run with the same output stopped")
    rank_p.add_argument("--quiet", action="store_true", help="no progress bar")
    rank_p.set_defaults(func=cmd_rank)

    bon = sub.add_parser("bon", help="best-of-n: sample n responses from a policy, keep the judge's pick")
    add_model_args(bon)
    source = bon.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="JSONL rows with a `prompt` (string or messages)")
    source.add_argument("--prompt", action="append", help="a prompt (repeat for several)")
    bon.add_argument("--output", required=True, help="JSONL: prompt, responses, best, best_response, ranking")
    bon.add_argument("--policy", default=backbone.DEFAULT_MODEL, help="the model that writes the responses")
    bon.add_argument("--n", type=int, default=4, help="samples per prompt (default 4)")
    bon.add_argument("--strategy", choices=["linear", "knockout", "round-robin", "selection"], default="knockout")
    bon.add_argument("--budget", type=int, default=None, help="at most this many comparisons per prompt")
    bon.add_argument("--max-new-tokens", type=int, default=256)
    bon.add_argument("--temperature", type=float, default=0.8)
    bon.add_argument("--seed", type=int, default=0, help="sampling seed (prompt i uses seed + i)")
    bon.add_argument("--max-length", type=int, default=2048, help="tokens per judge prompt")
    bon.add_argument("--quiet", action="store_true", help="no progress bar")
    bon.set_defaults(func=cmd_bon)

    from .data_cli import add_parser as add_data_parser
    from .eval_cli import add_parser as add_eval_parser
    from .train_cli import add_parsers as add_train_parsers

    add_data_parser(sub)
    add_train_parsers(sub)
    add_eval_parser(sub, add_model_args)
    from .serve import add_parser as add_serve_parser

    add_serve_parser(sub, add_model_args)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    for value, name in ((getattr(args, "batch_size", 1), "--batch-size"), (getattr(args, "max_length", 1), "--max-length")):
        if value is not None and value < 1:
            print(f"gram: error: {name} must be at least 1", file=sys.stderr)
            return 2
    try:
        return args.func(args)
    except (InputError, backbone.BackboneError, TemplateError) as err:
        print(f"gram: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
