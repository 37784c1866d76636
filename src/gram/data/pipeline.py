"""`gram data pairs`'s work: records -> training pairs. Response sets become unlabeled pairs (sampled per
prompt), labeled pairs pass (ties dropped unless kept, labels dropped for stage 1), then the reference's
cleaning filters, deduplication, optional length balancing and both orders. The command reads, calls
`build_pairs`, writes and reports.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import dataclass, field

from ..records import PreferencePair, ResponseSet
from .balance import balance_length
from .cleaning import clean, dedup
from .pairs import both_orders, pairs_from_set


@dataclass
class PairsReport:
    """What became of the records: sets and pairs read, what each step dropped, the length balance."""

    sets: int = 0
    pairs: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> pairs dropped
    balance: dict | None = None  # gram.data.balance's buckets, when --balance-length


def build_pairs(records, options, tokenizer=None) -> tuple[list[PreferencePair], PairsReport]:
    """Training pairs from `records` under `options` (gram.cli.data_options.PairsOptions' fields:
    per_prompt, seed, drop_labels, keep_ties, max_tokens (needs `tokenizer`), keep_duplicates,
    balance_length, both_orders)."""
    rng, report, pairs, ties = random.Random(options.seed), PairsReport(), [], 0
    for r in records:
        if isinstance(r, ResponseSet):
            pairs += pairs_from_set(r, options.per_prompt, rng)
            report.sets += 1
            continue
        report.pairs += 1
        if options.drop_labels:
            r = dataclasses.replace(r, label=None)
        elif r.label == "tie" and not options.keep_ties:
            ties += 1
            continue
        pairs.append(r)
    pairs, dropped = clean(pairs, tokenizer, options.max_tokens)
    removed = 0
    if not options.keep_duplicates:
        pairs, removed = dedup(pairs)
    report.dropped = Counter(dropped) + Counter({"duplicate": removed, "tie (use --keep-ties)": ties})
    if options.balance_length:
        pairs, report.balance = balance_length(pairs, random.Random(options.seed))
    return (both_orders(pairs) if options.both_orders else pairs), report
