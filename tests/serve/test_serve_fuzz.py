"""Fuzz (hypothesis, bounded) of `gram serve`'s bodies: every endpoint answers random bodies with a 200, a
413 or a 422 naming the field, never a traceback or a 5xx."""

from __future__ import annotations

import asyncio
import json

import httpx
from helpers import JSON
from hypothesis import given, settings
from hypothesis import strategies as st

from gram.scoring import as_pair, combine
from gram.serve import Limits, create_app


class EchoJudge:
    def compare_many(self, pairs, **_):
        return [combine(0.3, 0.7) for _ in map(as_pair, pairs)]


BODY = JSON | st.fixed_dictionaries({}, optional={k: JSON for k in ("pairs", "lists", "prompts", "responses",
                                                                     "references", "query", "strategy", "budget")})


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["/compare", "/rank", "/reward", "/get_reward"]),
       BODY.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=60))
def test_fuzz_server_bodies(path, body):
    app = create_app(EchoJudge(), limits=Limits(max_items=8, max_list=8, max_chars=500))

    async def go():
        async with app.app.router.lifespan_context(app.app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://gram") as client:
                return await client.post(path, content=body, headers={"content-type": "application/json"})

    reply = asyncio.run(go())
    assert reply.status_code in (200, 413, 422), (reply.status_code, reply.text[:300])
    if reply.status_code != 200:
        detail = reply.json()["detail"]
        assert detail and (isinstance(detail, str) or all("loc" in d and "msg" in d for d in detail))
