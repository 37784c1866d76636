"""Stage-2 training step vs a plain full-vocabulary SFT step on the same batch.

    python benchmarks/train_step.py [--model smollm2-135m] [--batch 4] [--length 512] [--steps 3]

Both variants run the same model on the same left-padded batch of judge prompts and take an AdamW step:

  gram  the GRAM trainer's step (its collator and compute_loss): the judge template's head run once for
        the batch and its keys and values shared by every row, the LM head at the last position only
        (`logits_to_keep=1`), the GRAM loss over the two label tokens;
  sft   what a generic SFT trainer does (the reference's LLaMA-Factory path): the label token appended,
        logits over the whole vocabulary at every position, cross-entropy on the label position.

Each variant runs in its own process, so its peak memory (max RSS, or max CUDA allocation on a GPU)
is its own. Two figures: the peak minus the memory held after loading the model (AdamW's state, twice the
weights, is in it and the same for both), and the step's own peak: the counter is reset after the warm-up
step (VmHWM through /proc/self/clear_refs) and the peak of the timed steps is taken above what was held
then (activations, gradients, logits).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def build_batch(tokenizer, batch: int, length: int, seed: int = 0):
    """`batch` judge prompts of exactly `length` tokens (random words, truncated to fit), left-padded."""
    import torch

    from gram.model.batching import left_pad
    from gram.templates import encode_judge, label_token_ids

    rng = random.Random(seed)
    words = ["alpha", "river", "seven", "quiet", "model", "green", "paper", "stone", "light", "music"]
    ids, labels = [], []
    for i in range(batch):
        text = lambda n: " ".join(rng.choice(words) for _ in range(n))  # noqa: E731
        enc = encode_judge(tokenizer, text(40), text(length), text(length), max_length=length)
        ids.append(enc.input_ids[-length:])
        labels.append(i % 2)
    input_ids, mask, _ = left_pad(ids, tokenizer.pad_token_id or 0)
    return input_ids, mask, torch.tensor(labels), label_token_ids(tokenizer), ids


def current_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.memory_allocated() / 2**20
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stage1_batch(tokenizer, batch: int, length: int, device):
    """(input ids, attention mask, labels) of a stage-1 batch: next-token loss on the response pair, the
    question masked."""
    import torch

    from gram.templates import encode_pretrain
    from gram.train.examples import IGNORE

    rng = random.Random(1)
    words = ["alpha", "river", "seven", "quiet", "model", "green", "paper", "stone", "light", "music"]
    seqs = []
    for _ in range(batch):
        text = lambda n: " ".join(rng.choice(words) for _ in range(n))  # noqa: E731
        ids, prompt_len, _ = encode_pretrain(tokenizer, text(40), text(length), text(length), max_length=length)
        seqs.append((ids, prompt_len))
    width = max(len(i) for i, _ in seqs)
    input_ids = torch.full((batch, width), tokenizer.pad_token_id or 0, dtype=torch.long)
    labels = torch.full((batch, width), IGNORE, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for row, (ids, prompt_len) in enumerate(seqs):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        labels[row, prompt_len:len(ids)] = torch.tensor(ids[prompt_len:])
        mask[row, :len(ids)] = 1
    return input_ids.to(device), mask.to(device), labels.to(device)


def gram_step(model, tokenizer, rows, labels, label_ids, device):
    """The GRAM trainer's compute_loss on what its collator gives it (the template head apart, once)."""
    from gram.templates import template_head
    from gram.train.examples import LeftPadCollator
    from gram.train.trainers import GramTrainer

    split = LeftPadCollator(tokenizer.pad_token_id or 0, tuple(template_head(tokenizer)))(
        [{"input_ids": r, "label": int(y)} for r, y in zip(rows, labels)])
    split = {k: v.to(device) for k, v in split.items()}
    trainer = GramTrainer.__new__(GramTrainer)  # its compute_loss alone
    trainer.label_ids, trainer.label_smoothing, trainer.loss_type = list(label_ids), 0.1, "gram"
    return lambda: trainer.compute_loss(model, dict(split))


def variant_step(variant: str, model, tokenizer, batch: int, length: int, device):
    """(a function computing the variant's loss on its batch, the batch's real tokens)."""
    import torch

    input_ids, mask, labels, label_ids, rows = build_batch(tokenizer, batch, length)
    input_ids, mask, labels = input_ids.to(device), mask.to(device), labels.to(device)
    if variant == "stage1":
        ids, stage1_mask, stage1_labels = stage1_batch(tokenizer, batch, length, device)
        step = lambda: model(input_ids=ids, attention_mask=stage1_mask, labels=stage1_labels).loss  # noqa: E731
        return step, int(stage1_mask.sum())
    if variant == "gram":
        return gram_step(model, tokenizer, rows, labels, label_ids, device), int(mask.sum())
    # sft: the label token as the next input token, loss on it alone
    targets = torch.tensor(label_ids, device=device)[labels]
    input_ids = torch.cat([input_ids, targets[:, None]], dim=1)
    mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    sft_labels = torch.full_like(input_ids, -100)
    sft_labels[:, -1] = targets
    return (lambda: model(input_ids=input_ids, attention_mask=mask, position_ids=positions, labels=sft_labels).loss,
            int(mask.sum()))


