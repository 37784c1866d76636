"""`gram` as the docs test runs it (tests/test_docs_run.py): the command line a doc block wrote, on the
tiny model and with small limits, so that every block can run in the suite as written.

    python tests/docs_gram.py score --input jb.jsonl --output s.jsonl      # = gram score ... --model TINY --limit 4

The tiny model directory is $GRAM_DOCS_TINY_MODEL. A `--model` / `--policy` that names no directory made
by an earlier block (an embedded name, a hub id) becomes the tiny model, and so does a model the command
would take by default. Scoring commands get `--limit 4`, training commands `--max-steps 2 --limit 16`
unless the block set them, and `gram serve` is started, asked /health, and stopped.
"""

from __future__ import annotations

import os
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


def rewritten(args: list[str], tiny: str) -> list[str]:
    command = args[0] if args else ""
    if command not in MODEL_COMMANDS:
        return args
    args = list(args)
    at = value_of(args, "--policy")
    if at is not None:
        args[at] = tiny
    model = model_named(args)
    if model is None or not Path(model).is_dir():  # made by no earlier block: an embedded name, a hub id
        at = value_of(args, "--model")
        if at is None:
            args += ["--model", tiny]
        else:
            args[at] = tiny
    if command in TRAINING:
        for flag, value in (("--max-steps", "2"), ("--limit", "16")):
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


def main() -> int:
    args = rewritten(sys.argv[1:], os.environ["GRAM_DOCS_TINY_MODEL"])
    if args and args[0] == "serve":
        return serve(args)
    from gram.cli import main as gram

    return gram(args)


if __name__ == "__main__":
    sys.exit(main())
