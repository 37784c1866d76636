"""An engine start interrupted by Ctrl-C leaves no process behind, without vLLM: a stand-in start that
spawns its "engine" (a multiprocessing child with a child of its own, as a tensor-parallel worker is)
only after the signal has landed, as vLLM does when the Ctrl-C comes in its first instant."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent('''
    import _thread, multiprocessing, signal, subprocess, sys, threading, time
    from pathlib import Path
    from gram.scoring.vllm_start import started

    def start():
        time.sleep(0.6)  # the signal lands at 0.2 s, before the engine process exists
        engine = multiprocessing.get_context("spawn").Process(target=subprocess.call, daemon=True, args=(
            [sys.executable, "-c", "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
             "time.sleep(120)", sys.argv[1]],))
        engine.start()
        Path(sys.argv[2]).write_text(str(engine.pid))
        time.sleep(120)  # waiting for the engine to be ready

    if __name__ == "__main__":
        signal.signal(signal.SIGINT, signal.default_int_handler)
        threading.Timer(0.2, _thread.interrupt_main).start()
        try:
            started(start, Path(sys.argv[3]))
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            time.sleep(1)  # the rest of a run's exit (its partial rows written, its lock released)
''')


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_ctrl_c_in_the_first_instant_of_a_start_leaves_no_engine_process(tmp_path):
    worker, engine, log = tmp_path / "worker.pid", tmp_path / "engine.pid", tmp_path / "engine.log"
    out = tmp_path / "out.txt"
    begun = time.monotonic()
    with open(out, "w") as sink:  # a file, not a pipe: a process left behind would hold a pipe open
        run = subprocess.Popen([sys.executable, "-c", SCRIPT, str(worker), str(engine), str(log)], stdout=sink,
                               stderr=subprocess.STDOUT, cwd=tmp_path)
        run.wait(60)
    took = time.monotonic() - begun
    assert out.read_text().startswith("interrupted"), out.read_text()[-2000:]
    deadline = time.monotonic() + 5
    while not worker.exists() and time.monotonic() < deadline:  # the engine had spawned its worker
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in (engine, worker) if p.exists()]
    try:
        time.sleep(0.3)
        assert engine.exists() and not [pid for pid in pids if alive(pid)], pids
        assert took < 30
    finally:  # never leave one behind, even when the test fails
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
