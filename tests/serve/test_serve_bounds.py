"""`gram serve` bounds what one client can hold: connections, the time headers and bodies may take, the
time a request may wait for its answer; and it checks the Host header. Also the 4xx of JSON that Python
cannot parse, a declared-oversize body whose 413 the client can read, and a /health that says nothing
about the model to a caller without the token."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlparse

import httpx
from helpers import running_server

from gram.scoring import as_pair, combine
from gram.serve import Limits, create_app
from gram.serve.guard import host_of

PAIR = {"prompt": "q", "response_a": "1", "response_b": "2"}
AUTH = {"Authorization": "Bearer t"}


class SlowJudge:
    def __init__(self, delay: float):
        self.delay, self.calls = delay, 0

    def compare_many(self, pairs, **_):
        self.calls += 1
        time.sleep(self.delay)
        return [combine(0.4, 0.6) for _ in map(as_pair, pairs)]


def asgi_post(app, body: bytes, path="/compare", headers=None):
    async def go():
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram", timeout=30) as client:
                return await client.post(path, content=body, headers={"content-type": "application/json",
                                                                      **(headers or {})})
    return asyncio.run(go())


def test_json_python_cannot_parse_is_422_not_400():
    app = create_app(SlowJudge(0))
    deep = b'{"pairs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    huge = b'{"pairs": [{"prompt": "q", "response_a": "a", "response_b": "b", "x": ' + b"9" * 5000 + b"}]}"
    for body in (deep, huge):
        r = asgi_post(app, body)
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid", r.text


def test_a_request_past_the_request_timeout_gets_503_and_leaves_the_queue():
    judge = SlowJudge(1.0)
    app = create_app(judge, limits=Limits(request_timeout_s=0.3), max_wait_ms=0, max_batch_pairs=1)

    async def go():
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram", timeout=30) as client:
                first = client.post("/compare", json={"pairs": [PAIR]})  # holds the model for 1 s
                second = client.post("/compare", json={"pairs": [PAIR]})  # waits behind it, past 0.3 s
                replies = await asyncio.gather(first, second)
                await asyncio.sleep(1.2)  # the first call ends; the worker then finds the second cancelled
                return replies

    replies = asyncio.run(go())
    assert [r.status_code for r in replies] == [503, 503]
    assert "request timeout" in replies[0].json()["detail"]
    assert app.state.batcher.stats["jobs_dropped"] == 1 and judge.calls == 1  # the second was never scored


def test_host_header_parsing():
    assert host_of(b"127.0.0.1:8000") == "127.0.0.1"
    assert host_of(b"[::1]:8000") == "::1"
    assert host_of(b"LocalHost") == "localhost"
    assert host_of(b"evil.example:80") == "evil.example"


def raw_request(port: int, data: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        return out


def test_the_real_server_bounds_connections_headers_bodies_and_hosts(tiny_model_dir):
    flags = ["--token", "t", "--max-connections", "20", "--header-timeout", "1", "--body-timeout", "1",
             "--max-body-bytes", "20000"]
    with running_server(tiny_model_dir, *flags) as base:
        port = urlparse(base).port
        ok = httpx.post(base + "/compare", json={"pairs": [PAIR]}, headers=AUTH)
        assert ok.status_code == 200

        # half-sent requests: over the cap, new connections get 503 at once; after the header timeout the
        # server has closed them all and real requests are served again
        held = []
        for _ in range(25):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /compare HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(s)
        time.sleep(0.3)
        busy = raw_request(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert busy.startswith(b"HTTP/1.1 503"), busy[:200]
        time.sleep(1.5)
        closed = 0
        for s in held:  # each was either refused at once (503, then closed) or closed at its header timeout
            s.settimeout(2)
            try:
                while s.recv(65536):
                    pass
                closed += 1
            except TimeoutError:  # still open: the header timeout did not close it
                pass
            except OSError:  # reset by the server: closed too
                closed += 1
            s.close()
        assert closed == len(held)
        assert httpx.post(base + "/compare", json={"pairs": [PAIR]}, headers=AUTH).status_code == 200

        # a body that stops arriving: 408 after the body timeout
        slow = raw_request(port, b"POST /compare HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\n"
                                 b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pairs\"")
        assert slow.startswith(b"HTTP/1.1 408"), slow[:200]

        # a body declared over the limit: the client reads the 413 (no reset while it is still sending)
        big = httpx.post(base + "/compare", content=b"x" * 3_000_000, headers={**AUTH, "content-type": "application/json"})
        assert big.status_code == 413 and "limit" in big.json()["detail"]

        # DNS rebinding: a Host header naming another server is refused on a loopback server
        rebinding = httpx.get(base + "/health", headers={"Host": f"evil.example:{port}"})
        assert rebinding.status_code == 400 and "Host" in rebinding.json()["detail"]

        # /health: up or not for anyone; the model and its load for the token holder only
        assert httpx.get(base + "/health").json() == {"status": "ok"}
        assert httpx.get(base + "/health", headers=AUTH).json()["model"] == str(tiny_model_dir)


def test_the_api_pages_need_no_internet():
    """/docs and /redoc load their scripts from this server (the installed fastapi-offline), not a CDN."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(SlowJudge(0))) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            assert "cdn.jsdelivr" not in html and "unpkg.com" not in html and "/static-offline-docs/" in html
        assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
        spec = client.get("/openapi.json").json()
        assert all(op.get("summary") for path in spec["paths"].values() for op in path.values())
        ranked = spec["components"]["schemas"]["RankOut"]["properties"]
        assert {"ranking", "picked", "bt_scores"} <= set(ranked)
