"""`gram data`: convert source formats to gram records, build training pairs, describe, validate, and
check two sets for prompt overlap.

    gram data convert --format rmb-pairwise --input ../shared/data/rmb/RMB_dataset/Pairwise_set --output rmb.jsonl
    gram data convert --format alpaca-eval --input ../shared/data/alpaca-eval/results --output ae_sets.jsonl
    gram data pairs --input ae_sets.jsonl --output ae_pairs.jsonl --per-prompt 4 --seed 0
    gram data stats --input rmb.jsonl
    gram data validate --input rmb.jsonl
    gram data split --input rmb.jsonl --test-size 150 --seed 0 --train-out train.jsonl --test-out test.jsonl
    gram data overlap train.jsonl test.jsonl --check
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from ..data.pipeline import build_pairs
from ..formats import read
from ..formats.gram_reference import to_finetune, to_pretrain
from ..io import write_json_atomic, write_jsonl_atomic, write_jsonl_pair_atomic
from ..model import backbone
from ..records import PreferencePair
from .data_options import (
    ConvertOptions,
    OverlapOptions,
    PairsOptions,
    SplitOptions,
    StatsOptions,
    ValidateOptions,
)
from .flags import add_command


def say(message: str) -> None:
    print(f"gram data: {message}", file=sys.stderr)


def load(args, skip_bad: bool | None = None):
    """Read records; with --skip-bad, bad ones are counted by reason and written with their reasons to a
    side file: --rejects, else OUTPUT.rejects.jsonl for a command with an --output, else none (nothing is
    written where the command was not told to write)."""
    skip_bad = args.skip_bad if skip_bad is None else skip_bad
    result = read(args.format, args.input, skip_bad=skip_bad)
    if result.rejects:
        output = getattr(args, "output", None)
        side = args.rejects or (f"{output}.rejects.jsonl" if output else None)
        if side:
            write_jsonl_atomic(side, result.rejects)
        reasons = Counter(f"{r['field']}: {r['problem']}" if r["field"] else r["problem"] for r in result.rejects)
        say(f"skipped {len(result.rejects)} bad records" + (f" -> {side}" if side else " (--rejects FILE keeps them)")
            + ": " + "; ".join(f"{n} x {k}" for k, n in reasons.most_common(5)))
    return result


def write(records, args) -> int:
    """Write records in the requested output format; returns how many rows were written."""
    to = getattr(args, "to", "gram")
    if to == "gram":
        return write_jsonl_atomic(args.output, (r.to_row() for r in records))
    rows, skipped = [], Counter()
    for r in records:
        if not isinstance(r, PreferencePair):
            skipped["response sets (build pairs first: gram data pairs)"] += 1
        elif to == "gram-finetune" and r.label not in ("a", "b"):
            skipped[f"label {r.label!r} (fine-tuning rows need a or b)"] += 1
        else:
            rows.append(to_finetune(r, args.template) if to == "gram-finetune" else to_pretrain(r))
    for reason, n in skipped.items():
        say(f"not written: {n} x {reason}")
    write_json_atomic(args.output, rows)
    return len(rows)


def kinds(records) -> str:
    counts = Counter("pairs" if isinstance(r, PreferencePair) else "sets" for r in records)
    return ", ".join(f"{n} {k}" for k, n in counts.items()) or "0 records"


def cmd_convert(args) -> int:
    result = load(args)
    records = result.records
    if args.chosen_first:
        records = [r.swapped() if isinstance(r, PreferencePair) and r.label == "b" else r for r in records]
    written = write(records, args)
    say(f"read {result.items} items from {args.input} ({args.format}): {kinds(records)}; wrote {written} rows to "
        f"{args.output}; skipped {len(result.rejects)}")
    return 0


def tokenizer_for(args):
    return backbone.load_tokenizer(args.model)


def cmd_pairs(args) -> int:
    result = load(args)
    tokenizer = tokenizer_for(args) if args.max_tokens else None
    pairs, report = build_pairs(result.records, args, tokenizer)
    write_jsonl_atomic(args.output, (p.to_row() for p in pairs))
    if report.balance:
        say("length balance (chosen longer / chosen shorter -> kept, by relative length difference): "
            + "; ".join(f"{k} {v['chosen_longer']} / {v['chosen_shorter']} -> {v['kept']}"
                        for k, v in report.balance["buckets"].items())
            + f"; {report.balance['untouched']} pairs of equal length or without a preference kept as they are")
    dropped = ", ".join(f"{n} x {k}" for k, n in report.dropped.items()) or "none"
    say(f"read {result.items} items ({report.sets} sets, {report.pairs} pairs); wrote {len(pairs)} pairs"
        f"{' (both orders)' if args.both_orders else ''} to {args.output}; dropped {dropped}")
    return 0


def cmd_stats(args) -> int:
    from ..data.stats import describe

    result = load(args)
    count_tokens = None if args.no_tokens else backbone.token_counter(args.model)
    stats = describe(result.records, count_tokens, progress=not args.quiet)
    stats["items_read"] = result.items
    print(json.dumps(stats, indent=1, ensure_ascii=False))
    return 0


def cmd_validate(args) -> int:
    result = load(args, skip_bad=True)  # report every bad record, not just the first
    for r in result.rejects[:10]:
        print(f"  {r['where']}: {r['field'] + ': ' if r['field'] else ''}{r['problem']}", file=sys.stderr)
    say(f"{args.input}: {result.items} items read, {kinds(result.records)} valid, {len(result.rejects)} bad")
    return 1 if result.rejects else 0


def cmd_split(args) -> int:
    from ..data.overlap import prompt_overlap
    from ..data.splits import split_by_prompt

    result = load(args)
    n = args.test_size if args.test_size is not None else round(args.test_fraction * len(result.records))
    train, test = split_by_prompt(result.records, n, args.seed)
    write_jsonl_pair_atomic((args.train_out, args.test_out), ((r.to_row() for r in train), (r.to_row() for r in test)))
    shared = prompt_overlap(train, test).shared
    say(f"{len(result.records)} records -> {len(train)} train ({args.train_out}), {len(test)} test ({args.test_out}); "
        f"split by prompt with seed {args.seed}; shared prompts: {shared}")
    return 0


def cmd_overlap(args) -> int:
    from ..data.overlap import prompt_overlap

    a = read(args.format_a, args.a).records
    b = read(args.format_b, args.b).records
    o = prompt_overlap(a, b)
    say(f"{o.prompts_a} prompts in {args.a}, {o.prompts_b} in {args.b}: {o.shared} shared "
        f"({o.share_of_b:.1%} of the second)")
    for text in o.examples:
        print(f"  shared: {text!r}", file=sys.stderr)
    return 1 if args.check and o.shared else 0


COMMANDS = {  # name: (options, what it does, run)
    "convert": (ConvertOptions, "read a source format, write gram JSONL (or the reference repo's JSON)", cmd_convert),
    "pairs": (PairsOptions, "training pairs: unlabeled from response sets, labeled from pairs; cleaned", cmd_pairs),
    "stats": (StatsOptions, "counts by source / category / label, token-length percentiles (JSON)", cmd_stats),
    "validate": (ValidateOptions, "check every record, list the bad ones; exit 1 if any is bad", cmd_validate),
    "split": (SplitOptions, "train / test split by prompt (no prompt on both sides), seeded", cmd_split),
    "overlap": (OverlapOptions, "prompts shared by two sets (to prove a split does not leak)", cmd_overlap),
}


def add_parser(sub) -> None:
    data = sub.add_parser("data", help="convert, build, describe and check preference data")
    dsub = data.add_subparsers(dest="data_command", required=True)
    for name, (options, help_text, run) in COMMANDS.items():
        add_command(dsub, name, options, run, help=help_text, config=False)
