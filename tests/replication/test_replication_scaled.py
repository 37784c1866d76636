"""The scaled replication's plan: settings chosen on the dev split only, final runs built from them, the
blind set's scores kept with their ids and nothing of the text."""

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.replication import finals, sweep
from benchmarks.replication.archive import keep_outputs, restore
from benchmarks.replication.build import stages
from benchmarks.replication.plans import scaled
from benchmarks.replication.reports import scaled as report


def score_trial(run: Path, family: str, i: int, per_epoch: list[tuple[float, float]]) -> None:
    """Write dev results for trial i as `gram eval` does (gram.eval.metrics.summarize_scores), with the given
    (length-controlled accuracy, accuracy) after each epoch: 40 pairs, 20 whose chosen response is the longer."""
    from gram.eval.metrics import summarize_scores
    from gram.records import PreferencePair
    from gram.scoring.base import PairScore

    pairs = [PreferencePair("p", "long answer", "short", "a") for _ in range(20)] + \
            [PreferencePair("p", "short", "long answer", "a") for _ in range(20)]
    for epoch, (controlled, accuracy) in enumerate(per_epoch, start=1):
        # right on x of the first 20 and y of the last 20: accuracy (x + y) / 40, controlled (x/20 + y/20) / 2,
        # the same number; a row whose accuracy differs from its controlled accuracy adds unequal-length ties.
        right = round(accuracy * 40)
        rows = [PairScore(0.9, 0.1, 0.9, 0.1) if k < right else PairScore(0.1, 0.9, 0.1, 0.9) for k in range(40)]
        results = summarize_scores(pairs, rows)
        assert "length_controlled_accuracy" in results["length"] and "overall" in results  # what choose() reads
        results["length"]["length_controlled_accuracy"] = controlled  # set apart from accuracy to test the order
        folder = sweep.trial_eval_dir(run, sweep.trial_name(family, i), epoch) / f"checkpoint-{epoch}" / "dev"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(results))


def test_the_fourth_trial_waits_for_the_first_three_then_follows_the_best(tmp_path):
    assert sweep.trial_settings(tmp_path, "stage2-only", 0) == {"lr": "2e-5", "eps": "0.1"}
    assert sweep.trial_settings(tmp_path, "stage2-only", 3) is None
    assert sweep.choose(tmp_path, "stage2-only") is None
    score_trial(tmp_path, "stage2-only", 0, [(0.50, 0.50), (0.52, 0.53)])
    score_trial(tmp_path, "stage2-only", 1, [(0.55, 0.54), (0.61, 0.60)])
    score_trial(tmp_path, "stage2-only", 2, [(0.58, 0.58), (0.57, 0.59)])
    assert sweep.trial_settings(tmp_path, "stage2-only", 3) == {"lr": "1e-4", "eps": "0.3"}
    assert sweep.choose(tmp_path, "stage2-only") is None  # the fourth is not scored yet
    score_trial(tmp_path, "stage2-only", 3, [(0.60, 0.62), (0.59, 0.61)])
    best = sweep.choose(tmp_path, "stage2-only")
    assert (best["lr"], best["eps"], best["epochs"], best["trial"]) == ("1e-4", "0.1", 2, 1)


def test_ties_on_length_controlled_accuracy_go_to_plain_accuracy_then_the_earlier_run(tmp_path):
    for i in range(3):
        score_trial(tmp_path, "stage2-only", i, [(0.6, 0.6), (0.6, 0.7 if i == 2 else 0.6)])
    score_trial(tmp_path, "stage2-only", 3, [(0.6, 0.7), (0.5, 0.5)])
    best = sweep.choose(tmp_path, "stage2-only")
    assert (best["trial"], best["epochs"]) == (2, 2)


@pytest.mark.parametrize("scores, expected", [
    ([0.6, 0.5, 0.4], "4.0e-06"),  # best at the low end: one step further down
    ([0.4, 0.5, 0.6], "1.6e-03"),  # best at the high end: one step further up
    ([0.5, 0.6, 0.55], "2.0e-04"),  # in the middle: halfway (geometric) toward the better neighbour
])
def test_bt_spends_its_fourth_run_on_one_more_learning_rate(tmp_path, scores, expected):
    for i, s in enumerate(scores):
        score_trial(tmp_path, "bt", i, [(s, s), (s - 0.01, s)])
    assert sweep.trial_settings(tmp_path, "bt", 3) == {"lr": expected, "eps": None}


