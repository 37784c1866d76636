"""`gram score`: pairwise scores for a JSONL file of pairs, resumable and sharded (gram.jobs.runner).

    gram score --model smollm2-135m --input pairs.jsonl --output scores.jsonl --batch-size 8
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..io import read_jsonl
from ..jobs.runner import score_rows
from ..jobs.settings import JudgeSpec
from ..jobs.sharding import leave_process_group
from ..options import group, opt
from ..records import pair_from_row
from ..scoring import summarize
from .flags import (
    EngineFlags,
    FileJobOptions,
    JudgeOptions,
    ModelOptions,
    ReasoningOptions,
    add_command,
)

log = logging.getLogger("gram")


@dataclass
class ScoreOptions:
    loading: ModelOptions = group(ModelOptions)
    engine: EngineFlags = group(EngineFlags)
    input: str | None = opt(None, "JSONL file of pairs", required=True)
    output: str | None = opt(None, "JSONL file to write (atomically)", required=True)
    judging: JudgeOptions = group(JudgeOptions)
    reasoning: ReasoningOptions = group(ReasoningOptions)
    limit: int | None = opt(None, "score only the first N rows (a quick look)", at_least=1)
    job: FileJobOptions = group(FileJobOptions)


def run(args) -> int:
    rows = list(read_jsonl(args.input))
    if args.limit is not None:
        rows = rows[:args.limit]
    pairs = [pair_from_row(row, args.input, line) for line, row in rows]  # validate all before loading
    if Path(args.output).exists() and not args.resume:
        print(f"gram score: warning: {args.output} exists and will be replaced when this run finishes", file=sys.stderr)
    start = time.perf_counter()
    spec = JudgeSpec.from_args(args)
    judge = spec.load()
    log.info("loaded %s in %.1f s", args.model, time.perf_counter() - start)
    inputs = [row for _, row in rows]
    settings = {"input": str(args.input), "rows": len(inputs), **spec.identity()}
    done = score_rows(judge, pairs, inputs, args.output, settings, resume=args.resume, orders=args.orders,
                      quiet=args.quiet)
    leave_process_group()
    if done.rows is None:  # another process of a sharded run: rank 0 reports
        return 0
    summary = summarize(done.scores, done.seconds)
    consistency = ("n/a (one order)" if summary["position_consistency"] is None
                   else f"{summary['position_consistency']:.3f}")
    rate = done.scored * done.processes / done.seconds if done.seconds > 0 else float("nan")
    resumed = f" ({done.resumed} from the interrupted run)" if done.resumed else ""
    processes = f", {done.processes} processes" if done.processes > 1 else ""
    print(f"gram score: {summary['pairs']} pairs{resumed} in {done.seconds:.1f} s ({rate:.2f} pairs/s{processes}), "
          f"orders {args.orders}, truncated {summary['truncated']}, exact ties {summary['ties']}, "
          f"position consistency {consistency}{reasoning_summary(done.rows)} "
          f"-> {args.output}", file=sys.stderr)
    return 0


def reasoning_summary(rows: list[dict]) -> str:
    """A reasoning judge's counts for the summary line: rationales the budget cut, samples without a
    verdict; empty for the one-token judge."""
    if not rows or "think_truncated" not in rows[0]:
        return ""
    return (f", rationales cut by the budget {sum(r['think_truncated'] for r in rows)}, "
            f"samples without a verdict {sum(r['no_verdict'] for r in rows)}")


def add_parser(sub) -> None:
    add_command(sub, "score", ScoreOptions, run, help="pairwise scores for a JSONL file of pairs",
                description="Input rows: prompt (string or message list), response_a, response_b. "
                            "Output rows: every input field plus score_a, score_b, p_a_ab, p_a_ba.")
