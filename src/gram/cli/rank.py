"""`gram rank`: rank the responses of each prompt (best-of-n sets) with the judge, resumable."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..errors import InputError
from ..formats import read
from ..jobs import ranking
from ..jobs.settings import JudgeSpec
from ..options import group, opt
from ..records import ResponseSet
from .flags import (
    EngineFlags,
    FileJobOptions,
    JudgeOptions,
    ModelOptions,
    ReasoningOptions,
    add_command,
    strategy,
)


@dataclass
class RankOptions:
    loading: ModelOptions = group(ModelOptions)
    engine: EngineFlags = group(EngineFlags)
    input: str | None = opt(None, "response sets", required=True)
    format: str = opt("gram", "reader for the input (default gram)")
    output: str | None = opt(None, "JSONL: each set plus ranking, picked, comparisons", required=True)
    strategy: str = strategy()
    budget: int | None = opt(None, "at most this many comparisons per list", at_least=1)
    seed: int = opt(0, "seed for budgeted round-robin sampling")
    judging: JudgeOptions = group(JudgeOptions)
    reasoning: ReasoningOptions = group(ReasoningOptions)
    limit: int | None = opt(None, "the first N lists only", at_least=1)
    job: FileJobOptions = group(FileJobOptions)


def run(args) -> int:
    records = read(args.format, args.input).records
    sets = [r for r in records if isinstance(r, ResponseSet)]
    if len(sets) != len(records):
        raise InputError(args.input, None, None, "expected response sets (prompt, responses), found pairs")
    sets = sets[:args.limit] if args.limit else sets
    spec = JudgeSpec.from_args(args)
    judge = spec.load()
    settings = {"input": str(args.input), "format": args.format, "lists": len(sets), "strategy": args.strategy,
                "budget": args.budget, "seed": args.seed, **spec.identity()}
    method = ranking.RankMethod(args.strategy, args.budget, args.seed, args.orders)
    rows, seconds = ranking.rank_rows(judge, [s.to_row(defaults=False) for s in sets], args.output, settings, resume=args.resume,
                              method=method, quiet=args.quiet)
    report(args, rows, seconds)
    return 0


def report(args, rows: list[dict], seconds: float) -> None:
    """The end-of-run line: comparisons spent and, where the sets know their best response, how often the
    judge picked it beside what length alone would get. A list of one response picks it with no
    comparison: it counts for no accuracy."""
    comparisons = sum(row["comparisons"] for row in rows)
    judged = [r for r in rows if r.get("best") is not None and len(r["responses"]) > 1]
    known = len(judged)
    hits = sum(r["picked"] == r["best"] for r in judged)
    accuracy = f", picked the known best in {hits}/{known} ({hits / known:.3f})" if known else ""
    if single := sum(r.get("best") is not None and len(r["responses"]) < 2 for r in rows):
        accuracy += f" ({single} lists of one response not counted)"
    if known:  # beside the accuracy, what length alone would get, and how often the pick is the longest
        longest = [max(range(len(r["responses"])), key=lambda i, r=r: len(r["responses"][i])) for r in rows]
        counted = {id(r) for r in judged}
        known_rows = [(r, lng) for r, lng in zip(rows, longest) if id(r) in counted]
        by_length = sum(r["best"] == lng for r, lng in known_rows)
        picked_longest = sum(r["picked"] == lng for r, lng in zip(rows, longest))
        accuracy += (f"; \"longest wins\" {by_length}/{known} ({by_length / known:.3f}); picked the longest "
                     f"response in {picked_longest}/{len(rows)}")
    print(f"gram rank: {len(rows)} lists, strategy {args.strategy}, {comparisons} comparisons in {seconds:.1f} s"
          f"{accuracy} -> {args.output}", file=sys.stderr)


def add_parser(sub) -> None:
    add_command(sub, "rank", RankOptions, run, help="rank the responses of each prompt (best-of-n) with the judge",
                description="Input rows: response sets (prompt, responses[, best]) as `gram data` writes them, "
                            "or any set format with --format (e.g. rmb-bon).")
