"""The data of a run, built from ../shared/data by its plan's sizes and limits (seeded: every machine builds
the same files byte for byte, which restoring an archive checks). Evaluation sets come first and every
training source is cleaned of their prompts; then the adaptation tasks, the labeled pairs (the plan's
LABELED: "rmb" or "balanced") and the unlabeled stage-1 pairs."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path


class Builder:
    """Writes run/data/<name>.jsonl files and their manifest, and keeps the prompts held out so far."""

    def __init__(self, run: Path, plan):
        from transformers import AutoTokenizer

        from gram.eval.registry import data_dir
        from gram.model.backbone import resolve

        self.plan, self.out, self.shared = plan, run / "data", data_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(resolve("smollm2-135m"))
        self.manifest: dict = {"seed": plan.SEED, "sizes": plan.SIZES, "limits": plan.LIMITS, "files": {}}
        self.held_out: set[str] = set()

    def short(self, pairs, limit: str) -> list:
        """The pairs whose judge prompt (the one trained on) fits LIMITS[limit] tokens; a character bound
        first: tokenizing 14k long RMB pairs takes minutes."""
        n = self.plan.LIMITS[limit]
        pairs = [p for p in pairs if len(json.dumps([p.prompt, p.response_a, p.response_b])) < 8 * n]
        lengths = token_lengths(self.tokenizer, pairs, "judge")
        return [p for p, length in zip(pairs, lengths) if length <= n]

    def save(self, name: str, pairs: list, note: str, **extra) -> None:
        from gram.io import write_jsonl_atomic

        write_jsonl_atomic(self.out / f"{name}.jsonl", (p.to_row() for p in pairs))
        self.manifest["files"][name] = {"pairs": len(pairs), "note": note, **extra}
        print(f"  {name}: {len(pairs)} pairs ({note})", flush=True)

    def read(self, fmt: str, path: str, **kwargs):
        from gram.formats import read

        return read(fmt, self.shared / path, **kwargs)

    def write_manifest(self) -> None:
        from gram.io import write_json_atomic

        write_json_atomic(self.out / "manifest.json", self.manifest)


def keys(pairs) -> set[str]:
    from gram.records import prompt_key

    return {prompt_key(p.prompt) for p in pairs}


def unseen(pairs, held_out: set[str]) -> list:
    from gram.records import prompt_key

    return [p for p in pairs if prompt_key(p.prompt) not in held_out]


def evaluation_sets(b: Builder) -> None:
    """A seeded sample of each out-of-distribution set (ties apart); all their prompts are held out."""
    from gram.eval.registry import BENCHMARKS

    sizes, limits, seed = b.plan.SIZES, b.plan.LIMITS, b.plan.SEED
    for name in b.plan.OOD_SETS:
        bench = BENCHMARKS[name]
        pairs = [p for p in b.read(bench.format, bench.path).records if p.label != "tie"]
        b.held_out |= keys(pairs)
        if name == "judgebench":  # every pair is long: read cut to judgebench_tokens, none left out
            chosen = random.Random(seed).sample(pairs, min(sizes["judgebench"], len(pairs)))
            note = f"seeded sample of {len(pairs)}, read cut to {limits['judgebench_tokens']} tokens"
        else:
            fit = b.short(pairs, "eval_tokens")
            n = sizes.get(name, sizes["eval_per_set"])  # a set of its own size where SIZES names it
            chosen = random.Random(seed).sample(fit, min(n, len(fit)))
            note = f"seeded sample of the {len(fit)} of {len(pairs)} pairs <= {limits['eval_tokens']} tokens"
        b.save(name, chosen, note)


def hh_rlhf(b: Builder) -> None:
    """HH-RLHF harmless-base test split by prompt into a test side and an adaptation pool (and, where the
    plan sizes one, a dev split from the pool's prompts)."""
    from gram.data.splits import split_by_prompt

    sizes, seed = b.plan.SIZES, b.plan.SEED
    hh = b.short(b.read("hh-rlhf", "hh-rlhf/harmless-base/test.jsonl.gz").records, "hh_tokens")
    pool, test = split_by_prompt(hh, sizes["hh_test"], seed=seed)
    pool, dev, has_dev = unseen(pool, b.held_out), [], "hh_dev" in sizes
    if has_dev:
        pool, dev = split_by_prompt(pool, sizes["hh_dev"], seed=seed)
    random.Random(seed).shuffle(pool)
    b.save("hh-test", test, f"HH-RLHF harmless-base test, <= {b.plan.LIMITS['hh_tokens']} tokens, split by prompt")
    if has_dev:
        b.save("hh-dev", dev, "HH-RLHF dev split (other prompts): adaptation settings are chosen on it only")
    other = "other prompts than test and dev" if has_dev else "other prompts"
    b.save("hh_pool", pool[:sizes["hh_pool"]], f"adaptation pool ({other}), shuffled; --limit n takes the first n")
    b.held_out |= keys(test) | keys(dev)


def summarization(b: Builder, rmb: list) -> None:
    """RMB's Summarization group (which stage 2 leaves out) split by prompt into a test side and a pool."""
    from gram.data.splits import split_by_prompt

    summ = b.short(unseen([p for p in rmb if "Summarization" in p.category], b.held_out), "summ_tokens")
    pool, test = split_by_prompt(summ, b.plan.SIZES["summ_test"], seed=b.plan.SEED)
    random.Random(b.plan.SEED).shuffle(pool)
    b.save("summ-test", test, f"RMB Summarization, <= {b.plan.LIMITS['summ_tokens']} tokens, split by prompt")
    b.save("summ_pool", pool, "adaptation pool (other prompts), shuffled; --limit n takes the first n")
    b.held_out |= keys(summ)


def labeled_rmb(b: Builder, rmb: list) -> None:
    """Stage 2 of the small run: RMB pairwise without Summarization, split by prompt into an in-distribution
    test side and the training pairs."""
    from gram.data.splits import split_by_prompt

    pairs = b.short(unseen([p for p in rmb if "Summarization" not in p.category], b.held_out), "stage2_tokens")
    train, test = split_by_prompt(pairs, b.plan.SIZES["rmb_test"], seed=b.plan.SEED)
    random.Random(b.plan.SEED).shuffle(train)
    b.save("rmb-test", test, "RMB held-out prompts (in distribution)")
    b.save("stage2_train", train[:b.plan.SIZES["stage2_pairs"]],
           f"RMB pairwise without Summarization, of {len(train)} short pairs")


def labeled_balanced(b: Builder, rmb: list) -> None:
    """Stage 2 of the scaled run: RMB (without Summarization) and the AlpacaEval annotations, length-balanced,
    each pair in a random order, split by prompt into dev, an in-distribution test and the training pairs."""
    from gram.data.balance import balance_length
    from gram.data.splits import split_by_prompt

    sizes, seed = b.plan.SIZES, b.plan.SEED
    annotations = b.read("alpaca-eval-annotations", "alpaca-eval/results", skip_bad=True)
    labeled, counts = [], {"alpaca-eval-annotations without a preference (left out)": len(annotations.rejects)}
    for name, pairs in [("rmb", [p for p in rmb if "Summarization" not in p.category]),
                        ("alpaca-eval-annotations", annotations.records)]:
        pairs = b.short(unseen([p for p in pairs if p.label in ("a", "b")], b.held_out), "stage2_tokens")
        kept, report = balance_length(pairs, random.Random(seed))
        counts[name] = {"short": len(pairs), "balanced": len(kept), "buckets": report["buckets"]}
        labeled += kept
    rng = random.Random(seed)
    labeled = [p.swapped() if rng.random() < 0.5 else p for p in labeled]  # one random order per pair
    rest, dev = split_by_prompt(labeled, sizes["dev"], seed=seed)
    train, id_test = split_by_prompt(rest, sizes["id_test"], seed=seed + 1)
    random.Random(seed).shuffle(train)
    if len(train) < max(sizes["train_sizes"]):
        raise SystemExit(f"replicate: only {len(train)} training pairs, {max(sizes['train_sizes'])} needed")
    b.save("dev", dev, "dev split by prompt (RMB + AlpacaEval annotations, length-balanced): model selection only")
    b.save("id-test", id_test, "in-distribution test, other prompts than dev and train")
    b.save("train", train[:max(sizes["train_sizes"])],
           f"stage-2 training pairs, shuffled; nested: --limit n takes the first n; of {len(train)}", sources=counts)
    b.held_out |= keys(dev) | keys(id_test)


_LENGTHS: dict[tuple[str, str], int] = {}  # (kind and tokenizer, digest of the pair) -> tokens: both runs share many pairs


def token_lengths(tokenizer, pairs, kind: str) -> list[int]:
    """Each pair's untruncated token count as the judge ("judge", template gram) or stage 1 ("pretrain")
    reads it; counted once per process, a batch at a time."""
    from gram.templates import judge_lengths, pretrain_lengths

    keys = [(kind + tokenizer.name_or_path, hashlib.sha256(json.dumps(p.to_row()).encode()).hexdigest()) for p in pairs]
    todo = {k: p for k, p in zip(keys, pairs) if k not in _LENGTHS}
    triples = [(p.prompt, p.response_a, p.response_b) for p in todo.values()]
    counted = judge_lengths(tokenizer, triples, "gram") if kind == "judge" else pretrain_lengths(tokenizer, triples)
    _LENGTHS.update(zip(todo, counted))
    return [_LENGTHS[k] for k in keys]


def build_data(run: Path, plan) -> None:
    b = Builder(run, plan)
    evaluation_sets(b)
    hh_rlhf(b)
    rmb = b.read("rmb-pairwise", "rmb/RMB_dataset/Pairwise_set").records
    summarization(b, rmb)
    {"rmb": labeled_rmb, "balanced": labeled_balanced}[plan.LABELED](b, rmb)
    stage1, drawn = stage1_pairs(b.shared, b.held_out, b.tokenizer, plan.LIMITS["stage1_tokens"],
                                 plan.SIZES["stage1_pairs"], per_prompt=plan.STAGE1_PER_PROMPT, seed=plan.SEED)
    b.save("stage1", stage1, f"unlabeled pairs (AlpacaEval, Arena-Hard v0.1, AlpacaFarm), of {drawn}")
    b.write_manifest()


def stage1_pairs(shared: Path, held_out: set[str], tokenizer, max_tokens: int, count: int, per_prompt: int,
                 seed: int = 0) -> tuple[list, int]:
    """(the first `count` unlabeled pairs whose stage-1 sequence fits `max_tokens`, how many pairs were drawn):
    pairs of responses to prompts outside `held_out` from AlpacaEval outputs, Arena-Hard v0.1 answers and
    AlpacaFarm outputs, at most `per_prompt` per prompt, shuffled (seeded)."""
    from gram.data.pairs import pairs_from_set
    from gram.formats import read
    from gram.records import prompt_key

    rng = random.Random(seed)
    unlabeled = []
    for fmt, path in [("alpaca-eval", "alpaca-eval/results"), ("arena-hard", "arena-hard-auto/data/arena-hard-v0.1"),
                      ("alpaca-farm", "alpaca-farm/examples/data")]:
        for s in read(fmt, shared / path).records:
            if prompt_key(s.prompt) not in held_out and len(s.responses) >= 2:
                unlabeled += pairs_from_set(s, per_prompt=per_prompt, rng=rng)
    rng.shuffle(unlabeled)
    kept = []
    candidates = [p for p in unlabeled if len(json.dumps([p.prompt, p.response_a, p.response_b])) < 8 * max_tokens]
    for start in range(0, len(candidates), 256):  # cheap bound first, then a batch at a time
        batch = candidates[start:start + 256]
        lengths = token_lengths(tokenizer, batch, "pretrain")
        kept += [p for p, length in zip(batch, lengths) if length <= max_tokens]
        if len(kept) >= count:
            break
    return kept[:count], len(unlabeled)
