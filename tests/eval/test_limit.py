"""`gram eval --limit N`: a seeded sample stratified by category, never the first N rows."""

from __future__ import annotations

from collections import Counter

from gram.eval.run import limited
from gram.records import PreferencePair


def sorted_by_category(sizes: dict[str, int]) -> list[PreferencePair]:
    """A benchmark file sorted by category, as JudgeBench and HHH are."""
    return [PreferencePair(f"{c} {i}", "a", "b", "a", "set", c) for c, n in sizes.items() for i in range(n)]


def test_a_limit_samples_every_category_in_proportion_in_file_order():
    pairs = sorted_by_category({"law": 60, "math": 30, "code": 10})
    sample, note = limited(pairs, 10, seed=0)
    assert Counter(p.category for p in sample) == {"law": 6, "math": 3, "code": 1}
    assert [pairs.index(p) for p in sample] == sorted(pairs.index(p) for p in sample)
    assert note == {"sample": {"limit": 10, "seed": 0, "of": 100, "stratified_by": "category"}}


def test_a_small_limit_still_takes_one_of_each_category():
    pairs = sorted_by_category({"law": 97, "math": 2, "code": 1})
    assert Counter(p.category for p in limited(pairs, 3, seed=1)[0]) == {"law": 1, "math": 1, "code": 1}
    assert len(limited(pairs, 2, seed=1)[0]) == 2


def test_the_seed_picks_the_sample_and_is_stable():
    pairs = sorted_by_category({"law": 50, "math": 50})
    assert limited(pairs, 10, seed=3) == limited(pairs, 10, seed=3)
    assert limited(pairs, 10, seed=3)[0] != limited(pairs, 10, seed=4)[0]


def test_no_limit_or_a_limit_over_the_set_is_every_pair_without_a_note():
    pairs = sorted_by_category({"law": 3})
    assert limited(pairs, None, 0) == (pairs, {}) and limited(pairs, 3, 0) == (pairs, {})


def test_gram_eval_says_its_sample_and_a_new_seed_is_another_result(tiny_model_dir, tmp_path, capsys):
    import json

    from gram.cli import main

    bench = tmp_path / "sorted.jsonl"
    bench.write_text("".join(json.dumps({"prompt": f"q{i}", "response_a": "x", "response_b": "y", "label": "a",
                                         "category": c}) + "\n" for i, c in enumerate(["law"] * 8 + ["math"] * 4)))
    out = tmp_path / "o"
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", str(bench), "--output", str(out),
                 "--limit", "3", "--quiet", "--max-length", "1024"]) == 0
    assert "--limit 3: a sample of 3 of 12 pairs, stratified by category, seed 0" in capsys.readouterr().err
    results = json.loads(next(out.rglob("results.json")).read_text())
    assert results["n"] == 3 and set(results["categories"]) == {"law", "math"}
    assert results["data"]["sample"] == {"limit": 3, "seed": 0, "of": 12, "stratified_by": "category"}
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", str(bench), "--output", str(out),
                 "--limit", "3", "--seed", "1", "--resume", "--quiet", "--max-length", "1024"]) == 0
    assert "already done" not in capsys.readouterr().err  # another sample: scored again, not kept
