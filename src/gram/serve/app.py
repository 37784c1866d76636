"""`gram serve`: an HTTP reward server (FastAPI + uvicorn) over one judge.

    gram serve --model runs/stage2                       # http://127.0.0.1:8000, OpenAPI page at /docs
    gram serve --model runs/stage2 --policy smollm2-135m --token "$GRAM_SERVE_TOKEN" --host 0.0.0.0

Endpoints (JSON; all but /health and the docs need `Authorization: Bearer <token>` when a token is set):

- POST /compare    {"pairs": [{"prompt", "response_a", "response_b"}]} -> {"scores": [{score_a, score_b, ...}]}
- POST /rank       {"lists": [{"prompt", "responses": [...]}], "strategy", "budget"} -> {"results": [...]}
- POST /reward     {"prompts", "responses", "references"?} -> {"rewards", "references"}: reward = the score
                   of the response against the reference, minus 0.5 unless "center": false. Without
                   references the server's policy (--policy) writes its greedy response, cached per prompt.
- POST /get_reward OpenRLHF's remote reward protocol: {"query": [prompt + response], "prompts": [...],
                   "labels"?: [reference responses]} -> {"rewards", "scores", "extra_logs"}
- GET  /health

Dynamic batching: the pairs of every request that arrives while the model is busy (or within
--max-wait-ms) go to the judge together, as one length-grouped `compare_many` call. Limits answer 4xx:
413 for a body, list or text over its limit, 422 for malformed JSON or wrong types, 401 for a missing or
wrong token, 429 when the queue is full, 408 for a body that does not arrive in time, 400 for a Host
header naming another server (loopback only). A request whose client has gone, or that passes
--request-timeout (503), is dropped from the queue before its pairs are scored. Connections are bounded
in number and in the time their headers may take (gram.serve.guard).
"""

import asyncio
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..records import Pair
from ..rlhf import GramReward
from ..scoring.rank import STRATEGIES, rank
from ..templates import TemplateError
from .batcher import BatchedJudge, Batcher, Overloaded
from .guard import Guard
from .schemas import (
    CompareIn,
    CompareOut,
    OpenRLHFIn,
    OpenRLHFOut,
    RankIn,
    RankResults,
    RewardIn,
    RewardOut,
)

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at runtime.

log = logging.getLogger(__name__)


@dataclass
class Limits:
    max_body_bytes: int = 4 * 1024 * 1024
    max_items: int = 256  # pairs, lists or responses in one request
    max_list: int = 64  # responses in one ranking list
    max_chars: int = 32_000  # characters in one prompt or response
    max_queue_pairs: int = 4096  # pairs waiting for the model before requests get 429
    body_timeout_s: float = 30.0  # for a request body to arrive, else 408
    request_timeout_s: float = 300.0  # from a request's arrival to its answer, else 503 (its pairs leave the queue)


