"""A diverging run stops at its first non-finite gradient, in one line, before the optimizer
applies it: no NaN weights are saved, and the checkpoints written before stay finite and loadable."""

import subprocess

import torch
from helpers import gram, write_pairs
from safetensors.torch import load_file


def test_a_diverging_run_stops_before_saving_nan_weights(tmp_path, tiny_model_dir):
    data, out = write_pairs(tmp_path / "pairs.jsonl"), tmp_path / "run"
    done = subprocess.run(gram("finetune", "--model", tiny_model_dir, "--train-file", data, "--output-dir", out,
                               "--max-steps", 12, "--save-steps", 2, "--batch-size", 2, "--logging-steps", 1,
                               "--learning-rate", 50), capture_output=True, text=True)
    assert done.returncode == 1, done.stderr[-2000:]
    (line,) = [s for s in done.stderr.splitlines() if "error:" in s]
    assert line.startswith("gram finetune: error: step ") and "the gradient's norm is nan" in line
    assert "lower --learning-rate (now 50)" in line
    assert "Traceback" not in done.stderr
    assert not (out / "model.safetensors").exists()  # before: exit 0 with every tensor NaN
    checkpoints = sorted(out.glob("checkpoint-*"))
    assert checkpoints and f"the last finite checkpoint is {checkpoints[-1]}" in line
    for checkpoint in checkpoints:
        weights = load_file(checkpoint / "model.safetensors")
        assert all(torch.isfinite(t).all() for t in weights.values()), checkpoint