def test_final_runs_wait_for_their_sweep_then_train_with_its_choice(tmp_path):
    assert finals.final_stage(tmp_path, "gram-eps0").commands == []  # waiting
    for i, s in enumerate([0.5, 0.7, 0.6, 0.55]):
        score_trial(tmp_path, "gram", i, [(s - 0.05, s), (s, s)])
    command = finals.final_stage(tmp_path, "gram-eps0").commands[0]
    flag = {command[i]: command[i + 1] for i in range(len(command) - 1)}
    assert (flag["--learning-rate"], flag["--epochs"], flag["--limit"]) == ("1e-4", "2", "2000")
    assert command[command.index("--label-smoothing", command.index("--label-smoothing") + 1) + 1] == "0"
    assert flag["--model"].endswith("models/stage1")
    assert "--no-both-orders" in command
    both = sweep.orders_check_stage(tmp_path)
    assert "--both-orders" in both.commands[0] and "--no-both-orders" not in both.commands[0]
    assert both.commands[1][both.commands[1].index("--model") + 1].endswith("checkpoint-50")  # 800 examples, 16 a step
    assert sweep.sweep_stage(tmp_path, "gram", 1).commands[1][3].endswith("checkpoint-25")
    assert finals.final_stage(tmp_path, "gram-250").commands[0][finals.final_stage(tmp_path, "gram-250").commands[0]
                                                              .index("--limit") + 1] == "250"


def test_no_model_is_selected_on_an_evaluation_set(tmp_path):
    """Every sweep evaluation reads dev.jsonl; the data build keeps dev apart from every evaluation file."""
    for family in scaled.FAMILIES:
        for command in sweep.sweep_stage(tmp_path, family, 0).commands[1:]:
            assert command[command.index("--benchmark") + 1].endswith("/data/dev.jsonl")


def test_blind_scores_are_kept_with_ids_and_no_text(tmp_path):
    run, archive = tmp_path / "run", tmp_path / "archive"
    pairs = tmp_path / "pairs.jsonl"
    stage = finals.blind_stage(run, "gram", pairs=pairs)
    command = stage.commands[0]
    assert command[command.index("--max-length") + 1] == "1024" and "--orders" not in command  # both orders
    out = Path(stage.creates[0])
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps({"id": "b0001", "prompt": "secret", "response_a": "x", "response_b": "y",
                               "score_a": 0.7, "score_b": 0.3, "p_a_ab": 0.8, "p_a_ba": 0.4, "truncated": False}) + "\n")
    keep_outputs(run, stage, archive)
    kept = [json.loads(line) for line in (archive / "blind" / "gram" / "scores.jsonl").read_text().splitlines()]
    assert kept == [{"id": "b0001", "score_a": 0.7, "score_b": 0.3, "p_a_ab": 0.8, "p_a_ba": 0.4, "truncated": False}]


def test_every_final_model_scores_the_blind_set():
    names = {s.name for s in stages(scaled, Path("/nonexistent"))}
    finals = {"gram", "gram-eps0", "stage2-only", "bt", "zero-shot", "gram-250", "gram-1000"}
    assert {f"blind-{m}" for m in finals} <= names
    assert {f"eval-{m}" for m in (*scaled.FINALS, "zero-shot")} <= names


def fake_scaled_run(tmp_path: Path) -> Path:
    """Every set: 3 pairs whose chosen response is the longer, 1 where it is the shorter. 'gram' is right on
    the 3, wrong on the 1 (accuracy 0.75, length-controlled 0.5); 'bt' right only on the shorter-chosen one."""
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / "manifest.json").write_text(json.dumps({"files": {}, "limits": {}}))
    rows = [{"prompt": "p", "response_a": "long answer", "response_b": "short", "label": "a"},
            {"prompt": "p", "response_a": "short", "response_b": "long answer", "label": "b"},
            {"prompt": "p", "response_a": "long answer", "response_b": "short", "label": "a"},
            {"prompt": "p", "response_a": "long answer", "response_b": "short", "label": "b"}]
    for s in report.SETS:
        (run / "data" / f"{s}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for model, picks_a in (("gram", [1, 0, 1, 1]), ("bt", [0, 1, 0, 0])):
            folder = run / "eval" / model / s
            folder.mkdir(parents=True)
            scores = [{"score_a": 0.8 if a else 0.2, "score_b": 0.2 if a else 0.8, "p_a_ab": 0.9 if a else 0.1,
                       "p_a_ba": 0.3 if a else 0.7} for a in picks_a]
            (folder / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in scores))
    return run


