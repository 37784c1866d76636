"""`compute_score`'s client of `gram serve`, against fake servers that trickle, lie or fail, called as verl
calls it: `timeout_s` bounds the whole call, a reply that is not a list of finite rewards is one ServerError
naming the server, the status and what was wrong, and one HTTP client serves every call of an event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time

import pytest

from gram import http as http_clients
from gram.errors import ServerError
from gram.http import loop_client
from gram.integrations.verl import compute_score

ROW = {"solution_str": "4", "ground_truth": "5", "extra_info": {"prompt": "What is 2+2?"}}


@contextlib.contextmanager
def fake_server(reply: bytes, trickle_s: float = 0.0):
    """A server that reads one request and answers `reply` (whole, or a byte every `trickle_s`)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    if not trickle_s:
                        conn.sendall(reply)
                        continue
                    for byte in reply:
                        if stop.is_set():
                            break
                        conn.sendall(bytes([byte]))
                        time.sleep(trickle_s)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def http(status: int, body: str, content_type: str = "application/json") -> bytes:
    data = body.encode()
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {len(data)}\r\n"
            "connection: close\r\n\r\n").encode() + data


def test_timeout_s_bounds_the_whole_call_not_each_read():
    """A server that answers a byte every 0.2 s never leaves a read idle for 1 s: the call must still end."""
    with fake_server(http(200, '{"rewards": [0.7], "references": ["5"]}' + " " * 200), trickle_s=0.2) as url:
        start = time.monotonic()
        with pytest.raises(ServerError, match=r"did not answer within 1(\.0)? s"):
            asyncio.run(compute_score(**ROW, gram_url=url, timeout_s=1.0))
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("reply, said", [
    (http(200, "<html>proxy error</html>", "text/html"), "something other than JSON"),
    (http(200, "[]"), "without a list of 1 `rewards`"),
    (http(200, "null"), "without a list of 1 `rewards`"),
    (http(200, '"fine"'), "without a list of 1 `rewards`"),
    (http(200, '{"scores": [0.1]}'), "without a list of 1 `rewards`"),
    (http(200, '{"rewards": [0.1, 0.2]}'), "without a list of 1 `rewards`"),
    (http(200, '{"rewards": [NaN]}'), "not all finite numbers"),
    (http(200, '{"rewards": ["0.3"]}'), "not all finite numbers"),
    (http(503, '{"detail": "busy"}'), "answered 503: .*busy"),
])
def test_a_reply_that_is_not_rewards_is_one_error_naming_the_server(reply, said):
    with fake_server(reply) as url:
        with pytest.raises(ServerError, match=f"gram serve at {url} .*{said}"):
            asyncio.run(compute_score(**ROW, gram_url=url, timeout_s=10))


def test_a_server_that_is_not_there_is_a_server_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServerError, match=f"gram serve at http://127.0.0.1:{port}: ConnectError"):
        asyncio.run(compute_score(**ROW, gram_url=f"http://127.0.0.1:{port}", timeout_s=5))


def test_one_http_client_per_event_loop():
    async def two_calls(url):
        first = await compute_score(**ROW, gram_url=url, timeout_s=10)
        client = loop_client()
        second = await compute_score(**ROW, gram_url=url, timeout_s=10)
        return first, second, client, loop_client()

    with fake_server(http(200, '{"rewards": [0.75], "references": ["5"]}')) as url:
        first, second, client, again = asyncio.run(two_calls(url))
    assert first == second == {"score": 0.25, "judge_score": 0.75} and client is again


def test_a_new_event_loop_per_call_leaks_no_client_and_no_socket():
    """A caller that runs each call in its own loop (asyncio.run per call): each loop's client is closed
    as the loop ends (it kept 30 clients and 60 descriptors for 30 calls before)."""
    import gc
    import os

    def descriptors():
        return len(os.listdir("/proc/self/fd"))

    with fake_server(http(200, '{"rewards": [0.75], "references": ["5"]}')) as url:
        asyncio.run(compute_score(**ROW, gram_url=url, timeout_s=10))
        gc.collect()
        before = descriptors()
        for _ in range(10):
            assert asyncio.run(compute_score(**ROW, gram_url=url, timeout_s=10))["judge_score"] == 0.75
        gc.collect()
        assert len(http_clients._clients) == 0 and not http_clients._keepers
        assert descriptors() <= before


