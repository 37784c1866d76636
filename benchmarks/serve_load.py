"""Load test of `gram serve` on loopback: starts the server, sends the request mix of loadtest.py, and
reports latency percentiles, throughput, status counts (5xx must be 0) and the server's peak RSS.

Also, with the server's bounds on: `--slow-clients` connections that send half a request and wait are
held open during the mix (the server must close them at its header timeout, and serve the mix meanwhile);
and `--one-pair-requests` concurrent one-pair requests are timed against one request carrying as many
pairs (the per-request cost of the HTTP path).

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


def half_sent(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /compare HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
    return s


def closed_by_server(sockets, opened: float, wait: float) -> dict:
    """How many of the half-sent connections the server has closed (checked once the mix is done)."""
    closed, last = 0, 0.0
    for s in sockets:
        s.settimeout(max(0.1, opened + wait - time.perf_counter()))
        try:
            while s.recv(65536):
                pass
            closed += 1
            last = time.perf_counter() - opened
        except (TimeoutError, OSError):
            pass
        s.close()
    return {"closed_by_server": closed, "checked_after_s": round(last, 1)}


async def one_pair_vs_batch(base: str, token: str, n: int) -> dict:
    """Pairs per second: n concurrent one-pair requests against one request with the same n pairs."""
    import httpx

    pairs = [{"prompt": f"Question {i}?", "response_a": f"answer {i}", "response_b": f"reply {i + 1}"} for i in range(n)]
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits, headers=headers) as client:
        start = time.perf_counter()
        one = await client.post("/compare", json={"pairs": pairs})
        batch_s = time.perf_counter() - start
        start = time.perf_counter()
        many = await asyncio.gather(*(client.post("/compare", json={"pairs": [p]}) for p in pairs))
        many_s = time.perf_counter() - start
    statuses = sorted({one.status_code, *(r.status_code for r in many)})
    return {"pairs": n, "one_request_pairs_per_s": round(n / batch_s, 1),
            "one_pair_requests_pairs_per_s": round(n / many_s, 1), "statuses": statuses}


def main(argv=None) -> int:
    import httpx
    from loadtest import run_load

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--max-body-bytes", type=int, default=65536)
    p.add_argument("--slow-clients", type=int, default=300, help="half-sent requests held open during the mix")
    p.add_argument("--header-timeout", type=float, default=5.0)
    p.add_argument("--one-pair-requests", type=int, default=256)
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
                                   "--header-timeout", str(args.header_timeout), "--max-items", "1024",
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
            slow = [half_sent(port) for _ in range(args.slow_clients)]
            opened = time.perf_counter()
            result = asyncio.run(run_load(base, token, args.requests, args.concurrency, args.max_body_bytes))
            result["slow_clients"] = {"held": len(slow), **closed_by_server(slow, opened, args.header_timeout + 5)}
            result["per_request_cost"] = asyncio.run(one_pair_vs_batch(base, token, args.one_pair_requests))
            result.update({"model": args.model or "tiny random 2-layer Llama", "server_peak_rss_mb": round(peak_rss_mb(server.pid)),
                           "server_peak_rss_before_load_mb": round(rss_idle)})
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
    ok = (result["server_errors"] == 0 and result["unexpected_count"] == 0
          and result["slow_clients"]["closed_by_server"] == result["slow_clients"]["held"]
          and result["per_request_cost"]["statuses"] == [200])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
