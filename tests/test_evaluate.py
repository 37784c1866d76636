"""Metrics on hand-made scored pairs, RewardBench's section weighting, the RM-Bench matrix, `gram eval`."""

import json
import os
from pathlib import Path

import pytest

from gram.cli import main
from gram.eval.metrics import summarize_scores
from gram.eval.official import official_summaries, rewardbench_summary
from gram.records import PreferencePair
from gram.scoring import combine


def pair(label, category="c", source="s", **meta):
    return PreferencePair("q", "x", "y", label, source, category, meta)


def test_summary_by_hand():
    pairs = [pair("a", "c1"), pair("b", "c1"), pair("a", "c2"), pair("b", "c2"), pair("tie")]
    scores = [
        combine(0.9, 0.2),  # a preferred in both orders: right, consistent
        combine(0.8, 0.7),  # score_a = 0.55 -> picks a, label b: wrong; A-first picks a (wrong), B-first picks b (right)
        combine(0.6, 0.6),  # score_a = 0.5: an exact tie counts as wrong
        combine(0.3, 0.9),  # b preferred in both orders: right
        combine(0.5, 0.5),
    ]
    r = summarize_scores(pairs, scores)
    assert r["n"] == 4 and r["ties_excluded"] == 1
    assert r["overall"] == pytest.approx(2 / 4)
    assert r["categories"] == {"c1": {"accuracy": 0.5, "n": 2}, "c2": {"accuracy": 0.5, "n": 2}}
    # A-first alone: 0.9 a (right), 0.8 a (wrong), 0.6 a (right), 0.3 b (right)
    assert r["order_ab_alone"] == pytest.approx(3 / 4)
    # B-first alone (p_a_ba < 0.5 means a wins): 0.2 a (right), 0.7 b (right), 0.6 b (wrong), 0.9 b (right)
    assert r["order_ba_alone"] == pytest.approx(3 / 4)
    assert r["position_consistency"] == pytest.approx(2 / 4)


def test_calibration_by_hand():
    # two pairs scored 0.85 (bin 8), one of them with a preferred: mean score 0.85, frequency 0.5, gap 0.35;
    # two scored 0.15 (bin 1), neither with a preferred: frequency 0, gap 0.15. ECE = (2*0.35 + 2*0.15) / 4
    pairs = [pair("a"), pair("b"), pair("b"), pair("b")]
    scores = [combine(0.85, 0.15), combine(0.85, 0.15), combine(0.15, 0.85), combine(0.15, 0.85)]
    cal = summarize_scores(pairs, scores)["calibration"]
    assert cal["ece"] == pytest.approx(0.25)
    assert cal["bins"][8]["n"] == 2 and cal["bins"][8]["frequency"] == 0.5


def test_rewardbench_section_weighting_by_hand():
    # Chat: alpacaeval-easy 1.0 (weight 100), mt-bench-easy 0.0 (28) -> 100/128
    # Reasoning: math-prm 1.0 (weight 984, upweighted), six hep-* at 0.5 (164 each) -> (984 + 0.5*984)/1968 = 0.75
    acc = {"alpacaeval-easy": 1.0, "mt-bench-easy": 0.0, "math-prm": 1.0,
           **{f"hep-{x}": 0.5 for x in ("cpp", "go", "java", "js", "python", "rust")}}
    r = rewardbench_summary(acc)
    assert r["sections"] == {"Chat": pytest.approx(0.78125), "Reasoning": pytest.approx(0.75)}
    assert r["score"] == pytest.approx((0.78125 + 0.75) / 2)
    assert "xstest-should-refuse" in r["missing_subsets"]
    with_prior = rewardbench_summary({**acc, "shp": 0.4, "summarize": 0.6})
    assert with_prior["prior_sets"] == pytest.approx(0.5)
    assert with_prior["score"] == pytest.approx((2 * (0.78125 + 0.75) + 0.5) / 5)


def test_rewardbench_from_scored_pairs():
    pairs = [pair("a", "llmbar-natural", "rewardbench"), pair("a", "llmbar-natural", "rewardbench"),
             pair("b", "mt-bench-hard", "rewardbench")]
    scores = [combine(0.9, 0.1), combine(0.1, 0.9), combine(0.1, 0.9)]
    (r,) = official_summaries(pairs, scores).values()
    # llmbar-natural 0.5 (weight 100), mt-bench-hard 1.0 (37)
    assert r["sections"]["Chat Hard"] == pytest.approx((0.5 * 100 + 1.0 * 37) / 137)


