"""A job's output file: one writer at a time, an output that cannot be written said before any work, NaN
fields written as null and resumed as themselves, the user's umask; Ctrl-C is one line and leaves a
partial output to resume, and a CPU job works in small chunks."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import PAIR

from gram.cli import main
from gram.io import InputError, json_line
from gram.jobs import lock
from gram.jobs.partial import PartialOutput


def strict_loads(text: str):
    """json.loads that refuses NaN / Infinity, as every JSON reader but Python's does."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))


def test_a_nan_field_is_written_as_null_and_resume_reads_the_row_as_itself(tmp_path):
    row = {"prompt": "q", "response_a": "a", "response_b": "b", "extra": float("nan"), "more": [math.inf]}
    assert strict_loads(json_line(row))["extra"] is None
    out = tmp_path / "scores.jsonl"
    with PartialOutput(out, {"x": 1}, resume=False) as partial:
        partial.append([{**row, "score_a": 0.5}])  # the run is killed here: no finish()
    with PartialOutput(out, {"x": 1}, resume=True) as partial:
        partial.check([row], produced=("score_a",))  # before the fix: "extra: differs from the same row"
        assert partial.done == 1
        partial.finish()
    assert strict_loads(out.read_text())["more"] == [None]


def test_a_second_writer_of_one_output_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "scores.jsonl"
    script = f"import time; from gram.jobs import lock; lock.acquire({str(out)!r}); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", script],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=rf"another gram run is writing it \(pid {holder.pid}, "):
            PartialOutput(out, {}, resume=False)
        assert not out.with_name(out.name + ".partial.json").exists()  # the refused run touched nothing
    finally:
        holder.kill()
        holder.wait()
    with PartialOutput(out, {}, resume=False) as partial:  # the holder is gone: its OS lock with it
        partial.finish()
    assert not lock.lock_path(out).exists() and lock._held == {}


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, a place no file can be made")
def test_an_output_that_cannot_be_written_is_said_as_such_before_any_work(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    for command in (["score", "--input", str(pairs)], ["bon", "--prompt", "hi", "--policy", "no-such/dir"]):
        assert main([*command, "--model", "no-such-model-dir/x", "--output", "/proc/gram-out.jsonl"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "/proc/gram-out.jsonl: cannot be written here" in line  # before: "another gram run is writing it"


def test_outputs_get_the_users_umask(tmp_path, tiny_model_dir):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(PAIR) + "\n")
    old = os.umask(0o022)
    try:
        assert main(["score", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


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


def test_scoring_on_the_cpu_keeps_small_chunks():
    """An interrupted CPU job loses at most CPU_SCORE_CHUNK pairs (a chunk of 64 long pairs is minutes)."""
    import torch

    from gram.jobs.runner import CPU_SCORE_CHUNK, SCORE_CHUNK, chunk_size

    class On:
        def __init__(self, device):
            self.device = torch.device(device)

    assert chunk_size(On("cpu")) == CPU_SCORE_CHUNK == 8 and chunk_size(On("meta")) == SCORE_CHUNK == 64
