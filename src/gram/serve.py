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
wrong token, 429 when the queue is full. A request whose client has gone is dropped from the queue before
its pairs are scored.
"""

import asyncio
import hmac
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from .judge import Pair, PairScore
from .rank import STRATEGIES, rank
from .serve_schemas import (
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


class Overloaded(Exception):
    pass


@dataclass
class _Job:
    pairs: list[Pair]
    future: asyncio.Future


@dataclass
class Batcher:
    """Runs the judge on one model thread; concurrent requests' pairs share its calls.

    The worker takes every waiting job (up to `max_batch_pairs` pairs, at least one job), drops jobs
    whose request was cancelled, scores the rest in one `compare_many`, and hands each job its rows."""

    judge: object
    max_batch_pairs: int = 64
    max_wait_ms: float = 2.0
    max_queue_pairs: int = 4096
    orders: str = "both"
    queue: list = field(default_factory=list)
    stats: dict = field(default_factory=lambda: {"batches": 0, "pairs_scored": 0, "jobs": 0, "jobs_dropped": 0})

    def __post_init__(self):
        self.model_thread = ThreadPoolExecutor(1, thread_name_prefix="gram-model")
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        self.model_thread.shutdown(wait=True)

    @property
    def queued_pairs(self) -> int:
        return sum(len(j.pairs) for j in self.queue if not j.future.done())  # cancelled ones do not count

    async def compare(self, pairs: list[Pair]) -> list[PairScore]:
        if not pairs:
            return []
        if self.queued_pairs + len(pairs) > self.max_queue_pairs:
            raise Overloaded(f"{self.queued_pairs} pairs are waiting; this server queues at most {self.max_queue_pairs}")
        job = _Job(pairs, asyncio.get_running_loop().create_future())
        self.queue.append(job)
        self._wake.set()
        return await job.future

    async def in_model_thread(self, fn, *args):
        """Run other model work (reference generation) on the model thread, between batches."""
        return await asyncio.get_running_loop().run_in_executor(self.model_thread, fn, *args)

    def _take(self) -> list[_Job]:
        jobs, n = [], 0
        while self.queue:
            job = self.queue[0]
            if job.future.done():  # cancelled: the client went away
                self.queue.pop(0)
                self.stats["jobs_dropped"] += 1
                continue
            if jobs and n + len(job.pairs) > self.max_batch_pairs:
                break
            jobs.append(self.queue.pop(0))
            n += len(job.pairs)
        return jobs

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.max_wait_ms:
                await asyncio.sleep(self.max_wait_ms / 1000)  # let concurrent requests join this batch
            while jobs := self._take():
                try:
                    pairs = [p for j in jobs for p in j.pairs]
                    scores = await loop.run_in_executor(self.model_thread, self._score, pairs)
                    if len(scores) != len(pairs):
                        raise RuntimeError(f"the judge returned {len(scores)} scores for {len(pairs)} pairs")
                except Exception as e:  # every request of the batch hears why; the worker goes on
                    log.exception("scoring a batch of %d requests failed", len(jobs))
                    for j in jobs:
                        if not j.future.done():
                            j.future.set_exception(e)
                    continue
                self.stats["batches"] += 1
                self.stats["pairs_scored"] += len(pairs)
                self.stats["jobs"] += len(jobs)
                start = 0
                for j in jobs:
                    if not j.future.done():
                        j.future.set_result(scores[start:start + len(j.pairs)])
                    start += len(j.pairs)

    def _score(self, pairs):
        return self.judge.compare_many(pairs, orders=self.orders)


class _BatchedJudge:
    """What `rank` needs of a judge (`compare_many`), called from a worker thread and routed through the
    batcher, so ranking rounds share forward passes with other requests. `cancel` ends a ranking whose
    client left: its waiting round leaves the queue and no further round starts."""

    def __init__(self, batcher: Batcher, loop: asyncio.AbstractEventLoop):
        self.batcher, self.loop = batcher, loop
        self.stopped = threading.Event()
        self.pending: set = set()

    def compare_many(self, pairs, **_):
        if self.stopped.is_set():
            raise asyncio.CancelledError()
        future = asyncio.run_coroutine_threadsafe(self.batcher.compare([Pair(*p) for p in pairs]), self.loop)
        self.pending.add(future)
        try:
            return future.result()
        finally:
            self.pending.discard(future)

    def cancel(self) -> None:
        self.stopped.set()
        for future in list(self.pending):
            future.cancel()


def create_app(judge, *, token: str | None = None, limits: Limits | None = None, policy=None, policy_tokenizer=None,
               max_batch_pairs: int = 64, max_wait_ms: float = 2.0, model_name: str = "", max_new_tokens: int = 256,
               max_cached_references: int = 10_000):
    """The FastAPI app. `judge`: a loaded Judge; `policy` (+ tokenizer): writes references for /reward."""
    from .rlhf import GramReward

    limits = limits or Limits()
    batcher = Batcher(judge, max_batch_pairs=max_batch_pairs, max_wait_ms=max_wait_ms,
                      max_queue_pairs=limits.max_queue_pairs)
    # ranking runs in threads that block on the batcher: enough of them that concurrent lists batch together
    rank_threads = ThreadPoolExecutor(limits.max_items, thread_name_prefix="gram-rank")
    references = GramReward(judge, policy=policy, tokenizer=policy_tokenizer, max_new_tokens=max_new_tokens,
                            max_cached=max_cached_references)

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()
        rank_threads.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="gram reward server", version="1", lifespan=lifespan,
                  description="Pairwise GRAM judgements: compare, rank, RLHF rewards (OpenRLHF-compatible).")
    app.state.batcher = batcher

    def too_large(what: str, n: int, limit: int):
        if n > limit:
            raise HTTPException(413, f"{what}: {n} is over this server's limit of {limit}")

    def check_texts(where: str, texts) -> None:
        for i, t in enumerate(texts):
            size = len(t) if isinstance(t, str) else sum(len(m.content) for m in t)
            if size > limits.max_chars:
                raise HTTPException(413, f"{where}[{i}]: {size} characters is over this server's limit of "
                                         f"{limits.max_chars}")

    def authorized(request: Request) -> None:
        if token is None:
            return
        got = request.headers.get("authorization", "")
        if not (got.startswith("Bearer ") and hmac.compare_digest(got[7:].encode(), token.encode())):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    async def unless_gone(request: Request, work):
        """Await `work`; if the client disconnects first, cancel it so its pairs leave the queue."""
        task = asyncio.ensure_future(work)
        while not task.done():
            done, _ = await asyncio.wait({task}, timeout=0.05)
            if not done and await request.is_disconnected():
                task.cancel()
                raise HTTPException(499, "client closed the request")
        try:
            return task.result()
        except Overloaded as e:
            raise HTTPException(429, str(e)) from None

    def dump(p):
        return p if isinstance(p, str) else [m.model_dump() for m in p]

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, "queued_pairs": batcher.queued_pairs, **batcher.stats,
                "policy": policy is not None}

    @app.post("/compare", response_model=CompareOut, dependencies=[Depends(authorized)])
    async def compare(body: CompareIn, request: Request):
        too_large("pairs", len(body.pairs), limits.max_items)
        check_texts("pairs.prompt", [p.prompt for p in body.pairs])
        check_texts("pairs.response", [t for p in body.pairs for t in (p.response_a, p.response_b)])
        scores = await unless_gone(request, batcher.compare(
            [Pair(dump(p.prompt), p.response_a, p.response_b) for p in body.pairs]))
        return {"scores": [{"score_a": s.score_a, "score_b": s.score_b, "p_a_ab": s.p_a_ab, "p_a_ba": s.p_a_ba,
                            "consistent": s.consistent, "truncated": s.truncated} for s in scores]}

    @app.post("/rank", response_model=RankResults, dependencies=[Depends(authorized)])
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
        proxy = _BatchedJudge(batcher, loop)

        async def one(item):
            return await loop.run_in_executor(rank_threads, rank, proxy, dump(item.prompt), item.responses,
                                              body.strategy, body.budget)

        try:
            results = await unless_gone(request, asyncio.gather(*(one(item) for item in body.lists)))
        finally:
            proxy.cancel()
        return {"results": [{"order": r.order, "best": r.best, "comparisons": r.comparisons, "rounds": r.rounds,
                             "full": r.full, "budget_exhausted": r.budget_exhausted, "scores": r.scores}
                            for r in results]}

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

    @app.post("/reward", response_model=RewardOut, dependencies=[Depends(authorized)])
    async def reward(body: RewardIn, request: Request):
        rewards, refs = await rewards_for(request, body.prompts, body.responses, body.references, body.center)
        return {"rewards": rewards, "references": refs}

    @app.post("/get_reward", response_model=OpenRLHFOut, dependencies=[Depends(authorized)])
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

    @app.exception_handler(Overloaded)
    async def overloaded(request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=429)

    return BodyLimit(app, limits.max_body_bytes)


class BodyLimit:
    """ASGI wrapper: a request body over `max_bytes` gets 413 before it is parsed (declared length or not)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes
        self.state = app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send):
        body = b'{"detail":"request body over this server\'s limit of %d bytes"}' % self.max_bytes
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised from `receive` while a body streams in: FastAPI turns other exceptions from the body reader
    into 400, but passes an HTTPException through, so the client gets this 413."""

    def __init__(self, max_bytes: int):
        super().__init__(413, f"request body over this server's limit of {max_bytes} bytes")


def serve(args) -> int:
    """`gram serve`: load the judge (and the policy), then run uvicorn."""
    import uvicorn

    from . import backbone
    from .judge import Judge

    token = args.token or os.environ.get("GRAM_SERVE_TOKEN") or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and token is None:
        print(f"gram serve: warning: listening on {args.host} with no bearer token: anyone who can reach it can "
              "use it (set --token or GRAM_SERVE_TOKEN)", file=sys.stderr)
    judge = Judge.load(args.model, device=args.device, dtype=args.dtype, max_length=args.max_length,
                       batch_size=args.batch_size)
    policy = tokenizer = None
    if args.policy:
        policy, tokenizer = backbone.load(args.policy, device=args.device, dtype=args.dtype)
    limits = Limits(max_body_bytes=args.max_body_bytes, max_items=args.max_items, max_list=args.max_list,
                    max_chars=args.max_chars, max_queue_pairs=args.max_queue_pairs)
    app = create_app(judge, token=token, limits=limits, policy=policy, policy_tokenizer=tokenizer,
                     max_batch_pairs=args.max_batch_pairs, max_wait_ms=args.max_wait_ms, model_name=args.model,
                     max_new_tokens=args.max_new_tokens)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def add_parser(sub, add_model_args) -> None:
    p = sub.add_parser("serve", help="HTTP reward server: /compare, /rank, /reward, /get_reward (OpenRLHF), /health",
                       description=__doc__.split("\n\n")[0])
    add_model_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", default=None, help="bearer token required on every scoring request (or GRAM_SERVE_TOKEN)")
    p.add_argument("--policy", default=None, help="model whose greedy responses are /reward's default references")
    p.add_argument("--max-new-tokens", type=int, default=256, help="length of the policy's reference responses")
    p.add_argument("--batch-size", type=int, default=8, help="rows per forward pass inside a batch")
    p.add_argument("--max-length", type=int, default=2048, help="tokens per judge prompt")
    p.add_argument("--max-batch-pairs", type=int, default=64, help="pairs gathered from concurrent requests per judge call")
    p.add_argument("--max-wait-ms", type=float, default=2.0, help="how long a new batch waits for more requests")
    p.add_argument("--max-body-bytes", type=int, default=Limits.max_body_bytes)
    p.add_argument("--max-items", type=int, default=Limits.max_items, help="pairs, lists or responses per request")
    p.add_argument("--max-list", type=int, default=Limits.max_list, help="responses per ranking list")
    p.add_argument("--max-chars", type=int, default=Limits.max_chars, help="characters per prompt or response")
    p.add_argument("--max-queue-pairs", type=int, default=Limits.max_queue_pairs,
                   help="pairs waiting for the model before new requests get 429")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=serve)
