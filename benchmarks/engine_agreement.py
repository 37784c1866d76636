"""How far the engines and dtypes move a judge's scores: gram on transformers fp32 (the base) against gram
bf16 (its label logits read in fp32, and as before, in bf16) and gram on vLLM in fp32 and bf16, on the same
pairs, each read with the judge's own template; with each, how many pairs tie exactly.

    python benchmarks/engine_agreement.py                                   # the embedded (zero-shot) judge
    python benchmarks/engine_agreement.py --model runs/judge --set judgebench --set rmb_test.jsonl

A zero-shot judge's margins are mostly near-ties, where any rounding flips a preference: run it also on a
trained judge, whose confident pairs are the ones a flip would matter on. For each run: the largest P(A)
difference against the base (both orders), the preferences flipped overall, among the pairs whose margin
exceeds that difference, and among the confident pairs (margin |score_a - 0.5| >= --confident). Sets are
benchmark names or gram pair files (pick the held-out side of any split a judge was trained on); nothing
here is an accuracy, and nothing is tuned on it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--set", action="append", dest="sets", help="benchmark name or pair file (repeat); "
                    "default: judgebench and rmb")
    ap.add_argument("--pairs", type=int, default=32, help="pairs from each set")
    ap.add_argument("--max-tokens", type=int, default=1024, help="judge prompt length at most (no truncation)")
    ap.add_argument("--confident", type=float, default=0.1, help="margin of a confident pair")
    ap.add_argument("--no-vllm", action="store_true", help="only gram bf16 against gram fp32")
    ap.add_argument("--write-docs", action="store_true", help="put the result into docs/BENCHMARKS.md")
    ap.add_argument("--section", default="engine-agreement", help="its section there")
    return ap.parse_args(argv)


def scored(label: str, judge, pairs) -> dict:
    start = time.perf_counter()
    scores = judge.compare_many(pairs)
    seconds = time.perf_counter() - start
    print(f"  {label}: {len(pairs)} pairs in {seconds:.1f} s", flush=True)
    return {"scores": scores, "seconds": seconds}


@contextlib.contextmanager
def bf16_logits():
    """The judge reading its model's own (bf16) logits, as gram did before gram.model.readout."""
    from gram.model import readout

    real = readout.plain_head
    readout.plain_head = lambda model: None
    try:
        yield
    finally:
        readout.plain_head = real


def runs(args, pairs) -> tuple[dict, dict]:
    """(label -> scores and seconds, vLLM engine start seconds by dtype)."""
    from gram.scoring import load_judge

    out, starts = {}, {}
    for dtype in ("float32", "bfloat16"):
        judge = load_judge(args.model, device="cpu", dtype=dtype, max_length=None)
        out[f"transformers {dtype}"] = scored(f"transformers {dtype}", judge, pairs)
        del judge
    judge = load_judge(args.model, device="cpu", dtype="bfloat16", max_length=None)
    with bf16_logits():  # gram before its fp32 read-out (issue 45): the label logits as the bf16 model gives them
        out["transformers bfloat16, bf16 logits (before)"] = scored("transformers bf16, bf16 logits", judge, pairs)
    del judge
    for dtype in () if args.no_vllm else ("float32", "bfloat16"):
        start = time.perf_counter()
        judge = load_judge(args.model, dtype=dtype, max_length=None, engine="vllm")
        starts[dtype] = time.perf_counter() - start
        out[f"vllm {dtype}"] = scored(f"vllm {dtype}", judge, pairs)
        judge.close()
    return out, starts


def agreement_row(label: str, base: list, other: list, confident: float) -> str:
    """One table row: the largest P(A) difference, the averaged preferences flipped (all pairs, those whose
    margin exceeds the difference, the confident ones), and one order's preferences flipped among the
    orders whose |P(A) - 0.5| exceeds the difference (a judge with a position bias is confident there)."""
    from scoring import flips

    diff, flipped, margins = flips(base, other)
    beyond = [f for f, m in zip(flipped, margins) if m > diff]
    sure = [f for f, m in zip(flipped, margins) if m >= confident]
    orders = [(x > 0.5) != (y > 0.5) for a, b in zip(base, other)
              for x, y in ((a.p_a_ab, b.p_a_ab), (a.p_a_ba, b.p_a_ba)) if abs(x - 0.5) > diff]
    ties = sum(s.pick == "tie" for s in other)
    return (f"| {label} | {diff:.1e} | {sum(flipped)} / {len(flipped)} | {sum(beyond)} / {len(beyond)} | "
            f"{sum(sure)} / {len(sure)} | {sum(orders)} / {len(orders)} | {ties} |")


def main(argv=None) -> int:
    args = parse_args(argv)
    from scoring import SHARED_DATA, cpu_name, pick_pairs

    from gram.eval.registry import data_dir
    from gram.model.backbone import load_tokenizer

    names = args.sets or ["judgebench", "rmb"]
    if not data_dir(default=SHARED_DATA).exists() and any(not Path(n).is_file() for n in names):
        print("engine agreement: ../shared/data not found (set GRAM_DATA); skipped")
        return 0
    tokenizer = load_tokenizer(args.model)
    sets = {name: pick_pairs(tokenizer, name, args.pairs, args.max_tokens) for name in names}
    pairs = [p for subset in sets.values() for p in subset]
    print(", ".join(f"{len(s)} {Path(n).name}" for n, s in sets.items()) + " pairs", flush=True)
    out, starts = runs(args, pairs)
    base = out["transformers float32"]["scores"]
    margins = sorted(abs(s.score_a - 0.5) for s in base)
    per_order = sorted(abs(x - 0.5) for s in base for x in (s.p_a_ab, s.p_a_ba))
    lines = [
        f"`python benchmarks/engine_agreement.py --model {args.model}"
        + "".join(f" --set {n}" for n in names) + f" --pairs {args.pairs}` ({time.strftime('%Y-%m-%d')}, "
        f"{cpu_name()}; {', '.join(f'{len(s)} {Path(n).name}' for n, s in sets.items())} pairs, seed 0, judge "
        f"prompt <= {args.max_tokens} tokens, the judge's own template):",
        "",
        f"Base: gram on transformers fp32. Its median margin |score_a - 0.5| {statistics.median(margins):.3f} "
        f"(confident, >= {args.confident}: {sum(m >= args.confident for m in margins)} of {len(margins)} pairs); "
        f"median |P(A) - 0.5| of one order {statistics.median(per_order):.3f}.",
        "",
        "| against the base | largest P(A) difference | preferences flipped | among margins above that difference "
        f"| among confident pairs (margin >= {args.confident}) | one order's, where its P(A) is that far from 0.5 "
        f"| exact ties (base: {sum(s.pick == 'tie' for s in base)}) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [agreement_row(label, base, r["scores"], args.confident) for label, r in out.items()
              if label != "transformers float32"]
    lines += ["", "Seconds (all pairs, both orders): " + ", ".join(
        f"{label} {r['seconds']:.1f}" for label, r in out.items())
        + ("; vLLM engine start apart: " + ", ".join(f"{d} {s:.0f} s" for d, s in starts.items()) if starts else "")
        + "."]
    from bench_docs import report

    report("\n".join(lines), args.section, args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
