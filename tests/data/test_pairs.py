"""gram.data.pairs: every pair of a response set, or a seeded sample of them, and both orders of a pair."""

import random

from gram.data.pairs import both_orders, pairs_from_set
from gram.records import PreferencePair, ResponseSet


def test_pairs_from_set_all_and_sampled():
    s = ResponseSet("q", ["r0", "r1", "r2", "r3", "r4"], ["m0", "m1", "m2", "m3", "m4"], source="src")
    every = pairs_from_set(s)
    assert len(every) == 10 and all(p.label is None for p in every)
    assert {frozenset((p.response_a, p.response_b)) for p in every} == {
        frozenset((f"r{i}", f"r{j}")) for i in range(5) for j in range(i + 1, 5)}
    assert all(p.meta["model_a"] == "m" + p.response_a[1] for p in every)
    first = [p.response_a for p in every]
    assert 0 < sum(a < b for a, b in ((p.response_a, p.response_b) for p in every)) < 10, first  # placement drawn
    a = pairs_from_set(s, per_prompt=3, rng=random.Random(7))
    b = pairs_from_set(s, per_prompt=3, rng=random.Random(7))
    assert len(a) == 3 and [(p.response_a, p.response_b) for p in a] == [(p.response_a, p.response_b) for p in b]


def test_both_orders_swaps_labels():
    out = both_orders([PreferencePair("q", "x", "y", "a"), PreferencePair("q", "u", "v", None)])
    assert [(p.response_a, p.response_b, p.label) for p in out] == [
        ("x", "y", "a"), ("y", "x", "b"), ("u", "v", None), ("v", "u", None)]
