"""`gram bon`: best-of-n: sample n responses from a policy, keep the judge's pick."""

from __future__ import annotations

import sys

from .. import backbone
from ..io import check_prompt, read_jsonl
from ..jobs.ranking import RankOptions, rank_rows
from ..scoring import load_judge
from ..scoring.bon import sample
from .flags import RESUME, add_judge_args, add_model_args, add_run_args, add_strategy, judge_options


def add_parser(sub) -> None:
    p = sub.add_parser("bon", help="best-of-n: sample n responses from a policy, keep the judge's pick")
    add_model_args(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="JSONL rows with a `prompt` (string or messages)")
    source.add_argument("--prompt", action="append", help="a prompt (repeat for several)")
    p.add_argument("--output", required=True,
                   help="JSONL: prompt, responses, ranking, picked, picked_response, comparisons")
    p.add_argument("--policy", default=backbone.DEFAULT_MODEL, help="the model that writes the responses")
    p.add_argument("--n", type=int, default=4, help="samples per prompt (default 4)")
    add_strategy(p)
    p.add_argument("--budget", type=int, default=None, help="at most this many comparisons per prompt")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0, help="sampling seed (prompt i uses seed + i)")
    add_judge_args(p, orders=True)
    add_run_args(p, limit="the first N prompts only", resume=RESUME)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.prompt:
        prompts = list(args.prompt)
    else:
        prompts = [check_prompt(row.get("prompt"), args.input, line) for line, row in read_jsonl(args.input)]
    prompts = prompts[:args.limit] if args.limit else prompts
    policy, tokenizer = backbone.load(args.policy, device=args.device, dtype=args.dtype)
    judge = load_judge(args.model, device=args.device, dtype=args.dtype, **judge_options(args))

    def samples(i: int, row: dict) -> list[str]:  # prompt i's own seed: a resumed run samples the same
        return sample(policy, tokenizer, row["prompt"], args.n, max_new_tokens=args.max_new_tokens,
                      temperature=args.temperature, seed=args.seed + i)

    settings = {"input": str(args.input), "prompts": len(prompts), "policy": args.policy, "n": args.n,
                "max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "seed": args.seed,
                "model": args.model, "dtype": args.dtype, "strategy": args.strategy, "budget": args.budget,
                "orders": args.orders, "template": args.template, "max_length": args.max_length}
    rows, seconds = rank_rows(judge, [{"prompt": p} for p in prompts], args.output, settings, resume=args.resume,
                              options=RankOptions(args.strategy, args.budget, args.seed, args.orders),
                              responses_of=samples, with_picked_response=True, unit="prompt", desc="best-of-n",
                              quiet=args.quiet)
    print(f"gram bon: {len(rows)} prompts x {args.n} samples, strategy {args.strategy}, "
          f"{sum(r['comparisons'] for r in rows)} comparisons in {seconds:.1f} s -> {args.output}", file=sys.stderr)
    return 0
