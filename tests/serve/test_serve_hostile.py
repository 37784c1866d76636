"""Hostile requests to `gram serve` fail alone: a request the judge cannot score never takes its batch
neighbours down, and text that is not text is refused with a 4xx naming the field."""

from __future__ import annotations

import asyncio
import math

import httpx

from gram.scoring import as_pair, combine
from gram.serve import Limits, create_app


class PickyJudge:
    """Prefers the higher number; raises on a response it cannot read, as a tokenizer does."""

    def __init__(self):
        self.calls = []

    def compare_many(self, pairs, **_):
        pairs = [as_pair(p) for p in pairs]
        self.calls.append(len(pairs))
        out = []
        for p in pairs:
            d = int(p.response_a) - int(p.response_b)  # ValueError on "boom"
            q = 1 / (1 + math.exp(-d))
            out.append(combine(q, 1 - q))
        return out


def post_all(app, bodies, raw: dict[int, bytes] | None = None):
    async def go():
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram") as client:
                def post(i, body):
                    if raw and i in raw:
                        return client.post("/compare", content=raw[i], headers={"content-type": "application/json"})
                    return client.post("/compare", json=body)
                return await asyncio.gather(*(post(i, b) for i, b in enumerate(bodies)))
    return asyncio.run(go())


def bodies(n: int, bad: int | None = None):
    return [{"pairs": [{"prompt": "q", "response_a": "boom" if i == bad else str(i), "response_b": str(i + 1)}]}
            for i in range(n)]


def test_a_request_the_judge_cannot_score_fails_alone():
    judge = PickyJudge()
    app = create_app(judge, max_batch_pairs=64, max_wait_ms=20)
    replies = post_all(app, bodies(16, bad=5))
    assert [r.status_code for i, r in enumerate(replies) if i != 5] == [200] * 15
    assert replies[5].status_code == 500
    assert max(judge.calls) > 1  # they did share a batch first
    assert app.state.batcher.stats["jobs_failed"] == 1


def test_a_lone_surrogate_is_refused_with_422_and_its_neighbours_are_scored():
    judge = PickyJudge()
    app = create_app(judge, max_batch_pairs=64, max_wait_ms=20)
    raw = {3: b'{"pairs":[{"prompt":"p","response_a":"\\ud800","response_b":"1"}]}'}
    replies = post_all(app, bodies(16), raw)
    assert replies[3].status_code == 422
    detail = replies[3].json()["detail"][0]
    assert detail["loc"][-1] == "response_a" and "surrogate" in detail["msg"]
    assert all(r.status_code == 200 for i, r in enumerate(replies) if i != 3)


def test_max_chars_counts_the_role_too():
    app = create_app(PickyJudge(), limits=Limits(max_chars=100))
    body = {"pairs": [{"prompt": [{"role": "x" * 500, "content": "hi"}], "response_a": "1", "response_b": "2"}]}
    (reply,) = post_all(app, [body])
    assert reply.status_code == 413 and "pairs.prompt[0]" in reply.json()["detail"]


def test_the_bearer_scheme_is_case_insensitive():
    async def go():
        app = create_app(PickyJudge(), token="s3cret")
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram") as client:
                body = {"pairs": [{"prompt": "q", "response_a": "1", "response_b": "2"}]}
                return [(await client.post("/compare", json=body, headers={"authorization": h})).status_code
                        for h in ("bearer s3cret", "BEARER s3cret", "Bearer s3cret", "Bearer wrong", "s3cret")]
    assert asyncio.run(go()) == [200, 200, 200, 401, 401]


def test_a_prompt_gram_score_refuses_is_refused_here_too():
    """`prompt: []` was scored by /compare and refused by `gram score`: one rule for both (gram.io.check_prompt)."""
    from fastapi.testclient import TestClient
    from helpers import NumberJudge

    from gram.serve import create_app

    with TestClient(create_app(NumberJudge())) as client:
        for prompt, said in (([], "non-empty list of messages"), ([{"role": "user"}], "missing or not a string")):
            r = client.post("/compare", json={"pairs": [{"prompt": prompt, "response_a": "1", "response_b": "2"}]})
            assert r.status_code == 422 and said in str(r.json()["detail"]), r.json()
            rank = client.post("/rank", json={"lists": [{"prompt": prompt, "responses": ["1", "2"]}]})
            assert rank.status_code == 422
        ok = client.post("/compare", json={"pairs": [{"prompt": [{"role": "user", "content": "q"}],
                                                      "response_a": "1", "response_b": "2"}]})
        assert ok.status_code == 200
