"""Ranking n = 4, 8, 16 responses per prompt: comparisons and wall time of each strategy.

    python benchmarks/ranking.py [--prompts 2] [--max-tokens 160] [--write-docs]

Lists: AlpacaEval prompts whose first 16 model outputs are all short (at most --max-tokens tokens), a
seeded sample of --prompts of them; n takes the first n outputs. The judge is the embedded backbone
(its verdicts are near chance; what is measured is cost). Every strategy ranks the same lists in the same
process; the judge keeps the template head across calls, as it would in a ranking job.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"  # $GRAM_DATA overrides


def main(argv=None) -> int:
    from gram.eval.registry import data_dir
    from gram.formats import read
    from gram.scoring import Judge
    from gram.scoring.rank import STRATEGIES, rank

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--sizes", default="4,8,16")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args(argv)
    if not data_dir(default=SHARED_DATA).exists():
        print("ranking benchmark: ../shared/data not found (set GRAM_DATA); skipped")
        return 0
    sizes = [int(n) for n in args.sizes.split(",")]
    judge = Judge.load(args.model, max_length=2048)
    tok = judge.tokenizer
    sets = read("alpaca-eval", data_dir(default=SHARED_DATA) / "alpaca-eval/results").records
    fit = [s for s in sets if isinstance(s.prompt, str) and len(s.responses) >= max(sizes)
           and all(len(tok(r, add_special_tokens=False)["input_ids"]) <= args.max_tokens for r in s.responses[:max(sizes)])]
    lists = random.Random(0).sample(fit, min(args.prompts, len(fit)))
    print(f"{len(lists)} prompts of {len(fit)} with {max(sizes)} outputs <= {args.max_tokens} tokens", flush=True)

    rows = []
    for n in sizes:
        for strategy in STRATEGIES:
            start, comparisons, rounds = time.perf_counter(), 0, 0
            for s in lists:
                r = rank(judge, s.prompt, s.responses[:n], strategy)
                comparisons += r.comparisons
                rounds += r.rounds
            seconds = time.perf_counter() - start
            rows.append((n, strategy, comparisons / len(lists), rounds / len(lists), seconds / len(lists)))
            print(f"  n={n} {strategy}: {comparisons / len(lists):.0f} comparisons, {seconds / len(lists):.1f} s per list",
                  flush=True)
    lines = [f"`python benchmarks/ranking.py --prompts {args.prompts} --max-tokens {args.max_tokens}` "
             f"({time.strftime('%Y-%m-%d')}, {args.model}, both orders; per list, mean over {len(lists)} AlpacaEval "
             "prompts):", "", "| n | strategy | comparisons | judge calls (rounds) | seconds | seconds per comparison |",
             "|---|---|---|---|---|---|"]
    for n, strategy, c, r, sec in rows:
        lines.append(f"| {n} | {strategy} | {c:.0f} | {r:.0f} | {sec:.1f} | {sec / c:.2f} |")
    from bench_docs import report

    report("\n".join(lines), "ranking-n", args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
