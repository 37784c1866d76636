"""`gram serve` under long work and at its end: a long ranking is scored a batch at a time so short
requests are served between its chunks, and it stops once its client is gone or its deadline passed; a
client that half-closes after its request is answered; on SIGTERM the requests still queued past
--graceful-timeout get 503; a port in use is one line before the model loads."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

import httpx
from helpers import NumberJudge, running_server

from gram.serve import Batcher, Limits, ShuttingDown, create_app

RANK = {"lists": [{"prompt": "q", "responses": [str(i) for i in range(16)]}], "strategy": "round-robin"}  # 120 pairs


class TimedJudge(NumberJudge):
    """NumberJudge that notes, per call, its size and when it ended."""

    def __init__(self, delay: float):
        super().__init__(delay)
        self.ended = []

    def compare_many(self, pairs, **kw):
        out = super().compare_many(pairs, **kw)
        self.ended.append(time.monotonic())
        return out


def test_a_long_ranking_is_scored_a_batch_at_a_time_and_short_requests_go_between():
    judge = TimedJudge(delay=0.05)
    app = create_app(judge, max_batch_pairs=8, max_wait_ms=0)

    async def go():
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram", timeout=30) as client:
                long = asyncio.ensure_future(client.post("/rank", json=RANK))
                await asyncio.sleep(0.12)  # two or three of its 15 chunks are scored
                short = await client.post("/compare", json={"pairs": [{"prompt": "q", "response_a": "2",
                                                                       "response_b": "1"}]})
                short_done = time.monotonic()
                return await long, short, short_done

    long, short, short_done = asyncio.run(go())
    assert long.status_code == 200 and long.json()["results"][0]["picked"] == 15
    assert short.status_code == 200 and short.json()["scores"][0]["score_a"] > 0.5
    assert max(judge.calls) <= 8 and sum(judge.calls) == 121  # 120 ranking pairs in chunks, plus the short one
    chunks_after = sum(t > short_done for t in judge.ended)
    assert chunks_after >= 8, f"the short request waited for the ranking ({chunks_after} chunks after it)"


def asgi_call(app, path: str, body: dict, gone_after_s: float):
    """One request straight through ASGI whose client disconnects `gone_after_s` after sending it."""
    data = json.dumps(body).encode()
    sent = []

    async def receive():
        if not sent:
            sent.append(True)
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.sleep(gone_after_s)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"gram"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("gram", 80)}
    return app(scope, receive, send)


def test_a_ranking_stops_once_its_client_is_gone_or_its_deadline_passed():
    for limits, gone_after in ((Limits(), 0.2), (Limits(request_timeout_s=0.2), 60)):
        judge = NumberJudge(delay=0.05)
        app = create_app(judge, limits=limits, max_batch_pairs=8, max_wait_ms=0)

        async def go():
            async with app.app.router.lifespan_context(app.app):
                await asyncio.wait_for(asgi_call(app, "/rank", RANK, gone_after), 5)
                await asyncio.sleep(0.5)  # what would still be scored if the ranking went on

        asyncio.run(go())
        # 15 chunks of 8 if it ran to the end; it stops at the chunk after the client left (0.2 s: ~4 chunks)
        assert sum(judge.calls) <= 8 * 7, (limits, judge.calls)
        assert app.state.batcher.queued_pairs == 0


def test_refused_waiting_jobs_get_shutting_down_and_the_batch_in_the_model_finishes():
    async def go():
        judge = NumberJudge(delay=0.2)
        b = Batcher(judge, max_batch_pairs=1, max_wait_ms=0)
        b.start()
        p = [("q", "2", "1")]
        first = asyncio.ensure_future(b.compare(p))
        await asyncio.sleep(0.05)  # in the model
        waiting = asyncio.ensure_future(b.compare(p))
        await asyncio.sleep(0)
        b.refuse_waiting("closing")
        results = await asyncio.gather(first, waiting, return_exceptions=True)
        try:
            await b.compare(p)
        except ShuttingDown as e:
            results.append(e)
        await b.stop()
        return results

    first, waiting, later = asyncio.run(go())
    assert first[0].score_a > 0.5
    assert isinstance(waiting, ShuttingDown) and isinstance(later, ShuttingDown)


def test_the_real_server_answers_a_half_closed_client(tiny_model_dir):
    with running_server(tiny_model_dir) as base:
        port = urlparse(base).port
        body = json.dumps({"pairs": [{"prompt": "q", "response_a": "a", "response_b": "b"}]}).encode()
        request = (b"POST /compare HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        for pipelined in (1, 2):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(request * pipelined)
                s.shutdown(socket.SHUT_WR)
                out = b""
                while chunk := s.recv(65536):  # the server closes once it has answered
                    out += chunk
            assert out.count(b"HTTP/1.1 200") == pipelined, out[:300]


def test_sigterm_gives_the_still_queued_requests_503_after_the_graceful_timeout(tiny_model_dir):
    flags = ["--graceful-timeout", "1", "--max-batch-pairs", "1", "--max-items", "256"]
    with running_server(tiny_model_dir, *flags, terminate=False) as (base, proc):
        many = {"pairs": [{"prompt": "q", "response_a": "a " * 200, "response_b": str(i)} for i in range(256)]}
        replies = []
        clients = [threading.Thread(target=lambda: replies.append(httpx.post(base + "/compare", json=many, timeout=120)))
                   for _ in range(8)]
        for c in clients:
            c.start()
        time.sleep(1.0)  # 2,048 pairs are queued, one per judge call (several seconds of work for the tiny model)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for c in clients:
            c.join(60)
        assert proc.wait(timeout=30) in (0, -15)
        took = time.monotonic() - start
    codes = sorted(r.status_code for r in replies)
    assert len(replies) == 8 and set(codes) <= {200, 503} and 503 in codes, codes  # every client answered
    assert all("graceful-timeout" in r.json()["detail"] for r in replies if r.status_code == 503)
    assert took < 10, took  # 1 s of drain, the batch in the model, then the exit


def test_a_port_in_use_is_one_line_before_the_model_loads(tiny_model_dir, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        missing = tmp_path / "no-model"  # a model that would fail later: the port is checked first
        r = subprocess.run([sys.executable, "-m", "gram.cli", "serve", "--model", str(missing), "--port", str(port)],
                           capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "--port" in lines[0]


def test_a_long_job_in_the_model_at_the_drain_deadline_stops_after_its_chunk():
    async def go():
        judge = NumberJudge(delay=0.1)
        b = Batcher(judge, max_batch_pairs=2, max_wait_ms=0)
        b.start()
        long = asyncio.ensure_future(b.compare([("q", "2", "1")] * 20))  # 10 chunks of 2
        await asyncio.sleep(0.05)  # its first chunk is in the model
        assert b.queued_pairs == 20  # counted while in the model, not only while queued
        b.refuse_waiting("closing")
        result = await asyncio.gather(long, return_exceptions=True)
        await b.stop()
        return judge, result[0]

    judge, result = asyncio.run(go())
    assert isinstance(result, ShuttingDown) and judge.calls == [2]  # the chunk in the model, then no more
