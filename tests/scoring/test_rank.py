"""Ranking strategies against a fake judge with known preferences: exact comparisons and results."""

import math

import pytest

from gram.scoring import combine
from gram.scoring.rank import bradley_terry, rank


class FakeJudge:
    """Prefers the response with the higher number in it; records every batch it is sent."""

    def __init__(self, noise_free=True):
        self.batches = []

    def compare_many(self, pairs, **_):
        self.batches.append(len(pairs))
        out = []
        for _, a, b in pairs:
            d = int(a) - int(b)
            p = 1 / (1 + math.exp(-d))
            out.append(combine(p, 1 - p))
        return out


RESPONSES = ["3", "7", "1", "9", "4", "6", "2", "8"]  # best is index 3 ("9")


@pytest.mark.parametrize("strategy, comparisons, rounds", [
    ("linear", 7, 7),            # n - 1, one at a time
    ("knockout", 7, 3),          # n - 1, log2(8) = 3 batches
    ("round-robin", 28, 1),      # n(n-1)/2 in one batch
    # knockouts over 8, 7, ..., 2 candidates; pairs judged in an earlier knockout are reused, so 18
    # comparisons instead of 28 (worked through by hand: 7 + 4 + 1 + 2 + 2 + 1 + 1, in 3+3+1+2+2+1+1 batches)
    ("selection", 18, 13),
])
def test_strategies_find_the_best(strategy, comparisons, rounds):
    judge = FakeJudge()
    r = rank(judge, "q", RESPONSES, strategy)
    assert r.best == 3
    assert (r.comparisons, r.rounds, len(judge.batches)) == (comparisons, rounds, rounds)
    assert sum(judge.batches) == comparisons and not r.budget_exhausted


@pytest.mark.parametrize("strategy", ["round-robin", "selection"])
def test_full_rankings(strategy):
    r = rank(FakeJudge(), "q", RESPONSES, strategy)
    assert r.full and [RESPONSES[i] for i in r.order] == ["9", "8", "7", "6", "4", "3", "2", "1"]


def test_round_robin_scores_follow_strengths():
    r = rank(FakeJudge(), "q", RESPONSES, "round-robin")
    by_value = sorted(range(8), key=lambda i: int(RESPONSES[i]))
    assert [r.scores[i] for i in by_value] == sorted(r.scores)


def test_odd_count_gets_a_bye():
    judge = FakeJudge()
    r = rank(judge, "q", ["5", "1", "2", "9", "3"], "knockout")
    assert r.best == 3 and r.comparisons == 4 and judge.batches == [2, 1, 1]


@pytest.mark.parametrize("strategy, budget", [("linear", 3), ("knockout", 5), ("round-robin", 10), ("selection", 9)])
def test_budget_caps_comparisons(strategy, budget):
    judge = FakeJudge()
    r = rank(judge, "q", RESPONSES, strategy, budget=budget)
    assert r.comparisons <= budget and sum(judge.batches) == r.comparisons and r.budget_exhausted
    assert sorted(r.order) == list(range(8))


def test_linear_with_budget_returns_best_so_far():
    r = rank(FakeJudge(), "q", RESPONSES, "linear", budget=3)  # saw "3", "7", "1", "9": best "9"
    assert r.best == 3 and r.comparisons == 3


def test_bradley_terry_recovers_known_strengths():
    true = [0.0, 1.0, 2.0]
    wins = {(i, j): 1 / (1 + math.exp(true[j] - true[i])) for i in range(3) for j in range(i + 1, 3)}
    est = bradley_terry(3, wins, iterations=500)
    assert est[0] < est[1] < est[2]
    assert est[2] - est[0] == pytest.approx(2.0, abs=0.5)  # the prior shrinks it a little


def test_single_and_empty():
    assert rank(FakeJudge(), "q", ["1"], "knockout").order == [0]
    with pytest.raises(ValueError):
        rank(FakeJudge(), "q", [], "linear")
    with pytest.raises(ValueError):
        rank(FakeJudge(), "q", ["1", "2"], "swiss")


