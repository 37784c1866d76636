"""Metrics on hand-made scored pairs, RewardBench's section weighting, the RM-Bench matrix, `gram eval`."""

import json

import pytest
from helpers import SHARED_DATA as DATA

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


@pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is absent")
def test_every_named_benchmark_loads(monkeypatch):
    from gram.eval.registry import BENCHMARKS, load_benchmark

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

    official = json.loads((Path(__file__).parent.parent / "fixtures" / "rewardbench_constants.json").read_text())
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


def test_eval_does_not_truncate_below_the_models_context_and_says_when_a_pair_is_over_it(tmp_path, tiny_model_dir,
                                                                                           capsys):
    import json

    from gram.cli import main

    long = " ".join(f"word{i}" for i in range(3000))  # over the tiny model's 4,096 positions
    rows = [{"prompt": "q", "response_a": "short", "response_b": "also short", "label": "a"},
            {"prompt": "q", "response_a": long, "response_b": "x", "label": "b"}]
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", str(bench), "--output", str(tmp_path / "o"),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "1 pairs were over the model's context" in err
    (results,) = [json.loads(p.read_text()) for p in (tmp_path / "o").rglob("results.json")]
    assert results["truncated"] == 1 and results["settings"]["max_length"] is None


RB2_TIES = [("ref:1", 1, [3.0, 1.0, 2.0]), ("tied:1", 2, [5.0, 4.0, 1.0]),
            ("ref:2", 1, [1.0, 2.0]), ("tied:2", 2, [2.0, 0.0, 1.0])]


def test_rewardbench2_scores_a_hand_made_fixture_to_hand_computed_values():
    """Best-of-n: 1 / (number of maxima) when the correct response holds the maximum, else 0. Ties
    (rewardbench/utils.py process_single_model), by hand: ref accuracy 1/2, tied accuracy 1/2,
    correctness_preferred 1/2 (3 > 1; -1 > 2 no), hard 0 (1 > 1 no; -1 > 2 no), margins tanh(1/1 - 1) = 0
    and tanh(-1/2 - 1); 0.3 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.01 * mean = 0.3954742587 (the official
    function gives the same on these rows)."""
    import math

    from gram.eval.official import best_of_n_result, rewardbench2_summary, rewardbench2_ties_score
    from gram.records import ResponseSet

    assert [best_of_n_result(s) for s in ([2, 1, 0, 0.5], [1, 3, 1, 0], [1, 1, 0, 0])] == [1.0, 0.0, 0.5]
    ties = 0.3 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0 + 0.01 * (0 + math.tanh(-1.5)) / 2
    assert rewardbench2_ties_score(RB2_TIES) == pytest.approx(ties, abs=1e-12)
    assert ties == pytest.approx(0.3954742587, abs=1e-10)

    def rs(subset, scores, sid="0", n=1):
        return ResponseSet("q", [str(i) for i in range(len(scores))], category=subset, source="rewardbench2",
                           meta={"id": sid, "num_correct": n}), scores

    rows = [rs("Focus", [2, 1, 0, 0.5]), rs("Focus", [1, 3, 1, 0]), rs("Math", [1, 1, 0, 0])]
    rows += [rs("Ties", scores, sid, n) for sid, n, scores in RB2_TIES]
    out = rewardbench2_summary([s for s, _ in rows], [sc for _, sc in rows])
    assert out["subsets"] == {"Focus": 0.5, "Math": 0.5, "Ties": pytest.approx(ties)}
    assert out["overall"] == pytest.approx((0.5 + 0.5 + ties) / 3)
    assert out["missing_subsets"] == ["Factuality", "Precise IF", "Safety"]


