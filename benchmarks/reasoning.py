"""What a reasoning judge costs per comparison (a pair, both orders), on both engines: tokens generated and
seconds, `--samples` 1 and 4, a 256-token budget, GRAM-R²'s protocol on the embedded model (zero-shot: what
it writes is not a judgement, only load). On vLLM, also plain `LLM.generate` on the same prompts with the
same sampling settings, in the same run: gram's share of its generated tokens/s. And vLLM's start-up, with
and without --enforce-eager.

    python benchmarks/reasoning.py                 # RMB pairs from ../shared/data (prompt <= 512 tokens)
    python benchmarks/reasoning.py --no-vllm --pairs 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--set", default="rmb")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--no-vllm", action="store_true")
    ap.add_argument("--no-transformers", action="store_true")
    return ap.parse_args(argv)


def cost_rows(label: str, judge, pairs, budget: int) -> list[str]:
    rows = []
    for samples in (1, 4):
        judge.samples, judge.max_think_tokens = samples, budget
        start, before = time.perf_counter(), judge.generated_tokens
        scores = judge.compare_many(pairs)
        seconds = time.perf_counter() - start
        tokens = judge.generated_tokens - before
        cut = sum(s.think_truncated for s in scores)
        rows.append(f"| {label} | {samples} | {tokens / len(pairs):.0f} | {seconds / len(pairs):.1f} | "
                    f"{tokens / seconds:.0f} | {cut} of {2 * samples * len(pairs)} |")
        print(rows[-1], flush=True)
    return rows


def plain_vllm(judge, pairs, budget: int) -> tuple[float, float]:
    """(gram's generated tokens/s, plain LLM.generate's) on the same prompts, seeds and settings."""
    import vllm

    from gram.scoring.reasoning import sample_seed

    judge.samples, judge.max_think_tokens = 1, budget
    jobs = [(p, o, 0) for p in pairs for o in ("ab", "ba")]
    prompts = []
    for p, o, _ in jobs:
        a, b = (p.response_a, p.response_b) if o == "ab" else (p.response_b, p.response_a)
        prompts.append({"prompt_token_ids": judge.encode(judge.protocol.render(judge.tokenizer, p.prompt, a, b))})
    params = [vllm.SamplingParams(temperature=judge.temperature, top_p=judge.top_p, max_tokens=budget,
                                  seed=sample_seed(judge.seed, p, o, j) % 2**63) for p, o, j in jobs]
    start = time.perf_counter()
    outputs = judge.llm.generate(prompts, params, use_tqdm=False)
    plain = sum(len(o.outputs[0].token_ids) for o in outputs) / (time.perf_counter() - start)
    start, before = time.perf_counter(), judge.generated_tokens
    judge.compare_many(pairs)
    ours = (judge.generated_tokens - before) / (time.perf_counter() - start)
    return ours, plain


def main(argv=None) -> int:
    args = parse_args(argv)
    from scoring import pick_pairs

    from gram.model import backbone
    from gram.scoring import load_judge

    tokenizer = backbone.load_tokenizer(args.model)
    pairs = pick_pairs(tokenizer, args.set, args.pairs, 512)
    reasoning = {"protocol": "gram-rr", "max_think_tokens": args.budget}
    print("| engine | samples per order | tokens generated per comparison | s per comparison | generated tokens/s "
          "| rationales cut by the budget |\n|---|---|---|---|---|---|", flush=True)
    if not args.no_transformers:
        cost_rows("transformers", load_judge(args.model, dtype=args.dtype, max_length=2048, reasoning=reasoning),
                  pairs, args.budget)
    if args.no_vllm:
        return 0
    for eager in (False, True):
        start = time.perf_counter()
        judge = load_judge(args.model, engine="vllm", dtype=args.dtype, max_length=2048, enforce_eager=eager,
                           reasoning=reasoning)
        print(f"vLLM start-up{' (enforce_eager)' if eager else ''}: {time.perf_counter() - start:.1f} s", flush=True)
        cost_rows("vLLM eager" if eager else "vLLM", judge, pairs, args.budget)
        if not eager:
            ours, plain = plain_vllm(judge, pairs, args.budget)
            print(f"gram on vLLM {ours:.0f} generated tokens/s, plain LLM.generate {plain:.0f}: {ours / plain:.0%}",
                  flush=True)
        judge.llm.llm_engine.engine_core.shutdown()
        del judge
    return 0


if __name__ == "__main__":
    sys.exit(main())