def create_app(judge, *, token: str | None = None, limits: Limits | None = None, policy=None, policy_tokenizer=None,
               max_batch_pairs: int = 64, max_wait_ms: float = 2.0, model_name: str = "", max_new_tokens: int = 256,
               max_cached_references: int = 10_000, allowed_hosts: tuple[str, ...] | None = None):
    """The FastAPI app. `judge`: a loaded Scorer; `policy` (+ tokenizer): writes references for /reward;
    `allowed_hosts`: the Host header values accepted (None: any), see gram.serve.guard."""
    limits = limits or Limits()
    batcher = Batcher(judge, max_batch_pairs=max_batch_pairs, max_wait_ms=max_wait_ms,
                      max_queue_pairs=limits.max_queue_pairs)
    # ranking runs in threads that block on the batcher: enough of them that concurrent lists batch together
    rank_threads = ThreadPoolExecutor(limits.max_items, thread_name_prefix="gram-rank")
    references = GramReward(judge, policy=policy, tokenizer=policy_tokenizer, max_new_tokens=max_new_tokens,
                            max_cached=max_cached_references, refresh="never")  # a server's policy does not change

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()
        rank_threads.shutdown(wait=False, cancel_futures=True)

    # the OpenAPI pages (/docs, /redoc) served from the installed fastapi-offline package, not a CDN, so that
    # they work where the server has no internet access
    app = FastAPIOffline(title="gram reward server", version="1", lifespan=lifespan,
                         description="Pairwise GRAM judgements: compare, rank, RLHF rewards (OpenRLHF-compatible).")
    app.state.batcher = batcher

    def too_large(what: str, n: int, limit: int):
        if n > limit:
            raise HTTPException(413, f"{what}: {n} is over this server's limit of {limit}")

    def check_texts(where: str, texts) -> None:
        for i, t in enumerate(texts):
            size = len(t) if isinstance(t, str) else sum(len(m.role) + len(m.content) for m in t)
            if size > limits.max_chars:
                raise HTTPException(413, f"{where}[{i}]: {size} characters is over this server's limit of "
                                         f"{limits.max_chars}")

    def token_ok(request: Request) -> bool:
        if token is None:
            return True
        scheme, _, got = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(got.strip().encode(), token.encode())

    def authorized(request: Request) -> None:
        if not token_ok(request):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    async def unless_gone(request: Request, work):
        """Await `work`, cancelling it (so its pairs leave the queue) if the client disconnects first or the
        request passes --request-timeout. The disconnect is the ASGI message a receive after the body
        returns: one waiting task per request, no polling."""
        task = asyncio.ensure_future(work)
        gone = asyncio.ensure_future(request.receive())
        try:
            done, _ = await asyncio.wait({task, gone}, timeout=limits.request_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if task not in done:
            task.cancel()
            if gone in done:
                raise HTTPException(499, "client closed the request")
            raise HTTPException(503, f"not answered within this server's request timeout of "
                                     f"{limits.request_timeout_s:g} s", headers={"Retry-After": "1"})
        try:
            return task.result()
        except Overloaded as e:
            raise HTTPException(429, str(e)) from None
        except TemplateError as e:  # an input the judge prompt cannot hold (e.g. over --max-length's floor)
            raise HTTPException(422, str(e)) from None

    def dump(p):
        return p if isinstance(p, str) else [m.model_dump() for m in p]

    @app.get("/health", summary="Liveness; with the token also the model, queue and counters")
    async def health(request: Request):
        if not token_ok(request):  # up or not, for anyone; what it serves and its load, for token holders
            return {"status": "ok"}
        return {"status": "ok", "model": model_name, "queued_pairs": batcher.queued_pairs, **batcher.stats,
                "policy": policy is not None}

    @app.post("/compare", response_model=CompareOut, dependencies=[Depends(authorized)],
              summary="Judge pairs: P(A) in both presentation orders and their average")
    async def compare(body: CompareIn, request: Request):
        too_large("pairs", len(body.pairs), limits.max_items)
        check_texts("pairs.prompt", [p.prompt for p in body.pairs])
        check_texts("pairs.response", [t for p in body.pairs for t in (p.response_a, p.response_b)])
        scores = await unless_gone(request, batcher.compare(
            [Pair(dump(p.prompt), p.response_a, p.response_b) for p in body.pairs]))
        return {"scores": [s.fields(consistent=True) for s in scores]}

    @app.post("/rank", response_model=RankResults, dependencies=[Depends(authorized)],
              summary="Rank each list of responses to one prompt with a pairwise strategy (as `gram rank`)")
    async def rank_lists(body: RankIn, request: Request):
        if body.strategy not in STRATEGIES:
            raise HTTPException(422, f"strategy must be one of {', '.join(STRATEGIES)}, not {body.strategy!r}")
        too_large("lists", len(body.lists), limits.max_items)
        for i, item in enumerate(body.lists):
            too_large(f"lists[{i}].responses", len(item.responses), limits.max_list)
            if not item.responses:
                raise HTTPException(422, f"lists[{i}].responses: nothing to rank")
            check_texts(f"lists[{i}].responses", item.responses)
        check_texts("lists.prompt", [item.prompt for item in body.lists])
        loop = asyncio.get_running_loop()
        proxy = BatchedJudge(batcher, loop)

        async def one(item):
            return await loop.run_in_executor(rank_threads, rank, proxy, dump(item.prompt), item.responses,
                                              body.strategy, body.budget)

        try:
            results = await unless_gone(request, asyncio.gather(*(one(item) for item in body.lists)))
        finally:
            proxy.cancel()
        return {"results": [r.to_row() for r in results]}

    async def rewards_for(request, prompts, responses, refs, center: bool) -> tuple[list[float], list[str]]:
        too_large("responses", len(responses), limits.max_items)
        if len(prompts) != len(responses) or (refs is not None and len(refs) != len(responses)):
            raise HTTPException(422, f"prompts ({len(prompts)}), responses ({len(responses)})"
                                     + ("" if refs is None else f" and references ({len(refs)})")
                                     + " must have the same length")
        check_texts("prompts", prompts)
        check_texts("responses", responses)
        if refs is None:
            if policy is None:
                raise HTTPException(422, "no references given and this server has no policy to write them "
                                         "(start it with --policy, or send references)")
            refs = [await batcher.in_model_thread(references.reference, dump(p)) for p in prompts]
        else:
            check_texts("references", refs)
        scores = await unless_gone(request, batcher.compare(
            [Pair(dump(p), r, ref) for p, r, ref in zip(prompts, responses, refs)]))
        shift = 0.5 if center else 0.0
        return [s.score_a - shift for s in scores], list(refs)

    @app.post("/reward", response_model=RewardOut, dependencies=[Depends(authorized)],
              summary="RLHF rewards: each response's score against a reference response, minus 0.5")
    async def reward(body: RewardIn, request: Request):
        rewards, refs = await rewards_for(request, body.prompts, body.responses, body.references, body.center)
        return {"rewards": rewards, "references": refs}

    @app.post("/get_reward", response_model=OpenRLHFOut, dependencies=[Depends(authorized)],
              summary="OpenRLHF's remote reward protocol (query = prompt + response)")
    async def get_reward(body: OpenRLHFIn, request: Request):
        if body.prompts is None:
            raise HTTPException(422, "gram judges a response against a reference for its prompt: send `prompts` "
                                     "with `query` (OpenRLHF does) so each query can be split")
        if len(body.prompts) != len(body.query):
            raise HTTPException(422, f"query ({len(body.query)}) and prompts ({len(body.prompts)}) differ in length")
        responses = []
        for i, (q, p) in enumerate(zip(body.query, body.prompts)):
            if not q.startswith(p):
                raise HTTPException(422, f"query[{i}] does not start with prompts[{i}]")
            responses.append(q[len(p):])
        rewards, _ = await rewards_for(request, body.prompts, responses, body.labels, True)
        return {"rewards": rewards, "scores": rewards, "extra_logs": {}}

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        # each error's location and reason, without the offending input (which may not even be encodable)
        return JSONResponse({"detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                                        for e in exc.errors()]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        # a body that is JSON by the grammar but that Python's parser refuses (nesting past its recursion
        # limit, an integer over 4,300 digits) is malformed input like any other: 422, not FastAPI's 400
        if exc.status_code == 400 and isinstance(exc.__cause__, (RecursionError, ValueError)):
            return JSONResponse({"detail": [{"loc": ["body"], "msg": f"JSON this server cannot read: {exc.__cause__}"[:300],
                                             "type": "json_invalid"}]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Overloaded)
    async def overloaded(request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=429)

    return Guard(app, limits.max_body_bytes, body_timeout_s=limits.body_timeout_s, allowed_hosts=allowed_hosts)
