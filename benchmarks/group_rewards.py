"""What a GRPO step's rewards cost per group, by mode (docs/RLHF.md): `GramReward(mode="reference")` (n
comparisons, each response against a given reference) against `mode="group"` (the n(n-1)/2 comparisons of
gram's round-robin, both orders each), on the same groups of real responses.

    python benchmarks/group_rewards.py                       # 4 groups of 4 and of 8, embedded judge
    python benchmarks/group_rewards.py --groups 2 --sizes 4

Groups: AlpacaEval prompts (seeded sample), each answered by the first n of its 18 models' outputs, every
response cut to --response-tokens tokens (a GRPO completion's length); the reference response is another
model's output, cut alike. The greedy reference generation of `refresh="step"` is the policy's cost and
not counted here. Seconds are wall time for all groups of a size, in one process, after one warm-up call.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import SHARED_DATA, cpu_name  # noqa: E402

ALPACA = "alpaca-eval/results"


def load_groups(tokenizer, root: Path, groups: int, size: int, response_tokens: int, seed: int = 0):
    """[(prompt, [n responses], reference)] from AlpacaEval's per-model outputs."""
    models = sorted(p for p in (root / ALPACA).iterdir() if (p / "model_outputs.json").is_file())
    if len(models) < size + 1:
        raise SystemExit(f"{root / ALPACA}: {len(models)} models' outputs, {size + 1} needed")
    outputs = [json.loads((m / "model_outputs.json").read_text()) for m in models[:size + 1]]
    picked = random.Random(seed).sample(range(len(outputs[0])), groups)

    def cut(text: str) -> str:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:response_tokens]
        return tokenizer.decode(ids)

    return [(outputs[0][i]["instruction"], [cut(o[i]["output"]) for o in outputs[:size]], cut(outputs[size][i]["output"]))
            for i in picked]


def time_mode(reward, groups, mode: str) -> tuple[float, int]:
    """Seconds to reward every group, and the comparisons judged."""
    calls = []
    real = reward.judge.compare_many
    reward.judge.compare_many = lambda pairs, **kw: calls.append(len(pairs)) or real(pairs, **kw)
    start = time.perf_counter()
    for prompt, responses, reference in groups:
        refs = [reference] * len(responses) if mode == "reference" else None
        reward.score([prompt] * len(responses), responses, refs)
    seconds = time.perf_counter() - start
    reward.judge.compare_many = real
    return seconds, sum(calls)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="judge (default: the embedded backbone)")
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--response-tokens", type=int, default=64)
    parser.add_argument("--dtype", default=None)
    args = parser.parse_args(argv)
    import torch

    from gram.eval.registry import data_dir
    from gram.model import backbone
    from gram.rlhf import GramReward
    from gram.scoring import load_judge

    torch.manual_seed(0)
    judge = load_judge(args.model or backbone.DEFAULT_MODEL, dtype=args.dtype)
    root = data_dir(default=SHARED_DATA)
    judge.compare("Warm up.", "a", "b")
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"judge {args.model or backbone.DEFAULT_MODEL}, dtype {args.dtype or 'default'}")
    print("| n | mode | comparisons per group | s per group | s per comparison |\n|---|---|---|---|---|")
    for size in args.sizes:
        groups = load_groups(judge.tokenizer, root, args.groups, size, args.response_tokens)
        for mode in ("reference", "group"):
            seconds, comparisons = time_mode(GramReward(judge, mode=mode), groups, mode)
            per_group = comparisons / len(groups)
            print(f"| {size} | {mode} | {per_group:g} | {seconds / len(groups):.2f} | {seconds / comparisons:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