def test_rank_cli_on_sets(tmp_path, tiny_model_dir, capsys):
    import json

    from gram.cli import main
    from gram.records import ResponseSet

    src = tmp_path / "sets.jsonl"
    src.write_text("".join(json.dumps(ResponseSet(f"q{i}", ["a", "bb", "ccc", "dddd", "e"], best=1).to_row()) + "\n"
                           for i in range(2)))
    out = tmp_path / "ranked.jsonl"
    assert main(["rank", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out),
                 "--strategy", "round-robin", "--quiet", "--max-length", "1024"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(sorted(r["ranking"]) == list(range(5)) and r["comparisons"] == 10 and len(r["bt_scores"]) == 5
               for r in rows)
    err = capsys.readouterr().err
    assert "2 lists, strategy round-robin, 20 comparisons" in err
    longest = sum(r["picked"] == 3 for r in rows)  # "dddd"; the known best "bb" is not the longest
    assert '"longest wins" 0/2 (0.000)' in err and f"picked the longest response in {longest}/2" in err


def test_bon_cli_samples_and_picks(tmp_path, tiny_model_dir, capsys):
    import json

    from gram.cli import main

    out = tmp_path / "bon.jsonl"
    assert main(["bon", "--model", str(tiny_model_dir), "--policy", str(tiny_model_dir), "--prompt", "Say hi",
                 "--prompt", "Name a colour", "--n", "3", "--max-new-tokens", "5", "--output", str(out),
                 "--quiet", "--max-length", "1024"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["Say hi", "Name a colour"]
    for r in rows:
        assert len(r["responses"]) == 3 and r["picked_response"] == r["responses"][r["picked"]] and r["comparisons"] == 2
    assert "2 prompts x 3 samples" in capsys.readouterr().err


def test_orders_reach_the_judge():
    seen = []

    class Recording(FakeJudge):
        def compare_many(self, pairs, orders="both", **_):
            seen.append(orders)
            return super().compare_many(pairs)

    assert rank(Recording(), "q", RESPONSES, "knockout", orders="ab").best == 3
    assert rank(Recording(), "q", RESPONSES, "knockout").best == 3
    assert seen == ["ab"] * 3 + ["both"] * 3


def test_one_default_strategy_everywhere():
    """rank(), `gram rank` / `gram bon` (RankMethod and the flag) and the server's /rank share one default."""
    import inspect

    from gram.cli import parse
    from gram.jobs.ranking import RankMethod
    from gram.scoring.rank import DEFAULT_STRATEGY
    from gram.serve.schemas import RankIn

    assert DEFAULT_STRATEGY == "knockout"
    assert inspect.signature(rank).parameters["strategy"].default == DEFAULT_STRATEGY
    assert RankMethod().strategy == DEFAULT_STRATEGY
    assert RankIn(lists=[{"prompt": "q", "responses": ["a", "b"]}]).strategy == DEFAULT_STRATEGY
    assert parse(["rank", "--input", "x.jsonl", "--output", "y.jsonl"]).strategy == DEFAULT_STRATEGY
    assert parse(["bon", "--input", "x.jsonl", "--output", "y.jsonl"]).strategy == DEFAULT_STRATEGY


def test_a_list_picked_without_a_comparison_claims_no_accuracy(capsys):
    from argparse import Namespace

    from gram.cli.rank import report

    row = {"responses": ["only"], "best": 0, "picked": 0, "comparisons": 0}
    report(Namespace(strategy="linear", output="o.jsonl"), [row, dict(row)], 0.1)
    line = capsys.readouterr().err
    assert "0 comparisons" in line and "picked the known best" not in line and "2 lists of one response" in line
    pair = {"responses": ["a", "bb"], "best": 1, "picked": 1, "comparisons": 1}
    report(Namespace(strategy="linear", output="o.jsonl"), [row, pair], 0.1)
    assert "picked the known best in 1/1 (1.000) (1 lists of one response not counted)" in capsys.readouterr().err


def test_the_package_exports_the_rank_function_not_its_module():
    """`from gram.scoring import rank` is the function even after the submodule gram.scoring.rank is imported
    (a lazy export gave the module: 'module' object is not callable)."""
    import importlib
    import sys

    import gram
    import gram.scoring

    module = importlib.import_module("gram.scoring.rank")
    assert sys.modules["gram.scoring.rank"] is module
    importlib.reload(gram.scoring)
    from gram.scoring import rank as exported

    assert callable(exported) and exported is module.rank and gram.rank is module.rank
