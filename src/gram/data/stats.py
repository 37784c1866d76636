"""Counts by source, category and label, and length percentiles in tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..records import PreferencePair, Record
from ..templates import render_prompt


def percentiles(values: Sequence[int], points=(50, 90, 99)) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    out = {f"p{p}": ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] for p in points}
    out["max"] = ordered[-1]
    return out


def describe(records: Sequence[Record], count_tokens=None, progress: bool = False) -> dict:
    """Counts by kind, source, category and label; responses per set; with `count_tokens` (texts -> tokens
    per text: gram.model.backbone.token_counter) token-length percentiles of prompts and responses."""
    stats = {
        "records": len(records),
        "kinds": dict(Counter("pair" if isinstance(r, PreferencePair) else "set" for r in records)),
        "sources": dict(Counter(r.source for r in records)),
        "categories": dict(Counter(f"{r.source}/{r.category}" if r.category else r.source for r in records)),
    }
    pairs = [r for r in records if isinstance(r, PreferencePair)]
    if pairs:
        stats["labels"] = dict(Counter(str(p.label) for p in pairs))
    sets = [r for r in records if not isinstance(r, PreferencePair)]
    if sets:
        stats["responses_per_set"] = percentiles([len(s.responses) for s in sets])
    if count_tokens is not None:
        def counts(texts, what, chunk=2000):  # batched calls (fast tokenizers parallelise them), with a bar
            import sys

            from tqdm import tqdm

            out = []
            with tqdm(total=len(texts), unit=what, file=sys.stderr, disable=not progress, desc="tokens") as bar:
                for i in range(0, len(texts), chunk):
                    out += count_tokens(texts[i:i + chunk])
                    bar.update(len(texts[i:i + chunk]))
            return out

        responses = [t for r in records
                     for t in ((r.response_a, r.response_b) if isinstance(r, PreferencePair) else r.responses)]
        stats["tokens"] = {"prompt": percentiles(counts([render_prompt(r.prompt) for r in records], "prompt")),
                           "response": percentiles(counts(responses, "response"))}
    return stats
