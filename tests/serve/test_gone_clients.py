"""A client that closes its socket (or is killed) while its request waits is seen as gone, and its pairs
leave the queue unscored. Its end of stream looks like a half-close (SHUT_WR), which the server answers:
so the server probes the connection with `100 Continue`, and a second write to a socket that is gone
fails. (Before, such work was scored until --request-timeout: ~2,700 abandoned pairs, minutes of CPU.)"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import uvicorn
from helpers import NumberJudge

from gram.serve import create_app
from gram.serve.guard import bounded_protocol


class RecordingJudge(NumberJudge):
    def __init__(self, delay: float):
        super().__init__(delay)
        self.prompts = []

    def compare_many(self, pairs, **kwargs):
        from gram.scoring.base import as_pair

        self.prompts += [as_pair(p).prompt for p in pairs]
        return super().compare_many(pairs, **kwargs)


def test_a_killed_clients_request_leaves_the_queue_unscored():
    judge = RecordingJudge(delay=0.3)
    app = create_app(judge, max_batch_pairs=1, max_wait_ms=0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, http=bounded_protocol(100, 10.0), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.02)
    try:
        busy = [{"prompt": "busy", "response_a": "2", "response_b": "1"}] * 4  # 4 judge calls of 0.3 s
        answered = []
        client = threading.Thread(target=lambda: answered.append(httpx.post(base + "/compare", json={"pairs": busy},
                                                                              timeout=30)))
        client.start()
        time.sleep(0.1)
        body = json.dumps({"pairs": [{"prompt": "gone", "response_a": "2", "response_b": "1"}] * 3}).encode()
        victim = subprocess.Popen([sys.executable, "-c", (
            "import socket, sys, time\n"
            f"s = socket.create_connection(('127.0.0.1', {port}))\n"
            f"s.sendall(b'POST /compare HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/json\\r\\n'"
            f" b'Content-Length: {len(body)}\\r\\n\\r\\n' + {body!r})\n"
            "print('sent', flush=True)\n"
            "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
        assert victim.stdout.readline().strip() == "sent"
        time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        client.join(30)
        time.sleep(1.5)  # the probes, and a batch that might still come
        stats = httpx.get(base + "/health").json()
    finally:
        server.should_exit = True
        thread.join(10)
    assert answered and answered[0].status_code == 200
    # at most the one pair in the model when it was killed; before, all 3 (and jobs_dropped 0)
    assert judge.prompts.count("busy") == 4 and judge.prompts.count("gone") <= 1, judge.prompts
    assert stats["jobs_dropped"] == 1


def test_a_half_closed_client_is_probed_until_answered_and_still_answered():
    """The probes go on while the request waits (0.5 s, 1 s, 2 s apart, then every 4 s), so a gone client
    behind a round trip longer than 0.5 s is still found at a later one; a client that only half-closed
    reads past them and gets its answer (HTTP/1.1 clients must accept any number of 1xx)."""
    app = create_app(RecordingJudge(delay=2.2), max_batch_pairs=1, max_wait_ms=0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, http=bounded_protocol(100, 10.0), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        body = json.dumps({"pairs": [{"prompt": "q", "response_a": "2", "response_b": "1"}]}).encode()
        with socket.create_connection(sock.getsockname()) as c:
            c.sendall(b"POST /compare HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            c.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := c.recv(65536):
                reply += chunk
    finally:
        server.should_exit = True
        thread.join(10)
    assert reply.count(b"HTTP/1.1 100 Continue\r\n\r\n") >= 3, reply  # 0, 0.5 and 1.5 s; it was 2 in all
    assert b"HTTP/1.1 200 OK" in reply and reply.rstrip().endswith(b"}")
