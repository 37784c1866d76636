"""A newcomer's first hour: no traceback for common mistakes (Ctrl-C included), a version and an env
report, outputs a user can ship."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gram import __version__
from gram.cli import main
from gram.train.card import lineage

PAIR = {"prompt": "q", "response_a": "a", "response_b": "b"}


def test_version_and_env(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"gram {__version__}"
    assert main(["env", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["packages"]["torch"] and info["device"] and "cache_dir" in info
    assert info["cpu_fast_bf16"] is False and info["dtype_auto"] in ("float32", "bfloat16")  # GRAM_CPU_BF16=0


def test_ctrl_c_during_scoring_is_one_line_with_the_way_on(tmp_path, tiny_model_dir):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({**PAIR, "prompt": f"q{i} " * 40}) + "\n" for i in range(3000)))
    proc = subprocess.Popen([sys.executable, "-m", "gram.cli", "score", "--model", str(tiny_model_dir), "--input",
                             str(src), "--output", str(out), "--quiet"], stderr=subprocess.PIPE, text=True,
                            # as from a terminal: a child inherits an ignored SIGINT (something earlier in the
                            # full suite leaves the pytest process ignoring it; then the child scored to the end)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    partial = tmp_path / "out.jsonl.partial"  # scoring has begun (out.jsonl.lock appears before the model loads)
    deadline = time.time() + 120
    while not partial.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("gram score: interrupted") and "--resume" in err


def test_report_to_a_missing_logger_is_one_line(tmp_path, tiny_model_dir, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tensorboard", "tensorboardX") else real(name, *a))
    data = tmp_path / "l.jsonl"
    data.write_text(json.dumps({**PAIR, "label": "a"}) + "\n")
    rc = main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir",
               str(tmp_path / "run"), "--report-to", "tensorboard"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "pip install tensorboard" in err[0]
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_typo_in_a_relative_model_path_is_not_taken_for_a_hub_id(tmp_path, capsys, monkeypatch):
    (tmp_path / "runs" / "stage1").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    assert main(["score", "--model", "runs/stage9", "--input", str(src), "--output", "o.jsonl"]) == 2
    err = capsys.readouterr().err
    assert "no model directory 'runs/stage9'" in err and "stage1" in err and "Hugging Face" not in err


def test_named_benchmarks_say_where_they_are_looked_for(tmp_path, capsys, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("GRAM_DATA", str(tmp_path))
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "judgebench", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "$GRAM_DATA" in err and "set GRAM_DATA" in err
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "rewardbench3", "--output",
                 str(tmp_path / "o")]) == 2
    assert "not a named benchmark (known:" in capsys.readouterr().err


def test_scoring_over_an_existing_output_says_so(tmp_path, tiny_model_dir, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    out.write_text("old\n")
    assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    assert "exists and will be replaced" in capsys.readouterr().err and "score_a" in out.read_text()


def test_the_model_card_names_the_released_base(tmp_path):
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    stage1.mkdir()
    stage2.mkdir()
    (stage1 / "train_summary.json").write_text(json.dumps({"base_model": "smollm2-135m"}))
    (stage2 / "train_summary.json").write_text(json.dumps({"base_model": str(stage1)}))
    assert lineage(str(stage2)) == [str(stage2), str(stage1), "smollm2-135m"]
    assert lineage("org/model") == ["org/model"]


def test_outputs_get_the_users_umask(tmp_path, tiny_model_dir):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    old = os.umask(0o022)
    try:
        assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("name", ["wangclnlp/GRAM-RR-LLaMA-3.1-8B-RewardModel", "runs/gram-rr-llama-3.2-3b"])
def test_a_reward_reasoning_checkpoint_is_refused_by_name(tmp_path, name, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    assert main(["score", "--model", name, "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GRAM-R^2 reward-reasoning model" in err[0]


def test_the_released_gram_checkpoints_are_not_taken_for_reasoning_ones():
    from gram.scoring.loading import REASONING_NAMES

    assert not REASONING_NAMES.search("GRAM-Qwen3-1.7B-RewardModel")
    assert not REASONING_NAMES.search("GRAM-LLaMA3.2-3B-RewardModel")


def test_scoring_on_the_cpu_keeps_small_chunks():
    """An interrupted CPU job loses at most CPU_SCORE_CHUNK pairs (a chunk of 64 long pairs is minutes)."""
    import torch

    from gram.jobs.runner import CPU_SCORE_CHUNK, SCORE_CHUNK, chunk_size

    class On:
        def __init__(self, device):
            self.device = torch.device(device)

    assert chunk_size(On("cpu")) == CPU_SCORE_CHUNK == 8 and chunk_size(On("meta")) == SCORE_CHUNK == 64


def test_the_too_small_error_states_the_minimum(tiny_tokenizer):
    from gram.templates import TemplateError, encode_judge

    with pytest.raises(TemplateError, match=r"so at least \d+ \(--max-length\)"):
        encode_judge(tiny_tokenizer, "q " * 200, "a " * 200, "b " * 200, max_length=50)


def test_yaml_config_on_the_scoring_commands(tmp_path, tiny_model_dir, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(PAIR) + "\n" + json.dumps({**PAIR, "prompt": "q2"}) + "\n")
    cfg = tmp_path / "score.yaml"
    cfg.write_text(f"model: {tiny_model_dir}\ninput: {src}\noutput: {out}\nbatch-size: 2\nlimit: 1\nquiet: true\n"
                   "orders: ab\n")
    assert main(["score", "--config", str(cfg)]) == 0  # required flags may come from the file
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["p_a_ba"] is None
    assert main(["score", "--config", str(cfg), "--limit", "2", "--orders", "both"]) == 0  # flags win
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["p_a_ba"] is not None
    capsys.readouterr()
    for bad, says in (("batch_size: many\n", "batch_size: expected int"), ("colour: red\n", "colour: not an option"),
                      ("orders: abc\n", "orders: expected one of both, ab")):
        cfg.write_text(bad)
        assert main(["score", "--config", str(cfg), "--input", str(src), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_named_hub_benchmarks_load_by_dataset_id(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """`--benchmark rewardbench` is allenai/reward-bench's filtered split where the hub is reachable
    (the hub call is mocked here); where it is not, one line says so."""
    import datasets

    from gram.model import backbone

    calls = []
    rows = [{"prompt": "2+2?", "chosen": "4", "rejected": "5", "subset": "math-prm", "id": 1,
             "chosen_model": "x", "rejected_model": "y"}]
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split=None, **k: calls.append((name, split)) or rows)
    monkeypatch.setattr(backbone, "hub_reachable", lambda *a, **k: False)
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "rewardbench", "--output",
                 str(tmp_path / "o"), "--quiet"]) == 2
    assert "hub cannot be reached" in capsys.readouterr().err and not calls
    monkeypatch.setattr(backbone, "hub_reachable", lambda *a, **k: True)
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "rewardbench", "--output",
                 str(tmp_path / "o"), "--quiet"]) == 0
    assert calls == [("allenai/reward-bench", "filtered")]
    (results,) = [json.loads(p.read_text()) for p in (tmp_path / "o").rglob("results.json")]
    assert results["data"]["benchmark"] == "rewardbench" and "rewardbench" in results


def test_push_to_hub_uploads_the_finished_directory_and_is_checked_before_training(tmp_path, tiny_model_dir,
                                                                                   monkeypatch, capsys):
    import huggingface_hub

    from gram.model import backbone

    data = tmp_path / "l.jsonl"
    data.write_text("".join(json.dumps({**PAIR, "prompt": f"q{i}", "label": "a"}) + "\n" for i in range(4)))
    args = ["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--max-steps", "2",
            "--batch-size", "2", "--max-length", "1024", "--push-to-hub", "me/my-judge"]
    monkeypatch.setattr(backbone, "hub_reachable", lambda *a, **k: False)
    assert main([*args, "--output-dir", str(tmp_path / "a")]) == 2
    assert "cannot be reached" in capsys.readouterr().err and not (tmp_path / "a").exists()
    calls = []
    monkeypatch.setattr(backbone, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_x")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **k: calls.append(("create", repo_id)))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, **k: calls.append(("upload", k["repo_id"], sorted(p.name for p in
                                                                                        Path(k["folder_path"]).iterdir()),
                                                        k["ignore_patterns"])))
    assert main([*args, "--output-dir", str(tmp_path / "b")]) == 0
    (create, upload) = calls
    assert create == ("create", "me/my-judge") and upload[1] == "me/my-judge"
    assert "model.safetensors" in upload[2] and "README.md" in upload[2] and "checkpoint-*" in upload[3]


def test_a_model_is_read_with_the_template_it_was_trained_with(tmp_path, tiny_model_dir, caplog):
    """The template is saved with the model (train_summary.json) and scoring reads it back; a model gram
    did not train is read with the reference evaluation prompt. A run that had to cut pairs says so."""
    from gram.scoring import load_judge

    data = tmp_path / "l.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "response_a": "long " * 200, "response_b": "b",
                                        "label": "a"}) + "\n" for i in range(4)))
    out = tmp_path / "run"
    with caplog.at_level("WARNING", logger="gram.train"):
        assert main(["finetune", "--model", str(tiny_model_dir), "--train-file", str(data), "--output-dir", str(out),
                     "--max-steps", "1", "--batch-size", "2", "--max-length", "640", "--template", "gram-demo"]) == 0
    assert any("longer than --max-length 640" in r.getMessage() for r in caplog.records)
    assert load_judge(str(out), device="cpu").template == "gram-demo"
    assert load_judge(str(tiny_model_dir), device="cpu").template == "gram-eval"
    assert load_judge(str(out), device="cpu", template="gram").template == "gram"  # the flag wins


def test_validate_and_skip_bad_write_nothing_where_nobody_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(json.dumps(PAIR) + "\n" + '{"bad": 1}\n')
    assert main(["data", "validate", "--input", "in.jsonl"]) == 1
    assert main(["data", "stats", "--input", "in.jsonl", "--skip-bad", "--no-tokens", "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
