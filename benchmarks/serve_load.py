"""Load test of `gram serve` on loopback: starts the server, sends the request mix of loadtest.py, and
reports latency percentiles, throughput, status counts (5xx must be 0) and the server's peak RSS.

    python benchmarks/serve_load.py                                   # tiny random model, 2,000 requests @ 32
    python benchmarks/serve_load.py --model smollm2-135m --requests 200

With no --model, a tiny random-init 2-layer Llama is built (the server's own cost: HTTP, validation,
batching, queueing); with the embedded backbone the figures include real forward passes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tiny_model_dir(root: Path) -> Path:
    from conftest import make_model, make_tokenizer

    tok = make_tokenizer()
    path = root / "tiny"
    make_model(len(tok)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def main(argv=None) -> int:
    import httpx
    from loadtest import run_load

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--max-body-bytes", type=int, default=65536)
    p.add_argument("--output", default=None, help="also write the figures to this JSON file")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        model = args.model or str(tiny_model_dir(Path(tmp)))
        token = "load-test-token"
        log = open(Path(tmp) / "server.log", "w")  # a file, not a pipe nobody reads (a full pipe blocks the server)
        server = subprocess.Popen([sys.executable, "-m", "gram.cli", "serve", "--model", model, "--port", str(port),
                                   "--token", token, "--max-body-bytes", str(args.max_body_bytes),
                                   "--log-level", "warning"], stderr=log, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(1200):
                try:
                    httpx.get(base + "/health", timeout=1)
                    break
                except httpx.TransportError:
                    if server.poll() is not None:
                        raise SystemExit("server died: " + (Path(tmp) / "server.log").read_text()[-2000:])
                    time.sleep(0.1)
            rss_idle = peak_rss_mb(server.pid)
            result = asyncio.run(run_load(base, token, args.requests, args.concurrency, args.max_body_bytes))
            result.update({"model": args.model or "tiny random 2-layer Llama", "server_peak_rss_mb": round(peak_rss_mb(server.pid)),
                           "server_peak_rss_before_load_mb": round(rss_idle)})
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
    return 0 if result["server_errors"] == 0 and result["unexpected_count"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
