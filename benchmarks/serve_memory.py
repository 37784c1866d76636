"""`gram serve`'s memory around a load whose client is killed (issue 45): RSS once loaded, after a warm-up
of six full batches, at its peak under 2,000 concurrent /compare requests (32 at a time, 4 pairs each),
and each 10 s for 90 s after the client was killed with SIGKILL; `--rounds N` repeats the load and the kill,
to show whether memory keeps growing or stays bounded. Prints its figures; nothing is asserted.

    python benchmarks/serve_memory.py                  # the embedded model, 40 s of load
    python benchmarks/serve_memory.py --model DIR --load-seconds 60
    python benchmarks/serve_memory.py --rounds 3       # three loads, each client killed
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time

CLIENT = '''
import asyncio, httpx
async def one(c, i):
    pairs = [{{"prompt": f"Question {{i}}: " + "word " * (20 + i % 80), "response_a": "yes " * (30 + i % 50),
               "response_b": "no " * (10 + i % 90)}} for _ in range(4)]
    try:
        await c.post("{base}/compare", json={{"pairs": pairs}}, timeout=600)
    except Exception:
        pass
async def main():
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=32)) as c:
        await asyncio.gather(*(one(c, i) for i in range(2000)))
asyncio.run(main())
'''


def main(argv=None) -> int:
    import httpx
    import psutil

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--load-seconds", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=1, help="loads one after another, each client killed")
    args = ap.parse_args(argv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "gram.cli", "serve", "--model", args.model, "--port", str(port),
                               "--log-level", "warning", "--max-length", "1024"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    rss = lambda: round(psutil.Process(server.pid).memory_info().rss / 2**20)  # noqa: E731
    print(f"RSS once loaded: {rss()} MB", flush=True)
    for i in range(6):
        pairs = [{"prompt": f"Question {i}: " + "word " * 100, "response_a": "yes " * 80, "response_b": "no " * 100}]
        httpx.post(base + "/compare", json={"pairs": pairs * 64}, timeout=600)
    print(f"RSS after a warm-up of 6 full batches: {rss()} MB", flush=True)
    for round_ in range(1, args.rounds + 1):
        killed_load(base, rss, args.load_seconds, round_)
    server.send_signal(signal.SIGTERM)
    server.wait(30)
    return 0


def killed_load(base: str, rss, seconds: int, round_: int) -> None:
    """One load of 2,000 requests whose client is SIGKILLed after `seconds`; RSS each 10 s for 90 s after."""
    client = subprocess.Popen([sys.executable, "-c", CLIENT.format(base=base)])
    peak = 0
    for _ in range(seconds):
        time.sleep(1)
        peak = max(peak, rss())
    client.send_signal(signal.SIGKILL)
    client.wait()
    print(f"round {round_}: client killed; peak RSS under the load: {peak} MB", flush=True)
    for t in range(1, 91):
        time.sleep(1)
        if t % 10 == 0:
            print(f"round {round_}: {t} s after: RSS {rss()} MB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