def run_variant(variant: str, model_name: str, batch: int, length: int, steps: int, freeze: int = 0) -> dict:
    import torch

    from gram.model.backbone import default_device, load, resolve_dtype
    from gram.train.trainers import peak_rss_mb

    model, tokenizer = load(model_name, dtype=resolve_dtype("auto", default_device(), for_training=True))
    model.train()
    if freeze:  # --freeze-layers: the first blocks and the input embeddings frozen (gram.train.freezing)
        from gram.train.freezing import freeze_lower_layers

        freeze_lower_layers(model, freeze)
    device = next(model.parameters()).device
    step_loss, tokens = variant_step(variant, model, tokenizer, batch, length, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    baseline = current_mb(device)
    times, step_base = [], None
    for step in range(steps + 1):  # the first step warms up (allocations, optimizer state)
        if step == 1:  # from here on: the step's own transient memory (activations, gradients, logits)
            step_base = reset_peak(device)
        start = time.perf_counter()
        loss = step_loss()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else peak_rss_mb()
    return {"variant": variant, "step_s": sum(times) / len(times), "peak_minus_loaded_mb": peak - baseline,
            "step_transient_mb": peak - step_base, "tokens": tokens, "device": str(device)}

def reset_peak(device) -> float:
    """Reset the peak-memory counter (CUDA allocator, or the kernel's VmHWM via /proc/self/clear_refs) and
    return the memory held now: the loaded model, AdamW's state and the allocator's caches."""
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed activations back, or they hide in the baseline
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    return current_mb(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true", help="put the table into docs/BENCHMARKS.md")
    parser.add_argument("--freeze-layers", type=int, nargs="*", default=[],
                        help="also time the gram step with the first K blocks frozen, for each K given")
    parser.add_argument("--variant", choices=["gram", "sft", "stage1"], help=argparse.SUPPRESS)
    parser.add_argument("--freeze", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # child process: one variant, result as JSON on the last line
        print(json.dumps(run_variant(args.variant, args.model, args.batch, args.length, args.steps, args.freeze)))
        return

    def child(variant, freeze=0):
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--model", args.model, "--batch",
                              str(args.batch), "--length", str(args.length), "--steps", str(args.steps),
                              "--freeze", str(freeze)], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    results = {variant: child(variant) for variant in ("gram", "sft", "stage1")}
    frozen = {k: child("gram", k) for k in args.freeze_layers}
    g, s, one = results["gram"], results["sft"], results["stage1"]
    saved = 1 - g["peak_minus_loaded_mb"] / s["peak_minus_loaded_mb"]
    step_saved = 1 - g["step_transient_mb"] / s["step_transient_mb"]
    freeze_flag = f" --freeze-layers {' '.join(map(str, args.freeze_layers))}" if args.freeze_layers else ""
    lines = [f"`python benchmarks/train_step.py --batch {args.batch} --length {args.length} --steps {args.steps}"
             f"{freeze_flag}` "
             f"({time.strftime('%Y-%m-%d')}, {args.model}, {g['device']}, AdamW, mean of {args.steps} steps after one "
             "warm-up step, each variant in its own process):", "",
             "| step | time per step (s) | tokens/s | peak above the loaded model (MB) | the step's own peak (MB) |",
             "|---|---|---|---|---|"]
    rows = [("stage 2, gram (shared template head, last-position logits, GRAM loss)", g),
            ("stage 2, full-vocabulary SFT on the same batch", s),
            ("stage 1 (next-token loss on the response pair)", one)]
    rows += [(f"stage 2, gram, first {k} blocks and the input embeddings frozen (`--freeze-layers {k}`)", r)
             for k, r in frozen.items()]
    for name, r in rows:
        lines.append(f"| {name} | {r['step_s']:.2f} | {r['tokens'] / r['step_s']:.0f} | {r['peak_minus_loaded_mb']:.0f} | "
                     f"{r['step_transient_mb']:.0f} |")
    lines += ["", f"Stage 2: gram is **{s['step_s'] / g['step_s']:.2f}x** faster than full-vocabulary SFT; its peak above "
              f"the loaded model is {saved:.0%} lower (AdamW state, the same for both, included) and the step's own "
              f"peak (activations, gradients, logits) {step_saved:.0%} lower. Tokens/s counts each row's real tokens "
              "(the shared head once per row, as the sequences hold it)."]
    from bench_docs import report

    report("\n".join(lines), "train-step", args.write_docs)

if __name__ == "__main__":
    main()