def test_report_pools_length_controlled_accuracy_and_pairs_the_claims(tmp_path):
    run = fake_scaled_run(tmp_path)
    gram, bt, longer = report.pooled(run, "gram"), report.pooled(run, "bt"), report.pooled(run, "longer")
    assert report.accuracy(gram.right) == 0.75 and report.length_controlled(gram.right, gram.longer) == 0.5
    assert report.accuracy(bt.right) == 0.25 and report.length_controlled(bt.right, bt.longer) == 0.5
    assert report.accuracy(longer.right) == 0.75 and report.length_controlled(longer.right, longer.longer) == 0.5
    assert gram.agree == [1] * len(gram.right) and abs(gram.gap[0] - 0.2) < 1e-9
    lines, scored = report.main_table(run)
    gram_row = next(line for line in lines if line.startswith("| GRAM (stage 1 + 2) |"))
    assert "| 0.750 [" in gram_row and "| 0.500 [" in gram_row and "| 1.000 |" in gram_row  # picks longer
    # every pair answered 0.9 / 0.3 (or 0.1 / 0.7) for A in the two orders: gap |0.9 - 0.7| = 0.2, and
    # (|0.9 - 0.5| + |0.3 - 0.5|) / 2 = 0.3 away from a coin
    assert gram_row.endswith("| 1.000 | 1.000 | 0.200 | 0.300 |")
    claims = report.claims_table(scored)
    bt_claim = next(line for line in claims if "GRAM - BT" in line)
    assert "+0.500" in bt_claim and "+0.000" in bt_claim
    assert any("not run yet" in line for line in claims)  # stage 2 only has no scores


def test_sweep_table_shows_each_epochs_dev_accuracy_position_consistency_and_length_lean(tmp_path):
    for i, s in enumerate([0.5, 0.7, 0.6, 0.55]):
        score_trial(tmp_path, "stage2-only", i, [(s - 0.05, s), (s, s)])
    results = sweep.trial_eval_dir(tmp_path, sweep.trial_name("stage2-only", 1), 1) / "checkpoint-1" / "dev" / "results.json"
    edited = json.loads(results.read_text())
    assert edited["position_consistency"] == 1.0  # the fixture's pairs are judged alike in both orders
    results.write_text(json.dumps({**edited, "position_consistency": 0.25}))
    # 28 of 40 right: the 20 whose chosen is the longer, 8 of the 20 whose chosen is the shorter -> 32 longer picks
    rows = [line for line in report.sweep_table(tmp_path) if line.startswith("| stage2-only |")]
    assert len(rows) == 6 and rows[-1].endswith("| - | - | - / - | - / - | - |")  # the checks, not run yet
    assert rows[1] == "| stage2-only | 1 | 1e-4 | 0.1 | 0.650 / 0.700 | **0.700 / 0.700** | 0.25 / 1.00 | 0.80 / 0.80 | - |"
    score_trial(tmp_path, "bt", 0, [(0.5, 0.5), (0.6, 0.6)])
    assert "| bt | 0 | 2e-5 | - | 0.500 / 0.500 | 0.600 / 0.600 | - / - | 1.00 / 0.90 | - |" in report.sweep_table(tmp_path)


@pytest.mark.parametrize("lr, shown", [("2e-5", "2e-5"), ("2.0e-04", "2e-4"), ("1.5e-04", "1.5e-4"), ("0.0001", "1e-4")])
def test_sweep_table_spells_every_learning_rate_like_the_grid(lr, shown):
    assert report.short_lr(lr) == shown


def test_report_refuses_scores_that_do_not_match_the_data(tmp_path):
    run = fake_scaled_run(tmp_path)
    scores = run / "eval" / "gram" / "hhh" / "scores.jsonl"
    scores.write_text(scores.read_text().split("\n", 1)[1])
    with pytest.raises(ValueError, match="3 rows"):
        report.pooled(run, "gram")


