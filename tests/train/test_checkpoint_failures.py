"""A checkpoint or final save that cannot be written (a full disk, a file size limit) ends the
run with one line naming the checkpoint, the reason and what a rerun resumes from, not a 13-frame
SafetensorError traceback; the half-written checkpoint is removed and the rerun finishes the run."""

import json
import os
import resource
import shutil
import subprocess

import pytest
from helpers import gram, write_pairs

RUN = ["--max-steps", 8, "--save-steps", 2, "--batch-size", 2, "--keep-checkpoints"]


def finetune(model, data, out, limit_bytes=None):
    limit = None if limit_bytes is None else (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes,) * 2))
    return subprocess.run(gram("finetune", "--model", model, "--train-file", data, "--output-dir", out, *RUN),
                          capture_output=True, text=True, preexec_fn=limit)


def one_error_line(done) -> str:
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    (line,) = [s for s in done.stderr.splitlines() if "error:" in s]
    return line


@pytest.mark.parametrize("limit", [120_000, 300_000])  # fails in safetensors' write, or in torch.save's
def test_a_file_size_limit_during_a_checkpoint_is_one_line_and_the_rerun_finishes(tmp_path, tiny_model_dir, limit):
    data, out = write_pairs(tmp_path / "pairs.jsonl"), tmp_path / "run"
    line = one_error_line(finetune(tiny_model_dir, data, out, limit))
    assert line.startswith(f"gram finetune: error: saving {out / 'checkpoint-2'} at step 2 failed: ")
    assert line.endswith("rerun the same command: it starts over (no checkpoint was complete)")
    assert not (out / "checkpoint-2").exists()  # half-written: removed
    done = finetune(tiny_model_dir, data, out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 8


def small_disk(path, kilobytes: int) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_full_disk_during_a_later_checkpoint_resumes_from_the_last_complete_one(tmp_path, tiny_model_dir):
    disk = tmp_path / "disk"
    if not small_disk(disk, 900):  # a checkpoint of the tiny model is ~580 kB: the second does not fit
        pytest.skip("needs root to mount a small tmpfs")
    try:
        data, out = write_pairs(tmp_path / "pairs.jsonl"), disk / "run"
        line = one_error_line(finetune(tiny_model_dir, data, out))
        assert f"saving {out / 'checkpoint-4'} at step 4 failed: the disk is full" in line, line
        assert line.endswith(f"free space and rerun the same command: it resumes from {out / 'checkpoint-2'}")
        assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2", "gram_run.json"]
        moved = shutil.copytree(out, tmp_path / "run")  # the user makes room: here, by moving the run
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    done = finetune(tiny_model_dir, data, moved)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from" in done.stderr and json.loads((moved / "train_summary.json").read_text())["steps"] == 8