def test_verls_own_reward_model_servers_are_held_to_the_same(tiny_tokenizer):
    """The other way to the judge (gram.scoring.vllm_server.ServerJudge, verl's reward-model servers): a
    trickling server ends at timeout_s, a reply that is not a JSON object is one ServerError."""
    from gram.scoring.vllm_server import ServerJudge

    slow = http(200, '{"choices": []}' + " " * 200)
    with fake_server(slow, trickle_s=0.2) as url:
        judge = ServerJudge(url.removeprefix("http://"), tiny_tokenizer, model="m", timeout_s=1.0)
        with pytest.raises(ServerError, match="did not answer within 1.0 s"):
            asyncio.run(judge.acompare_many([("q", "a", "b")]))
    with fake_server(http(200, "<html>gateway</html>", "text/html")) as url:
        judge = ServerJudge(url.removeprefix("http://"), tiny_tokenizer, model="m", timeout_s=5.0)
        with pytest.raises(ServerError, match="no JSON object: '<html>gateway"):
            asyncio.run(judge.acompare_many([("q", "a", "b")]))


@pytest.mark.parametrize("reply, said", [
    (http(200, "<html>gateway</html>", "text/html"), "no JSON object: '<html>gateway"),
    (http(200, '{"choices": []}'), "returned 0 completions for 1 prompts"),
    (http(200, '{"choices": ["<think>"]}'), "returned 0 completions for 1 prompts"),
    (http(200, '{"choices": [{"index": "first"}]}'), "numbered its completions with something other"),
    (http(200, '{"choices": [{"index": 0, "text": "<think>", "logprobs": {"tokens": ["<think>"]}}]}'),
     "did not name the tokens it wrote as token_id:N"),
    (http(500, '{"error": "engine dead"}'), "answered 500 to /v1/completions: .*engine dead"),
])
def test_a_reasoning_judge_on_verls_servers_is_held_to_the_same(tiny_tokenizer, reply, said):
    """A reasoning judge (`reasoning: {protocol: ...}`) on verl's reward-model servers writes its rationales
    there (gram.scoring.vllm_server.ServerEngine): a reply it cannot read is one ServerError naming the
    server, never a verdict."""
    with fake_server(reply) as url:
        with pytest.raises(ServerError, match=f"judge server at {url}.*{said}"):
            asyncio.run(compute_score(**ROW, reward_router_address=url.removeprefix("http://"), model="m",
                                      reward_model_tokenizer=tiny_tokenizer, reasoning={"protocol": "gram-rr"},
                                      timeout_s=5))


def test_a_reasoning_judge_on_verls_servers_ends_at_timeout_s(tiny_tokenizer):
    slow = http(200, '{"choices": []}' + " " * 200)
    with fake_server(slow, trickle_s=0.2) as url:
        start = time.monotonic()
        with pytest.raises(ServerError, match="did not answer within 1.0 s"):
            asyncio.run(compute_score(**ROW, reward_router_address=url.removeprefix("http://"), model="m",
                                      reward_model_tokenizer=tiny_tokenizer, reasoning={"protocol": "gram-rr"},
                                      timeout_s=1.0))
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("reasoning, said", [
    ({"protocol": "gram-rr", "temperature": 0.5}, "reward_kwargs.reasoning: temperature: not an option"),
    ({"protocol": "judgelrm"}, "reward_kwargs.reasoning: protocol: expected one of gram-rr, .*got 'judgelrm'"),
    ({"protocol": "gram-rr", "samples": 0}, "reward_kwargs.reasoning: samples: must be at least 1, got 0"),
    ({"protocol": "gram-rr", "samples": "4"}, "reward_kwargs.reasoning: samples: expected int"),
    ({"samples": 4}, "names no protocol and the checkpoint is not a GRAM-RR one"),
])
def test_a_reasoning_option_gram_cannot_take_is_named(tiny_tokenizer, reasoning, said):
    with pytest.raises(ValueError, match=said):
        asyncio.run(compute_score(**ROW, reward_router_address="127.0.0.1:9", model="m",
                                  reward_model_tokenizer=tiny_tokenizer, reasoning=reasoning))


