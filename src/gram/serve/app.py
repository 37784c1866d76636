"""`gram serve`: an HTTP reward server (FastAPI + uvicorn) over one judge.

    gram serve --model runs/stage2                       # http://127.0.0.1:8000, OpenAPI page at /docs
    gram serve --model runs/stage2 --policy smollm2-135m --token "$GRAM_SERVE_TOKEN" --host 0.0.0.0

Endpoints (JSON; all but /health and the docs need `Authorization: Bearer <token>` when a token is set):

- POST /compare    {"pairs": [{"prompt", "response_a", "response_b"}]} -> {"scores": [{score_a, score_b, ...}]}
- POST /rank       {"lists": [{"prompt", "responses": [...]}], "strategy", "budget"} -> {"results": [...]}
- POST /reward     {"prompts", "responses", "references"?} -> {"rewards", "references"}: reward = the score
                   of the response against the reference, minus 0.5 unless "center": false. Without
                   references the server's policy (--policy) writes its greedy response, cached per prompt.
                   "mode": "group": each response's centred Bradley-Terry strength among the responses
                   to the same prompt (GRPO's groups; no references).
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

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import Overloaded, TooLarge
from ..rlhf import GramReward
from ..scoring.base import engine_and_dtype
from . import endpoints
from .batcher import Batcher
from .guard import Guard
from .limits import Limits

log = logging.getLogger(__name__)


@dataclass
class ServerState:
    """What every endpoint reads (`app.state.gram`): the judge's batcher, the limits, the token, the
    threads rankings run in, and the policy's references for /reward."""

    batcher: Batcher
    limits: Limits
    token: str | None
    rank_threads: ThreadPoolExecutor
    references: GramReward
    has_policy: bool
    model_name: str
    token_in_url: bool = False  # /get_reward also takes ?token= (OpenRLHF's client sends no headers)
    runs_on: dict = field(default_factory=dict)  # the judge's engine and dtype, for /health


def create_app(judge, *, token: str | None = None, limits: Limits | None = None, policy=None, policy_tokenizer=None,
               max_batch_pairs: int = 64, max_wait_ms: float = 2.0, model_name: str = "", max_new_tokens: int = 256,
               max_cached_references: int = 10_000, allowed_hosts: tuple[str, ...] | None = None,
               token_in_url: bool = False):
    """The FastAPI app. `judge`: a loaded Scorer; `policy` (+ tokenizer): writes references for /reward;
    `allowed_hosts`: the Host header values accepted (None: any), see gram.serve.guard. `token_in_url`:
    /get_reward also accepts the token as `?token=` (for OpenRLHF, whose client cannot send a header)."""
    limits = limits or Limits()
    batcher = Batcher(judge, max_batch_pairs=max_batch_pairs, max_wait_ms=max_wait_ms,
                      max_queue_pairs=limits.max_queue_pairs)
    state = ServerState(
        batcher, limits, token,
        # ranking runs in threads that block on the batcher: enough of them that concurrent lists batch together
        ThreadPoolExecutor(limits.max_items, thread_name_prefix="gram-rank"),
        GramReward(judge, policy=policy, tokenizer=policy_tokenizer, max_new_tokens=max_new_tokens,
                   max_cached=max_cached_references, refresh="never"),  # a server's policy does not change
        policy is not None, model_name, token_in_url, engine_and_dtype(judge))

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()
        state.rank_threads.shutdown(wait=False, cancel_futures=True)
        if hasattr(judge, "close"):  # a vLLM engine's core process would outlive the server (before uvicorn
            judge.close()            # re-raises SIGTERM, which runs no finally)

    # the OpenAPI pages (/docs, /redoc) served from the installed fastapi-offline package, not a CDN, so that
    # they work where the server has no internet access
    app = FastAPIOffline(title="gram reward server", version="1", lifespan=lifespan,
                         description="Pairwise GRAM judgements: compare, rank, RLHF rewards (OpenRLHF-compatible).")
    app.state.gram = state
    app.state.batcher = batcher
    app.include_router(endpoints.router)
    app.add_exception_handler(RequestValidationError, endpoints.invalid)
    app.add_exception_handler(StarletteHTTPException, endpoints.http_error)
    app.add_exception_handler(Overloaded, endpoints.overloaded)
    app.add_exception_handler(TooLarge, endpoints.too_large_request)
    return Guard(app, limits.max_body_bytes, body_timeout_s=limits.body_timeout_s, allowed_hosts=allowed_hosts)
