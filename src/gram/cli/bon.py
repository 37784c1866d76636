"""`gram bon`: best-of-n: sample n responses from a policy, keep the judge's pick."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..io import check_prompt, read_jsonl
from ..jobs.ranking import RankMethod, rank_rows
from ..jobs.settings import JudgeSpec, model_settings
from ..model import backbone
from ..options import group, opt
from . import flags


@dataclass
class BonOptions:
    EXCLUSIVE = (("input", "prompt"),)

    loading: flags.ModelOptions = group(flags.ModelOptions)
    engine: flags.EngineFlags = group(flags.EngineFlags)
    input: str | None = opt(None, "JSONL rows with a `prompt` (string or messages)")
    prompt: list[str] | None = opt(None, "a prompt (repeat for several)", repeat=True)
    output: str | None = opt(None, "JSONL: prompt, responses, ranking, picked, picked_response, comparisons",
                             required=True)
    policy: str = opt(backbone.DEFAULT_MODEL, "the model that writes the responses")
    n: int = opt(4, "samples per prompt (default 4)", at_least=1)
    strategy: str = flags.strategy()
    budget: int | None = opt(None, "at most this many comparisons per prompt", at_least=1)
    max_new_tokens: int = opt(256, at_least=1)
    temperature: float = opt(0.8, above=0)
    seed: int = opt(0, "sampling seed (prompt i uses seed + i)")
    judging: flags.JudgeOptions = group(flags.JudgeOptions)
    reasoning: flags.ReasoningOptions = group(flags.ReasoningOptions)
    limit: int | None = opt(None, "the first N prompts only", at_least=1)
    job: flags.FileJobOptions = group(flags.FileJobOptions)


def run(args) -> int:
    from tqdm import tqdm

    from ..scoring.bon import sample

    if args.prompt:
        prompts = list(args.prompt)
    else:
        prompts = [check_prompt(row.get("prompt"), args.input, line) for line, row in read_jsonl(args.input)]
    prompts = prompts[:args.limit] if args.limit else prompts
    policy, tokenizer = backbone.load(args.policy, device=args.device, dtype=args.dtype)
    spec = JudgeSpec.from_args(args)
    judge = spec.load()

    def samples(i: int, row: dict) -> list[str]:  # prompt i's own seed: a resumed run samples the same
        with tqdm(total=args.max_new_tokens, unit="token", file=sys.stderr, disable=args.quiet, leave=False,
                  position=1, desc=f"sampling {args.n} for prompt {i + 1}") as bar:
            return sample(policy, tokenizer, row["prompt"], args.n, max_new_tokens=args.max_new_tokens,
                          temperature=args.temperature, seed=args.seed + i, on_token=bar.update)

    settings = {"input": str(args.input), "prompts": len(prompts), "policy": model_settings(args.policy), "n": args.n,
                "max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "seed": args.seed,
                "strategy": args.strategy, "budget": args.budget, **spec.identity()}
    rows, seconds = rank_rows(judge, [{"prompt": p} for p in prompts], args.output, settings, resume=args.resume,
                              method=RankMethod(args.strategy, args.budget, args.seed, args.orders),
                              responses_of=samples, with_picked_response=True, unit="prompt", desc="best-of-n",
                              quiet=args.quiet)
    print(f"gram bon: {len(rows)} prompts x {args.n} samples, strategy {args.strategy}, "
          f"{sum(r['comparisons'] for r in rows)} comparisons in {seconds:.1f} s -> {args.output}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    flags.add_command(sub, "bon", BonOptions, run,
                      help="best-of-n: sample n responses from a policy, keep the judge's pick")
