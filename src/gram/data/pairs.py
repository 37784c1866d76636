"""Training data from records: unlabeled pairs for stage 1 from n-response sets, labeled pairs for
stage 2, and both presentation orders."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

from ..records import PreferencePair, ResponseSet


def pairs_from_set(s: ResponseSet, per_prompt: int | None = None, rng: random.Random | None = None
                   ) -> list[PreferencePair]:
    """Unlabeled pairs of a set's responses: all n(n-1)/2, or `per_prompt` of them sampled with `rng`.

    Which response goes first is drawn too, so that position carries no information about the model
    that wrote it (sets list responses in a fixed model order)."""
    rng = rng or random.Random(0)
    combos = list(itertools.combinations(range(len(s.responses)), 2))
    if per_prompt is not None and per_prompt < len(combos):
        combos = rng.sample(combos, per_prompt)
    pairs = []
    for i, j in combos:
        if rng.random() < 0.5:
            i, j = j, i
        meta = {**s.meta, "model_a": s.models[i], "model_b": s.models[j]}
        pairs.append(PreferencePair(s.prompt, s.responses[i], s.responses[j], None, s.source, s.category, meta,
                                    dict(s.extra)))
    return pairs


def both_orders(pairs: Iterable[PreferencePair]) -> list[PreferencePair]:
    """Each pair followed by its swap (labels swapped too): position debiasing."""
    out = []
    for pair in pairs:
        out += [pair, pair.swapped()]
    return out