def test_rm_bench_matrix_by_hand():
    # a style-biased judge: chosen_i beats rejected_j exactly when i >= j (it likes the fancier style)
    pairs, scores = [], []
    for prompt in range(2):
        for i in range(3):
            for j in range(3):
                p = PreferencePair(f"q{prompt}", "x", "y", "a", "rm-bench", "chat", {"chosen_style": i, "rejected_style": j})
                pairs.append(p)
                scores.append(combine(0.9, 0.1) if i >= j else combine(0.1, 0.9))
    r = official_summaries(pairs, scores)["rm_bench"]
    chat = r["domains"]["chat"]
    assert chat["matrix"] == [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    assert (chat["hard"], chat["normal"], chat["easy"]) == (0.0, 1.0, 1.0)
    assert r["average"] == pytest.approx(2 / 3)


def test_eval_cli_two_models(tmp_path, tiny_model_dir, tiny_tokenizer, capsys):
    from conftest import make_model

    other = tmp_path / "other"
    make_model(len(tiny_tokenizer), seed=1).save_pretrained(other)
    tiny_tokenizer.save_pretrained(other)
    data = tmp_path / "bench.jsonl"
    rows = [pair("a" if i % 2 else "b", f"cat{i % 3}").to_row() for i in range(6)]
    for i, r in enumerate(rows):
        r["prompt"], r["response_a"] = f"question {i}?", f"answer {i}"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_model_dir), "--model", str(other), "--benchmark", str(data),
                 "--output", str(out), "--quiet", "--max-length", "1024"]) == 0
    for name in (tiny_model_dir.name, "other"):
        d = out / name / "bench"
        r = json.loads((d / "results.json").read_text())
        assert r["n"] == 6 and set(r["categories"]) == {"cat0", "cat1", "cat2"} and 0 <= r["overall"] <= 1
        assert r["model"].endswith(name) and r["data"]["records"] == 6 and len(r["data"]["sha1"]) == 16
        assert (d / "accuracy.png").stat().st_size > 1000 and (d / "reliability.png").is_file()
        assert len((d / "scores.jsonl").read_text().splitlines()) == 6
    table = (out / "comparison.md").read_text()
    assert table.splitlines()[0].count("|") == 5 and "| bench | 6 |" in table


DATA = Path(os.environ.get("GRAM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is absent")
def test_every_named_benchmark_loads(monkeypatch):
    from gram.eval.benchmarks import BENCHMARKS, load_benchmark

    monkeypatch.setenv("GRAM_DATA", str(DATA))
    sizes = {}
    for name in BENCHMARKS:
        _, pairs, identity = load_benchmark(name)
        sizes[name] = sum(p.label in ("a", "b") for p in pairs)
        assert identity["records"] == len(pairs)
    assert sizes == {"judgebench": 350, "judgebench-claude": 270, "llmbar-natural": 100, "llmbar-adversarial": 319,
                     "hhh": 221, "pandalm": 894, "mt-bench": 200, "rmb": 14543}


def test_rewardbench_weights_are_the_official_constants():
    """EXAMPLE_COUNTS and SUBSET_MAPPING equal allenai/reward-bench's rewardbench/constants.py (a copy of
    its numbers in tests/fixtures), and a section score is its calculate_scores_per_section."""
    import json
    from pathlib import Path

    from gram.eval.official import EXAMPLE_COUNTS, SUBSET_MAPPING, rewardbench_summary

    official = json.loads((Path(__file__).parent / "fixtures" / "rewardbench_constants.json").read_text())
    assert EXAMPLE_COUNTS == official["EXAMPLE_COUNTS"]
    assert SUBSET_MAPPING == official["SUBSET_MAPPING"]
    acc = {"xstest-should-refuse": 1.0, "xstest-should-respond": 0.0, "refusals-dangerous": 0.5}
    safety = rewardbench_summary(acc)["sections"]["Safety"]
    assert safety == (154 * 1.0 + 250 * 0.0 + 100 * 0.5) / (154 + 250 + 100)


def test_judgebench_groups_as_the_gram_readme_reports_them():
    """Groups by source key (every mmlu-pro-* source is Knowledge), average = mean of the four groups
    (the README's Avg.), pooled beside it; hand-computed on 7 pairs."""
    from gram.eval.official import judgebench_summary
    from gram.records import PreferencePair
    from gram.scoring import combine

    rows = [("mmlu-pro-math", True), ("mmlu-pro-law", False), ("livebench-reasoning", True),
            ("livebench-math", True), ("livebench-math", False), ("livecodebench", False), ("livecodebench", True)]
    pairs = [PreferencePair("q", "a", "b", "a", source="judgebench", category=c) for c, _ in rows]
    scores = [combine(0.9, 0.1) if ok else combine(0.1, 0.9) for _, ok in rows]
    out = judgebench_summary(pairs, scores)
    assert out["groups"] == {"Knowledge": 0.5, "Reasoning": 1.0, "Math": 0.5, "Coding": 0.5}
    assert out["average"] == (0.5 + 1.0 + 0.5 + 0.5) / 4 and out["pooled"] == 4 / 7
