"""Length-balanced training pairs: within each bucket of relative length difference, as many pairs whose
preferred response is the longer as pairs whose preferred response is the shorter, so that "the longer
wins" predicts nothing a judge could learn from the data.

    kept, report = balance_length(pairs, random.Random(0))

Relative difference d = |len(a) - len(b)| / max(len(a), len(b)) in characters; buckets (default) [0, 0.1),
[0.1, 0.25), [0.25, 0.5), [0.5, 1]. In each, the larger side is sampled down (seeded) to the size of the
smaller. Pairs of equal length and unlabeled or tie pairs are kept as they are. The input order is kept.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence

from ..records import PreferencePair

BUCKETS = (0.1, 0.25, 0.5)  # upper edges; the last bucket runs to 1


def relative_difference(p: PreferencePair) -> float:
    a, b = len(p.response_a), len(p.response_b)
    return abs(a - b) / max(a, b) if max(a, b) else 0.0


def chosen_is_longer(p: PreferencePair) -> bool:
    return (len(p.response_a) > len(p.response_b)) == (p.label == "a")


def bucket_name(i: int, edges: Sequence[float] = BUCKETS) -> str:
    lo = 0.0 if i == 0 else edges[i - 1]
    hi = edges[i] if i < len(edges) else 1.0
    return f"[{lo:g}, {hi:g}{']' if i == len(edges) else ')'}"


def balance_length(pairs: Sequence[PreferencePair], rng: random.Random, edges: Sequence[float] = BUCKETS
                   ) -> tuple[list[PreferencePair], dict]:
    """(kept pairs, report): report[bucket] = {"chosen_longer", "chosen_shorter", "kept"}, plus
    "untouched" (equal lengths, unlabeled, ties) and the totals."""
    sides: dict[int, dict[bool, list[int]]] = {}
    untouched = 0
    for i, p in enumerate(pairs):
        if p.label not in ("a", "b") or len(p.response_a) == len(p.response_b):
            untouched += 1
            continue
        b = bisect.bisect_right(edges, relative_difference(p))
        sides.setdefault(b, {True: [], False: []})[chosen_is_longer(p)].append(i)
    keep = set()
    report = {}
    for b in sorted(sides):
        longer, shorter = sides[b][True], sides[b][False]
        n = min(len(longer), len(shorter))
        keep.update(rng.sample(longer, n) + rng.sample(shorter, n))
        report[bucket_name(b, edges)] = {"chosen_longer": len(longer), "chosen_shorter": len(shorter), "kept": 2 * n}
    kept = [p for i, p in enumerate(pairs) if i in keep or p.label not in ("a", "b")
            or len(p.response_a) == len(p.response_b)]
    return kept, {"buckets": report, "untouched": untouched, "read": len(pairs), "kept": len(kept)}