@pytest.mark.parametrize("reasoning", [None, {"protocol": "gram-rr"}])
def test_verls_servers_not_there_are_a_server_error(tiny_tokenizer, reasoning):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServerError, match=f"judge server at http://127.0.0.1:{port}: ConnectError"):
        asyncio.run(compute_score(**ROW, reward_router_address=f"127.0.0.1:{port}", model="m",
                                  reward_model_tokenizer=tiny_tokenizer, reasoning=reasoning, timeout_s=5))


def test_verls_servers_are_asked_on_the_loops_one_client(tiny_tokenizer, monkeypatch):
    """Way 2 (verl's reward-model servers) reuses the event loop's HTTP client, as way 1 does: it opened
    and closed a client per rollout before."""
    import httpx

    from gram.templates import label_token_ids

    a, b = label_token_ids(tiny_tokenizer)
    top = {f"token_id:{a}": -0.1, f"token_id:{b}": -2.4}
    choice = {"logprobs": {"top_logprobs": [top]}}
    reply = http(200, json.dumps({"choices": [{"index": 0, **choice}, {"index": 1, **choice}]}))
    made = []
    monkeypatch.setattr(httpx.AsyncClient, "__init__",
                        lambda self, *a, _init=httpx.AsyncClient.__init__, **k: (made.append(self), _init(self, *a, **k))[1])

    async def three_calls(address):
        kwargs = {"reward_router_address": address, "reward_model_tokenizer": tiny_tokenizer, "model": "m"}
        return [await compute_score(**ROW, **kwargs) for _ in range(3)]

    with fake_server(reply) as url:
        scores = asyncio.run(three_calls(url.removeprefix("http://")))
    assert scores[0] == scores[1] == scores[2] == {"score": 0.0, "judge_score": 0.5}  # both orders say A alike
    assert len(made) == 1 and made[0].is_closed  # one client, closed with its loop


def test_a_loop_dropped_at_exit_ends_quietly():
    """verl's reward worker keeps its event loop until the process ends: the loop's client keeper was left
    pending then, and the exit printed "Task was destroyed but it is pending!" and a RuntimeError."""
    import subprocess
    import sys

    script = ("import asyncio\nfrom gram.http import loop_client\nloop = asyncio.new_event_loop()\n"
              "async def use():\n    loop_client()\nloop.run_until_complete(use())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_server_judge_blocks_outside_and_inside_a_running_event_loop(tiny_tokenizer):
    """`compare_many` of ServerJudge works from plain code and from code running on an event loop's thread (a
    notebook cell, a sync helper called by async code): there it runs its requests on a helper thread's loop
    instead of failing with "asyncio.run() cannot be called from a running event loop"."""
    import json
    import math

    from gram.scoring.vllm_server import ServerJudge
    from gram.templates import label_token_ids

    a, b = label_token_ids(tiny_tokenizer)
    top = [{f"token_id:{a}": -0.5, f"token_id:{b}": -1.5}, {f"token_id:{a}": -2.0, f"token_id:{b}": -0.25}]
    reply = http(200, json.dumps({"choices": [{"index": i, "logprobs": {"top_logprobs": [t]}}
                                              for i, t in enumerate(top)]}))
    p_ab, p_ba = 1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(1.75))

    async def on_the_loop(judge):
        return judge.compare_many([("q", "a", "b")])

    for call in (lambda judge: judge.compare_many([("q", "a", "b")]), lambda judge: asyncio.run(on_the_loop(judge))):
        with fake_server(reply) as url:
            judge = ServerJudge(url.removeprefix("http://"), tiny_tokenizer, model="m", timeout_s=5.0)
            (score,) = call(judge)
        assert judge.asynchronous  # gram serve's batcher sends it its batches continuously
        assert (score.p_a_ab, score.p_a_ba) == pytest.approx((p_ab, p_ba), abs=1e-12)
        assert score.score_a == pytest.approx((p_ab + 1 - p_ba) / 2, abs=1e-12)
