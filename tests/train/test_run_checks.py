"""What a training run checks before any work (a training file that cannot be read, a logger that is not
installed, a hub it cannot reach) and, once finished, its upload to the hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import PAIR

from gram.cli import main


@pytest.mark.parametrize("train_file", ["nope.jsonl", "/dev/zero"])
def test_a_training_file_that_cannot_be_read_is_exit_2_before_any_work(tmp_path, capsys, train_file):
    path = train_file if train_file.startswith("/") else str(tmp_path / train_file)
    assert main(["finetune", "--train-file", path, "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("no such file" in err[0] or "a device" in err[0]), err
    assert not (tmp_path / "out").exists()


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


@pytest.mark.parametrize("setup, expected", [
    ({"deepspeed": "missing.json"}, "--deepspeed {dir}/missing.json: cannot read it"),
    ({"deepspeed": "{not json"}, "not JSON"),
    ({"deepspeed": '{"zero_optimization": {"stage": "three"}}'}, "zero_optimization.stage must be 0, 1, 2 or 3"),
    ({"deepspeed": '{"zero_optimization": {"stage": 3}}'}, "stage3_gather_16bit_weights_on_model_save: true"),
    ({"accelerate_fsdp": True}, "accelerate's FSDP plugin (--use_fsdp) is not gram's way to FSDP"),
    ({"fsdp": True}, "--fsdp shards the model over the launch's processes: launch with torchrun"),
    ({"fsdp": True, "deepspeed": '{"zero_optimization": {"stage": 2}}'}, "--deepspeed and --fsdp are two engines"),
    ({"no_deepspeed": True}, "DeepSpeed is not installed (pip install 'gram[deepspeed]'"),
])
def test_what_no_training_engine_can_run_is_one_line_before_the_model_loads(tmp_path, capsys, monkeypatch, setup,
                                                                           expected):
    """A DeepSpeed config that cannot work, accelerate's FSDP plugin (on a CPU it silently runs DDP), --fsdp
    in one process or with DeepSpeed, DeepSpeed not installed: exit 2 with one line, nothing written
    (issue 43)."""
    import importlib.util

    data = tmp_path / "l.jsonl"
    data.write_text(json.dumps({**PAIR, "label": "a"}) + "\n")
    args = ["finetune", "--model", "no-such-model", "--train-file", str(data), "--output-dir", str(tmp_path / "run")]
    if "deepspeed" in setup:
        path = tmp_path / "missing.json"
        if setup["deepspeed"] != "missing.json":
            path = tmp_path / "ds.json"
            path.write_text(setup["deepspeed"])
        args += ["--deepspeed", str(path)]
    if setup.get("accelerate_fsdp"):
        monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    if setup.get("fsdp"):
        args.append("--fsdp")
    if setup.get("no_deepspeed"):
        (tmp_path / "ds.json").write_text('{"zero_optimization": {"stage": 2}}')
        args += ["--deepspeed", str(tmp_path / "ds.json")]
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "deepspeed" else real(name, *a))
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected.format(dir=tmp_path) in err[0], err
    assert not (tmp_path / "run").exists()
