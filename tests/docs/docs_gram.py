"""`gram` as the docs test runs it (tests/docs/test_docs_run.py): the command line a doc block wrote, on the
tiny model and with small limits, so that every block can run in the suite as written.

    python tests/docs/docs_gram.py score --input jb.jsonl --output s.jsonl      # = gram score ... --model TINY --limit 4

The tiny model directory is $GRAM_DOCS_TINY_MODEL. A `--model` / `--policy` that names no directory made
by an earlier block (an embedded name, a hub id) becomes the tiny model, and so does a model the command
would take by default. Scoring commands get `--limit 4`, training commands `--max-steps 2 --limit 16`
unless the block set them, and `gram serve` is started, asked /health, and stopped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

MODEL_COMMANDS = {"score", "eval", "rank", "bon", "serve", "pretrain", "finetune", "adapt", "train-bt", "demo"}
TRAINING = {"pretrain", "finetune", "adapt", "train-bt"}
LIMITED = {"score", "eval", "rank", "bon"}


def value_of(args: list[str], flag: str) -> int | None:
    """The index of `flag`'s value in args, or None."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return i + 1
    return None


def model_named(args: list[str]) -> str | None:
    """The model the command line names, by flag or in its --config file."""
    at = value_of(args, "--model")
    if at is not None:
        return args[at]
    config = value_of(args, "--config")
    if config is not None:
        import yaml

        return (yaml.safe_load(Path(args[config]).read_text()) or {}).get("model")
    return None


def stand_in(name: str, tiny: str) -> str:
    """The tiny model under the name's own basename (a link), so that models the block names apart stay
    apart (their results folders are named after them)."""
    link = Path(tiny).parent / "stand-ins" / (re.sub(r"[^A-Za-z0-9._-]", "_", name) or "default")
    link.parent.mkdir(exist_ok=True)
    if not link.exists():
        link.symlink_to(tiny, target_is_directory=True)
    return str(link)


def rewritten(args: list[str], tiny: str) -> list[str]:
    command = args[0] if args else ""
    if command not in MODEL_COMMANDS:
        return args
    args = list(args)
    for i, a in enumerate(args[:-1]):
        if a in ("--model", "--policy") and not Path(args[i + 1]).is_dir():  # an embedded name, a hub id
            args[i + 1] = stand_in(args[i + 1], tiny)
    model = model_named(args)
    if model is None or not Path(model).is_dir():  # the command's default, or a config's missing model
        at = value_of(args, "--model")
        if at is None:
            args += ["--model", stand_in(model or "default", tiny)]
    at = value_of(args, "--max-length")  # the tiny tokenizer spends ~3x the tokens on the template
    if at is not None:
        args[at] = str(max(int(args[at]), 1024))
    elif "--config" in args:
        args += ["--max-length", "1024"]
    if command in TRAINING:
        for flag, value in (("--max-steps", "2"), ("--limit", "16"), ("--eval-limit", "4")):
            if flag not in args:
                args += [flag, value]
    if command in LIMITED and "--limit" not in args:
        args += ["--limit", "4"]
    return args


def serve(args: list[str]) -> int:
    """Start the server, wait for /health, stop it: 0 if it answered."""
    import httpx

    if "--port" in args:
        port = int(args[value_of(args, "--port")])
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args += ["--port", str(port)]
    host = args[value_of(args, "--host")] if "--host" in args else "127.0.0.1"
    host = "127.0.0.1" if host == "0.0.0.0" else host
    proc = subprocess.Popen([sys.executable, "-m", "gram.cli", *args, "--log-level", "warning"])
    try:
        for _ in range(600):
            if proc.poll() is not None:
                return proc.returncode or 1
            try:
                if httpx.get(f"http://{host}:{port}/health", timeout=1).status_code == 200:
                    return 0
            except httpx.TransportError:
                time.sleep(0.1)
        return 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main(argv: list[str]) -> int:
    args = rewritten(argv, os.environ["GRAM_DOCS_TINY_MODEL"])
    start = time.perf_counter()
    try:
        if args and args[0] == "serve":
            return serve(args)
        from gram.cli import main as gram

        return gram(args)
    finally:
        if log := os.environ.get("GRAM_DOCS_TIMES"):
            with open(log, "a") as f:
                f.write(f"{time.perf_counter() - start:6.1f} s  gram {' '.join(argv)[:150]}\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