def test_gram_eval_ranks_rewardbench2_sets(tmp_path, tiny_model_dir):
    import json

    from gram.cli import main

    rows = [{"id": "1", "prompt": "2+2?", "chosen": ["4"], "rejected": ["5", "6", "22"], "num_correct": 1,
             "subset": "Math"},
            {"id": "ref:7", "prompt": "A colour?", "chosen": ["red"], "rejected": ["dog", "7"], "num_correct": 1,
             "subset": "Ties"},
            {"id": "tied:7", "prompt": "A colour?", "chosen": ["red", "blue"], "rejected": ["dog"], "num_correct": 2,
             "subset": "Ties"}]
    bench = tmp_path / "rb2.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o"
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", str(bench), "--format", "rewardbench2",
                 "--output", str(out), "--quiet"]) == 0
    (results,) = [json.loads(p.read_text()) for p in out.rglob("results.json")]
    rb2 = results["rewardbench2"]
    assert set(rb2["subsets"]) == {"Math", "Ties"} and 0 <= rb2["overall"] <= 1
    assert results["comparisons"] == 6 + 3 + 3  # round-robin: every pair of each set once
    scored = [json.loads(line) for line in next(out.rglob("scores.jsonl")).read_text().splitlines()]
    assert [len(r["bt_scores"]) for r in scored] == [4, 3, 3]  # `scores` until 0.2 (RankResult.to_row)


def test_length_effects_on_a_hand_made_fixture():
    """Six pairs with unequal lengths: the preferred response is the longer in 4 (the judge right in 3) and
    the shorter in 2 (right in 1); length-controlled = (3/4 + 1/2) / 2. The judge prefers the longer in
    4 of 6; its margins follow the length differences."""
    from gram.eval.metrics import length_effects
    from gram.records import PreferencePair
    from gram.scoring import combine

    def pair(a_len, b_len, label, judge_a):  # judge_a: the judge's score_a
        return PreferencePair("q", "x" * a_len, "y" * b_len, label), combine(judge_a, 1 - judge_a)

    rows = [pair(10, 2, "a", 0.9), pair(9, 3, "a", 0.8), pair(2, 8, "b", 0.2), pair(3, 9, "b", 0.6),  # longer preferred
            pair(1, 7, "a", 0.3), pair(8, 2, "b", 0.4),  # shorter preferred: wrong, right
            pair(5, 5, "a", 0.9)]  # equal lengths: left out
    out = length_effects([p for p, _ in rows], [s for _, s in rows])
    assert out["pairs"] == 6 and out["longer_wins"] == 4 / 6 and out["shorter_wins"] == 2 / 6
    assert out["accuracy_chosen_longer"] == 3 / 4 and out["accuracy_chosen_shorter"] == 1 / 2
    assert out["length_controlled_accuracy"] == (3 / 4 + 1 / 2) / 2
    assert out["picks_longer"] == 4 / 6
    assert 0 < out["margin_length_correlation"] <= 1
    # a judge that only looks at length: length-controlled accuracy 0.5, whatever the set's lean
    length_only = [combine(0.9, 0.1) if len(p.response_a) > len(p.response_b) else combine(0.1, 0.9) for p, _ in rows]
    only = length_effects([p for p, _ in rows], length_only)
    assert only["length_controlled_accuracy"] == 0.5 and only["picks_longer"] == 1.0


def test_unlabeled_rows_are_counted_and_said(tmp_path, tiny_model_dir, capsys):
    """Issue 35: a file without labels gave "accuracy - over 0 pairs" and no warning. Every row is now
    accounted for (n + ties + unlabeled) in results.json, and the run says what the accuracy is over."""
    rows = [{"prompt": f"q{i}", "response_a": "a", "response_b": "bb", "label": label}
            for i, label in enumerate(["a", "b", None, None, "tie"])]
    bench = tmp_path / "mixed.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", str(bench), "--output", str(tmp_path / "o"),
                 "--quiet", "--max-length", "1024"]) == 0
    results = json.loads(next((tmp_path / "o").rglob("results.json")).read_text())
    assert (results["n"], results["ties_excluded"], results["unlabeled"]) == (2, 1, 2)
    assert "2 of 5 pairs have no label; the accuracy is over the 2 labeled ones" in capsys.readouterr().err
    bench.write_text("".join(json.dumps({**r, "label": None}) + "\n" for r in rows))
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", str(bench), "--output", str(tmp_path / "u"),
                 "--quiet", "--max-length", "1024"]) == 0
    assert "5 of 5 pairs have no label: no accuracy" in capsys.readouterr().err