def test_adaptation_table_pairs_gram_and_bt_on_the_task_test_side(tmp_path):
    run = fake_scaled_run(tmp_path)
    rows = (run / "data" / "hhh.jsonl").read_text()
    (run / "data" / "hh-test.jsonl").write_text(rows)
    for model in ("gram", "bt"):
        folder = run / "eval" / model / "hh-test"
        folder.mkdir(parents=True)
        (folder / "scores.jsonl").write_text((run / "eval" / model / "hhh" / "scores.jsonl").read_text())
    lines = report.adaptation_table(run)
    assert lines[0].startswith("### Adaptation (claim 4): hh-test, 4 pairs")
    gram = next(line for line in lines if line.startswith("| GRAM (stage 1 + 2) | 0 |"))
    assert gram.startswith("| GRAM (stage 1 + 2) | 0 | 0.750 [") and gram.endswith("| 1.000 | 1.000 |")
    assert "| 0.500 [" in gram  # length-controlled: right on every longer-chosen pair, wrong on the shorter one
    bt = next(line for line in lines if line.startswith("| Bradley-Terry RM | 0 |"))
    assert bt.startswith("| Bradley-Terry RM | 0 | 0.250 [") and bt.endswith("| 0.000 | - |")  # no order to agree
    assert "| GRAM (stage 1 + 2) | 50 | - | - | - | - |" in lines  # adapted models not scored yet
    assert any(line.startswith('| "longer response wins" | - | 0.750 [') for line in lines)
    assert any(line.startswith("| accuracy | +0.500 [") and line.endswith("| - | - |") for line in lines)
    assert any(line.startswith("| length-controlled | +0.000") for line in lines)
    assert not any("summ-test" in line for line in lines)  # nothing scored there: no table


