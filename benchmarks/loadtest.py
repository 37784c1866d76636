"""A bounded load test for `gram serve`: many concurrent requests, valid and invalid, over loopback.

    python benchmarks/serve_load.py --requests 2000 --concurrency 32      # starts its own server

The mix (by request index, so a run is reproducible): 70% /compare with 1 to 4 pairs, 10% /rank of a
4-response list, and 5% each of a missing token (expects 401), an oversize body (413), malformed JSON
(422) and a client that gives up 20 ms after sending (no answer expected; the server must drop its work).
Every answered request's status is checked against what its kind expects.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter

KINDS = [("compare", 14), ("rank", 2), ("unauthenticated", 1), ("oversize", 1), ("malformed", 1), ("disconnect", 1)]
EXPECTED = {"compare": 200, "rank": 200, "unauthenticated": 401, "oversize": 413, "malformed": 422}


def kind_of(i: int) -> str:
    slot = i % sum(w for _, w in KINDS)
    for kind, weight in KINDS:
        if slot < weight:
            return kind
        slot -= weight
    raise AssertionError


def request_for(i: int, kind: str, max_body_bytes: int) -> tuple[str, bytes]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    if kind == "rank":
        body = {"lists": [{"prompt": f"Pick the best answer to question {i}.",
                           "responses": [f"{w} " * (1 + (i + j) % 6) for j, w in enumerate(words[:4])]}],
                "strategy": "knockout"}
        return "/rank", json.dumps(body).encode()
    if kind == "oversize":
        return "/compare", b'{"pairs": [' + b" " * (max_body_bytes + 10) + b"]}"
    if kind == "malformed":
        return "/compare", b'{"pairs": [{"prompt": "unterminated'
    pairs = [{"prompt": f"Question {i}.{k}: what is {i % 7} + {k}?", "response_a": f"It is {i % 7 + k}.",
              "response_b": f"{words[k % 5]} " * (1 + (i + k) % 8)} for k in range(1 + i % 4)]
    return "/compare", json.dumps({"pairs": pairs}).encode()


async def run_load(base_url: str, token: str | None, requests: int, concurrency: int,
                   max_body_bytes: int, timeout: float = 600.0, progress=None) -> dict:
    import httpx

    latencies: dict[str, list[float]] = {}
    statuses: Counter = Counter()
    wrong: list[str] = []
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:
        async def one(i: int) -> None:
            kind = kind_of(i)
            path, body = request_for(i, kind, max_body_bytes)
            headers = {"content-type": "application/json"}
            if token and kind != "unauthenticated":
                headers["authorization"] = f"Bearer {token}"
            async with semaphore:
                start = time.perf_counter()
                if kind == "disconnect":
                    try:
                        await asyncio.wait_for(client.post(path, content=body, headers=headers), 0.02)
                        statuses["disconnect: answered before giving up"] += 1
                    except asyncio.TimeoutError:
                        statuses["disconnect: gave up"] += 1
                    return
                r = await client.post(path, content=body, headers=headers)
                seconds = time.perf_counter() - start
            statuses[r.status_code] += 1
            latencies.setdefault(kind, []).append(seconds)
            if r.status_code != EXPECTED[kind]:
                wrong.append(f"request {i} ({kind}): {r.status_code} {r.text[:200]}")
            if progress is not None:
                progress.update(1)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - start
        await asyncio.sleep(0.5)  # let the server notice the last disconnects
        health = (await client.get("/health", headers={"authorization": f"Bearer {token}"} if token else {})).json()

    valid = sorted(latencies.get("compare", []) + latencies.get("rank", []))

    def pct(q: float) -> float | None:
        return round(valid[min(len(valid) - 1, int(q * len(valid)))] * 1000, 1) if valid else None

    return {
        "requests": requests, "concurrency": concurrency, "wall_s": round(wall, 2),
        "requests_per_s": round(requests / wall, 2),
        "valid_p50_ms": pct(0.50), "valid_p99_ms": pct(0.99),
        "valid_mean_ms": round(statistics.mean(valid) * 1000, 1) if valid else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "server_errors": sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500),
        "unexpected": wrong[:20], "unexpected_count": len(wrong),
        "server_after": health,
    }
