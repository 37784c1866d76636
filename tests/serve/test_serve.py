"""`gram serve`: endpoints against direct calls, dynamic batching, cancellation, auth and limits."""

from __future__ import annotations

import asyncio
import math
import socket

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import NumberJudge, running_server

from gram.scoring import Judge
from gram.scoring.rank import rank
from gram.serve import Batcher, Limits, create_app


@pytest.fixture(scope="module")
def tiny_judge(tiny_model, tiny_tokenizer):
    return Judge(tiny_model, tiny_tokenizer, batch_size=4)


PAIRS = [{"prompt": "What is 2+2?", "response_a": "4", "response_b": "5"},
         {"prompt": [{"role": "user", "content": "Hi"}], "response_a": "Hello!", "response_b": "Go away."},
         {"prompt": "Name a colour.", "response_a": "the quick brown fox " * 5, "response_b": "Blue."}]


def test_compare_matches_the_judge(tiny_judge):
    with TestClient(create_app(tiny_judge)) as client:
        got = client.post("/compare", json={"pairs": PAIRS})
    assert got.status_code == 200
    direct = tiny_judge.compare_many([(p["prompt"], p["response_a"], p["response_b"]) for p in PAIRS])
    for row, s in zip(got.json()["scores"], direct):
        assert row["score_a"] == pytest.approx(s.score_a, abs=1e-6)
        assert row["p_a_ba"] == pytest.approx(s.p_a_ba, abs=1e-6)
        assert row["score_a"] + row["score_b"] == pytest.approx(1.0)


def test_rank_matches_the_library():
    judge = NumberJudge()
    lists = [{"prompt": "q", "responses": ["3", "7", "1", "9", "4"]}, {"prompt": "r", "responses": ["2", "1"]}]
    with TestClient(create_app(judge)) as client:
        for strategy in ("linear", "knockout", "round-robin", "selection"):
            got = client.post("/rank", json={"lists": lists, "strategy": strategy}).json()["results"]
            for item, row in zip(lists, got):
                want = rank(NumberJudge(), item["prompt"], item["responses"], strategy)
                assert (row["ranking"], row["picked"], row["comparisons"]) == (want.order, want.best, want.comparisons)
                assert row == want.to_row()  # one row shape (RankResult.to_row), no old field names
                assert not {"order", "best", "scores"} & set(row)
        budget = client.post("/rank", json={"lists": lists[:1], "strategy": "round-robin", "budget": 3}).json()
        assert budget["results"][0]["comparisons"] == 3 and budget["results"][0]["budget_exhausted"]
        bad = client.post("/rank", json={"lists": lists, "strategy": "bogus"})
        assert bad.status_code == 422 and "strategy" in bad.json()["detail"]


def test_reward_and_openrlhf_get_reward():
    judge = NumberJudge()
    with TestClient(create_app(judge)) as client:
        r = client.post("/reward", json={"prompts": ["q", "q"], "responses": ["9", "1"], "references": ["5", "5"]})
        assert r.status_code == 200
        rewards = r.json()["rewards"]
        assert rewards[0] == pytest.approx(1 / (1 + math.exp(-4)) - 0.5) and rewards[1] < 0 < rewards[0]
        raw = client.post("/reward", json={"prompts": ["q"], "responses": ["9"], "references": ["5"], "center": False})
        assert raw.json()["rewards"][0] == pytest.approx(1 / (1 + math.exp(-4)))
        no_policy = client.post("/reward", json={"prompts": ["q"], "responses": ["9"]})
        assert no_policy.status_code == 422 and "--policy" in no_policy.json()["detail"]
        mismatch = client.post("/reward", json={"prompts": ["q"], "responses": ["9", "1"], "references": ["5"]})
        assert mismatch.status_code == 422 and "same length" in mismatch.json()["detail"]

        # OpenRLHF sends prompt + response in `query`, with `prompts` to split it
        o = client.post("/get_reward", json={"query": ["Q: 9", "Q: 1"], "prompts": ["Q: ", "Q: "], "labels": ["5", "5"]})
        assert o.status_code == 200 and o.json()["rewards"] == pytest.approx(rewards)
        assert o.json()["scores"] == o.json()["rewards"]
        assert client.post("/get_reward", json={"query": ["Q: 9"]}).status_code == 422
        wrong = client.post("/get_reward", json={"query": ["X: 9"], "prompts": ["Q: "], "labels": ["5"]})
        assert wrong.status_code == 422 and "query[0]" in wrong.json()["detail"]


