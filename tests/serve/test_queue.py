"""The server's queue: a request that can never fit is 413 up front (not a 429 to retry forever), a
ranking request's lists are sent in waves that fit the queue, and every 429 says when to retry."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fastapi.testclient import TestClient
from helpers import NumberJudge

from gram.serve import Batcher, Limits, Overloaded, create_app
from gram.serve.endpoints import waves


def test_lists_that_fit_the_queue_only_in_turn_are_ranked_in_waves():
    """3 lists of 64 round-robin (2016 pairs at once each) on an idle server with the default queue (4096):
    it answered 429 "4032 pairs are waiting" every time."""
    lists = [{"prompt": f"q{k}", "responses": [str((i * 7 + k) % 64) for i in range(64)]} for k in range(3)]
    with TestClient(create_app(NumberJudge(), max_batch_pairs=4096)) as client:
        got = client.post("/rank", json={"lists": lists, "strategy": "round-robin"})
    assert got.status_code == 200 and [r["comparisons"] for r in got.json()["results"]] == [2016] * 3
    assert waves([2016, 2016, 2016], 4096) == [[0, 1], [2]] and waves([5, 5], 10) == [[0, 1]]


def test_a_request_that_can_never_fit_is_413_at_once():
    limits = Limits(max_queue_pairs=100)
    with TestClient(create_app(NumberJudge(), limits=limits)) as client:
        pairs = [{"prompt": "q", "response_a": "1", "response_b": "2"}] * 101
        over = client.post("/compare", json={"pairs": pairs})
        assert over.status_code == 413 and "over this server's queue of 100 pairs" in over.json()["detail"]
        assert client.post("/compare", json={"pairs": pairs[:100]}).status_code == 200
        big = client.post("/rank", json={"lists": [{"prompt": "q", "responses": [str(i) for i in range(16)]}],
                                         "strategy": "round-robin"})
        assert big.status_code == 413 and "sends 120 pairs at once" in big.json()["detail"]
        budgeted = client.post("/rank", json={"lists": [{"prompt": "q", "responses": [str(i) for i in range(16)]}],
                                              "strategy": "round-robin", "budget": 50})
        assert budgeted.status_code == 200


def test_every_429_says_when_to_retry():
    async def go():
        b = Batcher(NumberJudge(delay=0.2), max_batch_pairs=2, max_wait_ms=0, max_queue_pairs=4)
        b.start()
        first = asyncio.ensure_future(b.compare([("q", "1", "2")] * 2))
        await asyncio.sleep(0.5)  # one batch scored: its seconds per pair are known
        second = asyncio.ensure_future(b.compare([("q", "1", "2")] * 2))
        third = asyncio.ensure_future(b.compare([("q", "1", "2")] * 2))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as refused:
            await b.compare([("q", "1", "2")])
        await asyncio.gather(first, second, third)
        await b.stop()
        return refused.value.retry_after

    assert 1 <= asyncio.run(go()) <= 5
    with TestClient(create_app(NumberJudge(delay=0.3), limits=Limits(max_queue_pairs=1), max_wait_ms=0)) as client:
        body = {"pairs": [{"prompt": "q", "response_a": "1", "response_b": "2"}]}
        busy = threading.Thread(target=client.post, args=("/compare",), kwargs={"json": body})
        busy.start()
        time.sleep(0.1)
        refused = client.post("/compare", json=body)
        busy.join()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