def test_report_plots_the_final_models_and_each_adaptation_task(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    run = fake_scaled_run(tmp_path)
    (run / "data" / "hh-test.jsonl").write_text((run / "data" / "hhh.jsonl").read_text())
    for model in ("gram", "bt"):
        (run / "eval" / model / "hh-test").mkdir(parents=True)
        (run / "eval" / model / "hh-test" / "scores.jsonl").write_text((run / "eval" / model / "hhh" / "scores.jsonl").read_text())
    figures = tmp_path / "figures"
    figures.mkdir()
    lines, _ = report.main_table(run, figures, plt)
    assert "![final models](scaled_final_models.png)" in lines
    adaptation = report.adaptation_table(run, figures, plt)
    assert "![adaptation on hh-test](scaled_adaptation_hh-test.png)" in adaptation
    assert sorted(p.name for p in figures.iterdir()) == ["scaled_adaptation_hh-test.png", "scaled_final_models.png"]
    assert report.main_table(run)[0] == lines[:-2]  # without plt: the same tables, no figure


def test_small_run_rows_sit_beside_the_scaled_ones_each_on_its_own_pairs(tmp_path):
    run = fake_scaled_run(tmp_path)
    small = tmp_path / "replicate"
    assert report.small_run_table(run, small, {})[-2].startswith("The small run's data is not in")
    shutil.copytree(run, small)
    (small / "done").mkdir()
    (small / "done" / "data.json").write_text("{}")
    (small / "data" / "manifest.json").write_text(json.dumps({"files": {"stage2_train": {"pairs": 320}}}))
    shutil.rmtree(small / "eval" / "gram")
    shutil.move(small / "eval" / "bt", small / "eval" / "gram")  # the small run's GRAM judges like 'bt' here
    for path in (small / "data" / "hhh.jsonl", small / "eval" / "gram" / "hhh" / "scores.jsonl"):
        path.write_text(path.read_text() * 2)  # the small run has more hhh pairs
    _, scored = report.main_table(run)
    lines = report.small_run_table(run, small, scored)
    assert lines[0] == "### Against the small run (320 labeled pairs, not tuned; each run on its own OOD pairs)"
    gram = next(line for line in lines if line.startswith("| GRAM (stage 1 + 2) |"))
    assert gram.startswith("| GRAM (stage 1 + 2) | 0.250 [") and "/ 0.500 / 0.000 | 0.750 [" in gram
    assert gram.endswith("/ 0.500 / 1.000 |")
    assert "| Bradley-Terry RM | - | 0.250 [" in "\n".join(lines)  # not in the small run: a dash
    assert any(line.startswith('| "longer response wins" | 0.750 [') for line in lines)
    counts = next(line for line in lines if line.startswith("OOD pairs:"))
    assert "small run judgebench 4 / llmbar-natural 4 / llmbar-adversarial 4 / hhh 8 /" in counts
    assert "scaled run judgebench 4 / llmbar-natural 4 / llmbar-adversarial 4 / hhh 4 /" in counts


def test_picks_longer_counts_only_decided_pairs_of_unequal_length_and_is_undefined_without_one(tmp_path):
    data, scores = tmp_path / "d.jsonl", tmp_path / "s.jsonl"
    rows = [{"prompt": "p", "response_a": "long answer", "response_b": "short", "label": "a"},
            {"prompt": "p", "response_a": "same", "response_b": "SAME", "label": "a"},  # equal lengths
            {"prompt": "p", "response_a": "long answer", "response_b": "short", "label": "b"},
            {"prompt": "p", "response_a": "short", "response_b": "long answer", "label": "a"}]  # a tie below
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scored = [(0.9, 0.1), (0.9, 0.1), (0.2, 0.8), (0.5, 0.5)]
    scores.write_text("".join(json.dumps({"score_a": a, "score_b": b}) + "\n" for a, b in scored))
    assert report.picks_longer(report.Scored(data, scores)) == 0.5  # longer in row 1, shorter in row 3
    scores.write_text("".join(json.dumps({"score_a": 0.5, "score_b": 0.5}) + "\n" for _ in rows))
    tied = report.Scored(data, scores)
    assert report.picks_longer(tied) != report.picks_longer(tied)  # nan: no pair decided
    assert report.fmt(report.picks_longer(tied)) == "-"


def test_intervals_leave_out_resamples_where_the_statistic_is_undefined():
    right, longer = [1, 0, 1, 1, 0, 1, 1, 1], [True] * 7 + [False]  # one shorter-chosen pair: often not drawn
    lo, hi = report.interval(lambda idx: report.length_controlled(right, longer, idx), len(right))
    assert lo == lo and hi == hi and 0 <= lo <= hi <= 1
    none = report.interval(lambda idx: float("nan"), 5)
    assert all(x != x for x in none) and report.fmt(0.5, *none) == "0.500"


def test_learning_curves_give_each_size_its_intervals_and_length_lean(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    run = fake_scaled_run(tmp_path)  # 'gram' and 'bt' are the main runs (the largest size)
    small = report.SIZES["train_sizes"][0]
    shutil.copytree(run / "eval" / "gram", run / "eval" / f"gram-{small}")
    (tmp_path / "figures").mkdir()
    lines = report.learning_curves(run, tmp_path / "figures", plt)
    assert lines == report.learning_curves(run, tmp_path / "figures", plt, report.main_table(run)[1])
    gram = [line for line in lines if line.startswith("| GRAM (stage 1 + 2) |")]
    assert gram[0].startswith(f"| GRAM (stage 1 + 2) | {small} | 0.750 | 0.750 [") and gram[0].endswith("| 1.000 | 1.000 | 0.300 |")
    assert gram[1] == f"| GRAM (stage 1 + 2) | {report.SIZES['train_sizes'][1]} | - | - | - | - | - | - |"
    bt = [line for line in lines if line.startswith(f"| Bradley-Terry RM | {report.SIZES['train_sizes'][-1]} | 0.250 | 0.250 [")]
    assert bt and bt[0].endswith("| 0.000 | - | - |")  # a reward model has no order to agree with
    assert (tmp_path / "figures" / "scaled_learning_curves.png").exists()


def test_length_only_judges_get_half_credit_on_equal_lengths_and_ties_are_no_pick(tmp_path):
    data, scores = tmp_path / "d.jsonl", tmp_path / "s.jsonl"
    rows = [{"prompt": "p", "response_a": "same", "response_b": "size", "label": "a"},
            {"prompt": "p", "response_a": "longer one", "response_b": "short", "label": "a"},
            {"prompt": "p", "response_a": "longer one", "response_b": "short", "label": "b"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert report.Scored(data, None, rule="longer").right == [0.5, 1, 0]
    scores.write_text("".join(json.dumps(s) + "\n" for s in [
        {"score_a": 0.9, "score_b": 0.1}, {"score_a": 0.5, "score_b": 0.5}, {"score_a": 0.2, "score_b": 0.8}]))
    scored = report.Scored(data, scores, reward_model=True)
    assert scored.tie == [False, True, False] and scored.agree == [] and scored.gap == []


def test_blind_scores_come_back_with_the_scaled_runs_archive_where_the_blind_stage_creates_them(tmp_path):
    run, archive, fresh = tmp_path / "run", tmp_path / "archive", tmp_path / "fresh"
    (fresh / "data").mkdir(parents=True)
    stage = finals.blind_stage(run, "gram", pairs=tmp_path / "pairs.jsonl")
    out = Path(stage.creates[0])
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps({"id": "b0001", "prompt": "secret", "score_a": 0.7, "score_b": 0.3}) + "\n")
    keep_outputs(run, stage, archive)
    (archive / "data.json").write_text("{}")
    restore(fresh, archive)
    assert json.loads(Path(finals.blind_stage(fresh, "gram").creates[0]).read_text()) == {
        "id": "b0001", "score_a": 0.7, "score_b": 0.3}