def test_reward_with_the_servers_own_greedy_reference(tiny_judge, tiny_model, tiny_tokenizer):
    app = create_app(tiny_judge, policy=tiny_model, policy_tokenizer=tiny_tokenizer, max_new_tokens=4)
    with TestClient(app) as client:
        first = client.post("/reward", json={"prompts": ["What is 2+2?"], "responses": ["4"]}).json()
        again = client.post("/reward", json={"prompts": ["What is 2+2?"], "responses": ["4"]}).json()
    ref = first["references"][0]
    assert isinstance(ref, str) and again["references"][0] == ref  # greedy and cached
    direct = tiny_judge.compare("What is 2+2?", "4", ref)
    assert first["rewards"][0] == pytest.approx(direct.score_a - 0.5, abs=1e-6)


def test_token_and_limits():
    limits = Limits(max_body_bytes=2000, max_items=3, max_list=4, max_chars=50)
    with TestClient(create_app(NumberJudge(), token="s3cret", limits=limits)) as client:
        assert client.get("/health").status_code == 200  # open, for load balancers
        assert client.get("/openapi.json").json()["paths"].keys() >= {"/compare", "/rank", "/reward", "/get_reward"}
        ok = {"pairs": [{"prompt": "q", "response_a": "1", "response_b": "2"}]}
        assert client.post("/compare", json=ok).status_code == 401
        wrong = client.post("/compare", json=ok, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        auth = {"Authorization": "Bearer s3cret"}
        assert client.post("/compare", json=ok, headers=auth).status_code == 200

        many = {"pairs": ok["pairs"] * 4}
        r = client.post("/compare", json=many, headers=auth)
        assert r.status_code == 413 and "pairs: 4" in r.json()["detail"]
        long_text = {"pairs": [{"prompt": "q", "response_a": "1" * 60, "response_b": "2"}]}
        r = client.post("/compare", json=long_text, headers=auth)
        assert r.status_code == 413 and "pairs.response[0]" in r.json()["detail"]
        big = client.post("/compare", content=b"{" + b" " * 3000 + b"}", headers={**auth, "content-type": "application/json"})
        assert big.status_code == 413 and "2000 bytes" in big.json()["detail"]

        def streamed():  # no Content-Length: the limit is enforced while the body is read
            yield b'{"pairs": ['
            yield b" " * 3000
            yield b"]}"
        chunked = client.post("/compare", content=streamed(), headers={**auth, "content-type": "application/json"})
        assert chunked.status_code == 413 and "2000 bytes" in chunked.json()["detail"]
        long_list = {"lists": [{"prompt": "q", "responses": ["1"] * 5}]}
        assert client.post("/rank", json=long_list, headers=auth).status_code == 413
        assert client.post("/rank", json={"lists": [{"prompt": "q", "responses": []}]}, headers=auth).status_code == 422

        malformed = client.post("/compare", content=b"{not json", headers={**auth, "content-type": "application/json"})
        assert malformed.status_code == 422
        wrong_type = client.post("/compare", json={"pairs": [{"prompt": 3, "response_a": "1"}]}, headers=auth)
        assert wrong_type.status_code == 422


def test_concurrent_requests_share_judge_calls():
    judge = NumberJudge(delay=0.05)
    app = create_app(judge, max_batch_pairs=64, max_wait_ms=5)

    async def go():
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram") as client:
                bodies = [{"pairs": [{"prompt": "q", "response_a": str(i), "response_b": str(i + 1)}]} for i in range(20)]
                replies = await asyncio.gather(*(client.post("/compare", json=b) for b in bodies))
        return replies

    replies = asyncio.run(go())
    assert all(r.status_code == 200 for r in replies)
    assert all(r.json()["scores"][0]["score_a"] < 0.5 for r in replies)  # each request got its own row
    assert sum(judge.calls) == 20 and len(judge.calls) < 20  # 20 requests, fewer judge calls


def test_queue_full_gives_429_and_cancelled_jobs_are_dropped():
    async def go():
        judge = NumberJudge(delay=0.1)
        b = Batcher(judge, max_batch_pairs=1, max_wait_ms=0, max_queue_pairs=3)
        b.start()
        p = [("q", "1", "2")]
        first = asyncio.ensure_future(b.compare(p))
        await asyncio.sleep(0.02)  # the worker took it: the model is busy
        second = asyncio.ensure_future(b.compare(p))
        third = asyncio.ensure_future(b.compare(p))
        await asyncio.sleep(0)
        second.cancel()  # its client went away while it waited
        from gram.serve import Overloaded
        with pytest.raises(Overloaded):
            await b.compare(p * 3)
        await first
        await third
        await b.stop()
        return judge, b

    judge, b = asyncio.run(go())
    assert b.stats["jobs_dropped"] == 1 and sum(judge.calls) == 2  # the cancelled job was never scored


def test_gram_serve_runs_under_uvicorn(tiny_model_dir):
    """The real command: uvicorn on a free loopback port, a scoring call, a clean shutdown."""
    with running_server(tiny_model_dir, "--token", "t") as base:
        r = httpx.post(base + "/compare", json={"pairs": PAIRS[:1]}, headers={"Authorization": "Bearer t"})
        assert r.status_code == 200 and 0 < r.json()["scores"][0]["score_a"] < 1
        assert httpx.post(base + "/compare", json={"pairs": PAIRS[:1]}).status_code == 401
        assert "swagger" in httpx.get(base + "/docs").text.lower()


def test_load_mixed_valid_and_invalid(tiny_model_dir):
    """The load test of benchmarks/serve_load.py, smaller: no 5xx, every answer the status its kind
    expects, and nothing left in the queue (abandoned requests included)."""
    from benchmarks.loadtest import EXPECTED, kind_of, run_load

    n = 240
    with running_server(tiny_model_dir, "--token", "t", "--max-body-bytes", "20000") as base:
        result = asyncio.run(run_load(base, "t", n, 16, 20000))
    assert result["server_errors"] == 0 and result["unexpected_count"] == 0, result["unexpected"]
    kinds = [kind_of(i) for i in range(n)]
    for kind, status in EXPECTED.items():
        if status != 200:
            assert result["statuses"][str(status)] == kinds.count(kind)
    assert result["statuses"]["200"] == kinds.count("compare") + kinds.count("rank")
    assert result["server_after"]["queued_pairs"] == 0


def test_reward_in_group_mode_matches_the_library():
    """Issue 31: /reward with mode "group" gives GramReward(mode="group")'s rewards; it takes no references,
    and a group over --max-list is 413."""
    from gram.rlhf import GramReward

    judge = NumberJudge()
    app = create_app(judge, limits=Limits(max_list=4))
    client = TestClient(app)
    prompts = ["q"] * 4 + ["r"] * 2 + ["alone"]
    responses = ["3", "1", "4", "2", "9", "5", "7"]
    with client:
        r = client.post("/reward", json={"prompts": prompts, "responses": responses, "mode": "group"})
        assert r.status_code == 200, r.text
        expected = GramReward(NumberJudge(), mode="group").score(prompts, responses)
        assert r.json()["rewards"] == pytest.approx(expected, abs=1e-9) and r.json()["references"] == []
        assert r.json()["rewards"][6] == 0.0 and r.json()["rewards"][2] > r.json()["rewards"][0] > 0
        refs = client.post("/reward", json={"prompts": ["q"], "responses": ["1"], "references": ["2"],
                                            "mode": "group"})
        assert refs.status_code == 422 and "no references" in refs.json()["detail"]
        big = client.post("/reward", json={"prompts": ["q"] * 5, "responses": list("12345"), "mode": "group"})
        assert big.status_code == 413 and "one prompt" in big.json()["detail"]
        bad = client.post("/reward", json={"prompts": ["q"], "responses": ["1"], "mode": "pairs"})
        assert bad.status_code == 422


def test_health_says_what_the_judge_runs_on(tiny_judge):
    """Every output records the dtype that ran and the engine (/health, for a server)."""
    with TestClient(create_app(tiny_judge, token="t")) as client:
        health = client.get("/health", headers={"Authorization": "Bearer t"}).json()
        anyone = client.get("/health").json()
    assert (health["engine"], health["dtype"]) == ("transformers", "float32") and anyone == {"status": "ok"}


@pytest.mark.parametrize("given", [None, "1024"])
def test_gram_serve_caps_onednns_kernel_cache_before_the_judge_loads(monkeypatch, given, tiny_model_dir):
    """oneDNN keeps a compiled kernel per matrix shape (bf16 on a CPU): a server that met requests of
    every length held ~290 MB more when idle. `gram serve` caps the cache before loading, unless the
    environment already chose (read when oneDNN makes its first kernel)."""
    import os

    from gram.cli import main
    from gram.cli import serve as serve_cli
    from gram.serve.process import KERNEL_CACHE

    if given is None:
        monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", given)
    seen = []

    def loading(*args, **kwargs):
        seen.append(os.environ.get("ONEDNN_PRIMITIVE_CACHE_CAPACITY"))
        raise KeyboardInterrupt  # stop here: nothing is served

    monkeypatch.setattr(serve_cli.JudgeSpec, "load", loading)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["serve", "--model", str(tiny_model_dir), "--port", str(port)]) == 130
    assert seen == [given or str(KERNEL_CACHE)]
