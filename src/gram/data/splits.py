"""Train / test splits by prompt: every record of a prompt lands on the same side, so no prompt leaks."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..records import Record, prompt_key


def split_by_prompt(records: Sequence[Record], test_size: int, seed: int = 0) -> tuple[list[Record], list[Record]]:
    """Prompts in a seeded random order fill the test side until it holds `test_size` records (a prompt's
    records stay together, so it may hold a few more); the rest is the training side, in input order."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(prompt_key(r.prompt), []).append(i)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    test_idx: set[int] = set()
    for key in keys:
        if len(test_idx) >= test_size:
            break
        test_idx.update(groups[key])
    train = [r for i, r in enumerate(records) if i not in test_idx]
    test = [r for i, r in enumerate(records) if i in test_idx]
    return train, test
