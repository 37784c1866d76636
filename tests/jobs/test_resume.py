"""Jobs killed with SIGKILL and resumed end where an uninterrupted run ends (tiny models, real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from helpers import gram, kill_when, step_of, write_pairs
from safetensors.torch import load_file

from gram.records import PreferencePair
from gram.train.checkpoints import last_complete_checkpoint
from gram.train.trainers import RunClock


def history(out):
    state = json.loads((out / "trainer_state.json").read_text())
    return [(h["step"], h["loss"]) for h in state["log_history"] if "loss" in h]


def test_training_killed_and_resumed_ends_like_an_uninterrupted_run(tmp_path, tiny_model_dir):
    data = write_pairs(tmp_path / "pairs.jsonl")
    flags = ["finetune", "--model", tiny_model_dir, "--train-file", data, "--max-steps", 24, "--save-steps", 4,
             "--save-total-limit", 2, "--logging-steps", 1, "--batch-size", 2, "--grad-accum", 2,
             "--learning-rate", "1e-3", "--warmup-ratio", "0.1", "--lr-scheduler", "cosine", "--seed", 7,
             "--max-length", 1024]
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    subprocess.run(gram(*flags, "--output-dir", clean), check=True, capture_output=True)

    for after in (4, 12):  # killed once a checkpoint at or past `after` is complete: mid-step, at some point
        kill_when(gram(*flags, "--output-dir", resumed),
                  lambda: step_of(last_complete_checkpoint(resumed)) >= after)
        assert not (resumed / "train_summary.json").exists()
    # a kill in the middle of writing a checkpoint leaves a newer directory without its state file
    partial = resumed / f"checkpoint-{step_of(last_complete_checkpoint(resumed)) + 4}"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\0" * 100)
    assert last_complete_checkpoint(resumed) != str(partial)
    before = RunClock.saved(last_complete_checkpoint(resumed))  # what the two killed processes trained
    assert before > 0
    subprocess.run(gram(*flags, "--output-dir", resumed), check=True, capture_output=True)

    summary = json.loads((resumed / "train_summary.json").read_text())
    assert summary["resumed_from"] and summary["steps"] == 24
    # the loss and time of the whole run, not of the last process's steps only (issues 32 and 35)
    whole = json.loads((clean / "train_summary.json").read_text())
    assert summary["train_loss"] == pytest.approx(whole["train_loss"], rel=1e-5)
    # (the killed processes' seconds plus the last one's own, whatever else this machine was running)
    last = [h["train_runtime"] for h in json.loads((resumed / "trainer_state.json").read_text())["log_history"]
            if "train_runtime" in h][-1]
    assert before + last - 0.5 <= summary["train_seconds"] <= before + last + 10, (before, last, summary)
    (steps_a, loss_a), (steps_b, loss_b) = zip(*history(clean)), zip(*history(resumed))
    assert steps_a == steps_b == tuple(range(1, 25))
    assert loss_b == pytest.approx(loss_a, rel=1e-5)  # every step's loss, the last one included
    a, b = load_file(clean / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"largest weight difference after two kills: {worst:.2e}")
    assert worst <= 1e-6, worst
    assert any(not torch.equal(a[k], load_file(tiny_model_dir / "model.safetensors")[k]) for k in a)  # it trained


def write_score_rows(path, n):
    rows = [{"id": i, "prompt": f"Question {i}: " + "why? " * (i % 7), "response_a": "yes " * (1 + i % 5),
             "response_b": "no " * (1 + i % 3)} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_score_killed_and_resumed_writes_the_clean_run_rows(tmp_path, tiny_model_dir):
    src = write_score_rows(tmp_path / "in.jsonl", 600)
    clean, resumed = tmp_path / "clean.jsonl", tmp_path / "resumed.jsonl"
    base = ["score", "--model", tiny_model_dir, "--input", src, "--quiet"]
    subprocess.run(gram(*base, "--output", clean), check=True, capture_output=True)

    partial = tmp_path / "resumed.jsonl.partial"
    kill_when(gram(*base, "--output", resumed), lambda: lines(partial) >= 128)
    assert not resumed.exists() and 128 <= lines(partial) < 600
    with open(partial, "a") as f:
        f.write('{"id": 99999, "prompt": "torn')  # a kill in the middle of a write
    wrong = subprocess.run(gram(*base, "--output", resumed, "--resume", "--orders", "ab"), capture_output=True, text=True)
    assert wrong.returncode == 2 and "other settings (orders)" in wrong.stderr
    subprocess.run(gram(*base, "--output", resumed, "--resume"), check=True, capture_output=True)
    assert resumed.read_text() == clean.read_text()  # no row lost, none twice, the same numbers
    assert not partial.exists() and not (tmp_path / "resumed.jsonl.partial.json").exists()


def test_eval_killed_and_resumed_matches_the_clean_run(tmp_path, tiny_model_dir):
    rows = [PreferencePair.from_preference(f"Question {i}: " + "why? " * (i % 7), "yes " * (1 + i % 5),
                                           "no " * (1 + i % 3), source="t", category=f"c{i % 3}").to_row()
            for i in range(300)]
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = ["eval", "--model", tiny_model_dir, "--benchmark", bench, "--quiet"]
    subprocess.run(gram(*base, "--output", tmp_path / "clean"), check=True, capture_output=True)
    where = tmp_path / "resumed" / tiny_model_dir.name / "bench"
    kill_when(gram(*base, "--output", tmp_path / "resumed"), lambda: lines(where / "scores.jsonl.partial") >= 64)
    assert not (where / "results.json").exists()
    subprocess.run(gram(*base, "--output", tmp_path / "resumed", "--resume"), check=True, capture_output=True)
    clean = tmp_path / "clean" / tiny_model_dir.name / "bench"
    assert (where / "scores.jsonl").read_text() == (clean / "scores.jsonl").read_text()
    a, b = (json.loads((d / "results.json").read_text()) for d in (clean, where))
    assert (a["overall"], a["categories"], a["n"]) == (b["overall"], b["categories"], b["n"])
    again = subprocess.run(gram(*base, "--output", tmp_path / "resumed", "--resume"), check=True, capture_output=True,
                           text=True)
    assert "already done" in again.stderr  # a finished benchmark is not scored twice


def test_rank_killed_and_resumed_matches_the_clean_run(tmp_path, tiny_model_dir):
    sets = [{"prompt": f"Question {i}?", "responses": [f"answer {j} " * (1 + (i + j) % 4) for j in range(4)],
             "best": i % 4} for i in range(100)]
    src = tmp_path / "sets.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in sets))
    base = ["rank", "--model", tiny_model_dir, "--input", src, "--strategy", "knockout", "--quiet"]
    clean, resumed = tmp_path / "clean.jsonl", tmp_path / "resumed.jsonl"
    subprocess.run(gram(*base, "--output", clean), check=True, capture_output=True)
    kill_when(gram(*base, "--output", resumed), lambda: lines(tmp_path / "resumed.jsonl.partial") >= 10)
    subprocess.run(gram(*base, "--output", resumed, "--resume"), check=True, capture_output=True)
    assert resumed.read_text() == clean.read_text()


def test_two_processes_score_and_eval_the_same_rows_as_one(tmp_path, tiny_model_dir):
    """torchrun with 2 CPU processes: each scores a slice, rank 0 merges them in input order."""
    import os

    src = write_score_rows(tmp_path / "in.jsonl", 150)
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(PreferencePair.from_preference(f"Q{i}?", "yes " * (1 + i % 5), "no",
                                                                       category=f"c{i % 2}").to_row()) + "\n"
                             for i in range(90)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "gram.cli"]
    for runner, tag in ((gram(), "one"), (two, "two")):
        for args in (["score", "--input", src, "--output", tmp_path / f"{tag}.jsonl"],
                     ["eval", "--benchmark", bench, "--output", tmp_path / tag]):
            done = subprocess.run([*runner, *map(str, args), "--model", str(tiny_model_dir), "--quiet"], env=env,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
    for a, b in ((tmp_path / "one.jsonl", tmp_path / "two.jsonl"),
                 (tmp_path / "one" / tiny_model_dir.name / "bench" / "scores.jsonl",
                  tmp_path / "two" / tiny_model_dir.name / "bench" / "scores.jsonl")):
        rows_a = [json.loads(line) for line in a.read_text().splitlines()]
        rows_b = [json.loads(line) for line in b.read_text().splitlines()]
        assert len(rows_a) == len(rows_b) > 0
        for x, y in zip(rows_a, rows_b):
            assert {k: v for k, v in x.items() if not k.startswith(("score", "p_a"))} == \
                   {k: v for k, v in y.items() if not k.startswith(("score", "p_a"))}  # same rows, same order
            assert y["score_a"] == pytest.approx(x["score_a"], abs=1e-5)  # batches differ: float noise only
    assert not list(tmp_path.glob("two.jsonl.rank*"))
    res = [json.loads((tmp_path / t / tiny_model_dir.name / "bench" / "results.json").read_text()) for t in ("one", "two")]
    assert res[0]["n"] == res[1]["n"] == 90 and res[0]["overall"] == pytest.approx(res[1]["overall"], abs=0.012)
