"""The scaled replication's plan: settings chosen on the dev split only, final runs built from them, the
blind set's scores kept with their ids and nothing of the text."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import replicate_scaled as plan  # noqa: E402


def score_trial(run: Path, family: str, i: int, per_epoch: list[tuple[float, float]]) -> None:
    """Write dev results for trial i: (length-controlled accuracy, accuracy) after each epoch."""
    for epoch, (controlled, accuracy) in enumerate(per_epoch, start=1):
        folder = plan.trial_eval_dir(run, plan.trial_name(family, i), epoch) / f"checkpoint-{epoch}" / "dev"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(
            {"accuracy": accuracy, "length": {"length_controlled_accuracy": controlled}}))


def test_the_fourth_trial_waits_for_the_first_three_then_follows_the_best(tmp_path):
    assert plan.trial_settings(tmp_path, "stage2-only", 0) == {"lr": "2e-5", "eps": "0.1"}
    assert plan.trial_settings(tmp_path, "stage2-only", 3) is None
    assert plan.choose(tmp_path, "stage2-only") is None
    score_trial(tmp_path, "stage2-only", 0, [(0.50, 0.50), (0.52, 0.53)])
    score_trial(tmp_path, "stage2-only", 1, [(0.55, 0.54), (0.61, 0.60)])
    score_trial(tmp_path, "stage2-only", 2, [(0.58, 0.58), (0.57, 0.59)])
    assert plan.trial_settings(tmp_path, "stage2-only", 3) == {"lr": "1e-4", "eps": "0.3"}
    assert plan.choose(tmp_path, "stage2-only") is None  # the fourth is not scored yet
    score_trial(tmp_path, "stage2-only", 3, [(0.60, 0.62), (0.59, 0.61)])
    best = plan.choose(tmp_path, "stage2-only")
    assert (best["lr"], best["eps"], best["epochs"], best["trial"]) == ("1e-4", "0.1", 2, 1)


def test_ties_on_length_controlled_accuracy_go_to_plain_accuracy_then_the_earlier_run(tmp_path):
    for i in range(3):
        score_trial(tmp_path, "stage2-only", i, [(0.6, 0.6), (0.6, 0.7 if i == 2 else 0.6)])
    score_trial(tmp_path, "stage2-only", 3, [(0.6, 0.7), (0.5, 0.5)])
    best = plan.choose(tmp_path, "stage2-only")
    assert (best["trial"], best["epochs"]) == (2, 2)


@pytest.mark.parametrize("scores, expected", [
    ([0.6, 0.5, 0.4], "4.0e-06"),  # best at the low end: one step further down
    ([0.4, 0.5, 0.6], "1.6e-03"),  # best at the high end: one step further up
    ([0.5, 0.6, 0.55], "2.0e-04"),  # in the middle: halfway (geometric) toward the better neighbour
])
def test_bt_spends_its_fourth_run_on_one_more_learning_rate(tmp_path, scores, expected):
    for i, s in enumerate(scores):
        score_trial(tmp_path, "bt", i, [(s, s), (s - 0.01, s)])
    assert plan.trial_settings(tmp_path, "bt", 3) == {"lr": expected, "eps": None}


def test_final_runs_wait_for_their_sweep_then_train_with_its_choice(tmp_path):
    assert plan.final_stage(tmp_path, "gram-eps0").commands == []  # waiting
    for i, s in enumerate([0.5, 0.7, 0.6, 0.55]):
        score_trial(tmp_path, "gram", i, [(s - 0.05, s), (s, s)])
    command = plan.final_stage(tmp_path, "gram-eps0").commands[0]
    flag = {command[i]: command[i + 1] for i in range(len(command) - 1)}
    assert (flag["--learning-rate"], flag["--epochs"], flag["--limit"]) == ("1e-4", "2", "2000")
    assert command[command.index("--label-smoothing", command.index("--label-smoothing") + 1) + 1] == "0"
    assert flag["--model"].endswith("models/stage1")
    both = plan.final_stage(tmp_path, "gram-both-orders").commands[0]
    assert both.index("--both-orders") > both.index("--no-both-orders")  # the last flag wins
    assert plan.final_stage(tmp_path, "gram-250").commands[0][plan.final_stage(tmp_path, "gram-250").commands[0]
                                                              .index("--limit") + 1] == "250"


def test_no_model_is_selected_on_an_evaluation_set(tmp_path):
    """Every sweep evaluation reads dev.jsonl; the data build keeps dev apart from every evaluation file."""
    for family in plan.FAMILIES:
        for command in plan.sweep_stage(tmp_path, family, 0).commands[1:]:
            assert command[command.index("--benchmark") + 1].endswith("/data/dev.jsonl")


def test_blind_scores_are_kept_with_ids_and_no_text(tmp_path):
    run, archive = tmp_path / "run", tmp_path / "archive"
    pairs = tmp_path / "pairs.jsonl"
    stage = plan.blind_stage(run, "gram", pairs=pairs, archive=archive)
    command = stage.commands[0]
    assert command[command.index("--max-length") + 1] == "1024" and "--orders" not in command  # both orders
    out = Path(stage.creates[0])
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps({"id": "b0001", "prompt": "secret", "response_a": "x", "response_b": "y",
                               "score_a": 0.7, "score_b": 0.3, "p_a_ab": 0.8, "p_a_ba": 0.4, "truncated": False}) + "\n")
    stage.after(run)
    kept = [json.loads(line) for line in (archive / "gram" / "scores.jsonl").read_text().splitlines()]
    assert kept == [{"id": "b0001", "score_a": 0.7, "score_b": 0.3, "p_a_ab": 0.8, "p_a_ba": 0.4, "truncated": False}]


def test_every_final_model_scores_the_blind_set():
    names = {s.name for s in plan.stages(Path("/nonexistent"))}
    finals = {"gram", "gram-eps0", "stage2-only", "bt", "zero-shot", "gram-250", "gram-1000"}
    assert {f"blind-{m}" for m in finals} <= names
    assert {f"eval-{m}" for m in (*plan.FINALS, "zero-shot")} <= names
