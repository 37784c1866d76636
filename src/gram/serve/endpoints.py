"""The reward server's endpoints and error handlers, each a module-level function over the one
`ServerState` that gram.serve.app.create_app puts in `app.state.gram` (the module docstring of
gram.serve.app lists the endpoints and their limits)."""

import asyncio
import hmac
import threading
import time
from collections import Counter

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse

from ..errors import NonFiniteScore, Overloaded, ShuttingDown, TemplateError, TooLarge
from ..jobs.ranking import RankMethod, ranked_row
from ..records import Pair, prompt_key
from ..rlhf import GramReward
from ..scoring.rank import STRATEGIES, largest_call
from .batcher import BatchedJudge
from .schemas import CompareIn, CompareOut, OpenRLHFIn, OpenRLHFOut, RankIn, RankResults, RewardIn, RewardOut

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at runtime.


def server(request: Request):
    """The app's ServerState."""
    return request.app.state.gram


def too_large(what: str, n: int, limit: int) -> None:
    if n > limit:
        raise HTTPException(413, f"{what}: {n} is over this server's limit of {limit}")


def check_texts(request: Request, where: str, texts) -> None:
    limit = server(request).limits.max_chars
    for i, t in enumerate(texts):
        size = len(t) if isinstance(t, str) else sum(len(m.role) + len(m.content) for m in t)
        if size > limit:
            raise HTTPException(413, f"{where}[{i}]: {size} characters is over this server's limit of {limit}")


def token_ok(request: Request) -> bool:
    """The bearer token, compared in constant time; on /get_reward with --token-in-url also `?token=`."""
    state = server(request)
    if state.token is None:
        return True
    scheme, _, got = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" and state.token_in_url and request.url.path == "/get_reward":
        scheme, got = "bearer", request.query_params.get("token", "")
    return scheme.lower() == "bearer" and hmac.compare_digest(got.strip().encode(), state.token.encode())


def authorized(request: Request) -> None:
    if not token_ok(request):
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


async def unless_gone(request: Request, work, deadline: float | None = None):
    """Await `work`, cancelling it (so its pairs leave the queue) if the client disconnects first or the
    request passes --request-timeout (`deadline`: the loop time it ends at, when one request awaits several
    things). The disconnect is the ASGI message a receive after the body returns: one waiting task per
    request, no polling."""
    timeout = server(request).limits.request_timeout_s
    left = timeout if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(request.receive())
    try:
        done, _ = await asyncio.wait({task, gone}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if task not in done:
        task.cancel()
        if gone in done:
            raise HTTPException(499, "client closed the request")
        raise HTTPException(503, f"not answered within this server's request timeout of {timeout:g} s",
                            headers={"Retry-After": "1"})
    try:
        return task.result()
    except Overloaded as e:
        raise HTTPException(429, str(e), headers={"Retry-After": str(e.retry_after)}) from None
    except TooLarge as e:
        raise HTTPException(413, str(e)) from None
    except ShuttingDown as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "1"}) from None
    except TemplateError as e:  # an input the judge prompt cannot hold (e.g. over --max-length's floor)
        raise HTTPException(422, str(e)) from None
    except NonFiniteScore as e:  # the model's fault, not the request's
        raise HTTPException(500, str(e)) from None


def dump(p):
    return p if isinstance(p, str) else [m.model_dump() for m in p]


router = APIRouter()


@router.get("/health", summary="Liveness; with the token also the model, queue and counters")
async def health(request: Request):
    if not token_ok(request):  # up or not, for anyone; what it serves and its load, for token holders
        return {"status": "ok"}
    state = server(request)
    busy = state.batcher.busy_with
    return {"status": "ok", "model": state.model_name, **state.runs_on, "queued_pairs": state.batcher.queued_pairs,
            **state.batcher.stats, "policy": state.has_policy,
            # a policy writing a reference holds the model: no judge call runs until it ends
            "model_busy_with": None if busy is None else {"work": busy[0],
                                                          "seconds": round(time.monotonic() - busy[1], 1)}}


@router.post("/compare", response_model=CompareOut, dependencies=[Depends(authorized)],
             summary="Judge pairs: P(A) in both presentation orders and their average")
async def compare(body: CompareIn, request: Request):
    too_large("pairs", len(body.pairs), server(request).limits.max_items)
    check_texts(request, "pairs.prompt", [p.prompt for p in body.pairs])
    check_texts(request, "pairs.response", [t for p in body.pairs for t in (p.response_a, p.response_b)])
    scores = await unless_gone(request, server(request).batcher.compare(
        [Pair(dump(p.prompt), p.response_a, p.response_b) for p in body.pairs]))
    return {"scores": [s.fields() for s in scores]}


def check_lists(request: Request, body: RankIn) -> None:
    limits = server(request).limits
    if body.strategy not in STRATEGIES:
        raise HTTPException(422, f"strategy must be one of {', '.join(STRATEGIES)}, not {body.strategy!r}")
    too_large("lists", len(body.lists), limits.max_items)
    for i, item in enumerate(body.lists):
        too_large(f"lists[{i}].responses", len(item.responses), limits.max_list)
        if not item.responses:
            raise HTTPException(422, f"lists[{i}].responses: nothing to rank")
        check_texts(request, f"lists[{i}].responses", item.responses)
        at_once = largest_call(body.strategy, len(item.responses), body.budget)
        if at_once > (queue := limits.max_queue_pairs):
            raise HTTPException(413, f"lists[{i}]: a {body.strategy} ranking of {len(item.responses)} responses "
                                     f"sends {at_once} pairs at once, over this server's queue of {queue} pairs "
                                     "(--max-queue-pairs): rank fewer responses, set a budget or another "
                                     "strategy")
    check_texts(request, "lists.prompt", [item.prompt for item in body.lists])


@router.post("/rank", response_model=RankResults, dependencies=[Depends(authorized)],
             summary="Rank each list of responses to one prompt with a pairwise strategy (as `gram rank`)")
async def rank_lists(body: RankIn, request: Request):
    check_lists(request, body)
    state = server(request)
    loop = asyncio.get_running_loop()
    proxy = BatchedJudge(state.batcher, loop)

    method = RankMethod(body.strategy, body.budget)

    async def one(item):
        return await loop.run_in_executor(state.rank_threads, ranked_row, proxy, dump(item.prompt), item.responses,
                                          method)

    async def in_waves():  # the lists whose rounds fit the queue together run at once, wave after wave
        results = []
        for wave in waves([largest_call(body.strategy, len(i.responses), body.budget) for i in body.lists],
                          state.batcher.max_queue_pairs):
            results += await asyncio.gather(*(one(body.lists[i]) for i in wave))
        return results

    try:
        results = await unless_gone(request, in_waves())
    finally:
        proxy.cancel()
    return {"results": results}


def waves(sizes: list[int], capacity: int) -> list[list[int]]:
    """Consecutive groups of list indices whose largest calls fit `capacity` together (a list too large
    alone was refused before, in check_lists)."""
    out, load = [[]], 0
    for i, size in enumerate(sizes):
        if out[-1] and load + size > capacity:
            out.append([])
            load = 0
        out[-1].append(i)
        load += size
    return out


def check_reward_inputs(request, prompts, responses, refs=None) -> None:
    """/reward's and /get_reward's counts, lengths and texts (the references are checked where used)."""
    too_large("responses", len(responses), server(request).limits.max_items)
    if len(prompts) != len(responses) or (refs is not None and len(refs) != len(responses)):
        raise HTTPException(422, f"prompts ({len(prompts)}), responses ({len(responses)})"
                                 + ("" if refs is None else f" and references ({len(refs)})")
                                 + " must have the same length")
    check_texts(request, "prompts", prompts)
    check_texts(request, "responses", responses)


async def rewards_for(request, prompts, responses, refs, center: bool) -> tuple[list[float], list[str]]:
    """Each response's score against its reference, less 0.5 when `center`. A reference that is None (none
    given for it) is the server's policy's greedy response to the prompt."""
    state = server(request)
    deadline = asyncio.get_running_loop().time() + state.limits.request_timeout_s  # one for the whole request
    check_reward_inputs(request, prompts, responses, refs)
    refs = list(refs) if refs is not None else [None] * len(prompts)
    missing = [i for i, ref in enumerate(refs) if ref is None]
    if missing and not state.has_policy:
        raise HTTPException(422, f"no reference for {len(missing)} of {len(refs)} responses and this server has "
                                 "no policy to write them (start it with --policy, or send references)")
    check_texts(request, "references", [ref for ref in refs if ref is not None])
    for i in missing:  # on the model thread: cancellable, under the request's deadline and the drain's
        gone = threading.Event()
        stop = lambda: gone.is_set() or state.batcher.refusing is not None  # noqa: E731
        try:
            refs[i] = await unless_gone(request, state.batcher.in_model_thread(
                "a policy reference", state.references.reference, dump(prompts[i]), stop), deadline)
        finally:
            gone.set()
    scores = await unless_gone(request, state.batcher.compare(
        [Pair(dump(p), r, ref) for p, r, ref in zip(prompts, responses, refs)]), deadline)
    shift = 0.5 if center else 0.0
    return [s.score_a - shift for s in scores], list(refs)


async def group_rewards(request, prompts, responses) -> list[float]:
    """mode="group": each response's centred Bradley-Terry strength among its prompt's responses
    (gram.rlhf.GramReward.group_scores), the comparisons batched with other requests as /rank's are."""
    state = server(request)
    check_reward_inputs(request, prompts, responses)
    prompts = [dump(p) for p in prompts]
    sizes = Counter(prompt_key(p) for p in prompts)
    too_large("responses to one prompt", max(sizes.values(), default=0), state.limits.max_list)
    loop = asyncio.get_running_loop()
    proxy = BatchedJudge(state.batcher, loop)
    work = loop.run_in_executor(state.rank_threads, GramReward(proxy, mode="group").group_scores, prompts, responses)
    try:
        return await unless_gone(request, work)
    finally:
        proxy.cancel()


@router.post("/reward", response_model=RewardOut, dependencies=[Depends(authorized)],
             summary="RLHF rewards: each response's score against a reference response, minus 0.5, or "
                     "(mode=group) its centred Bradley-Terry strength among its prompt's responses")
async def reward(body: RewardIn, request: Request):
    if body.mode == "group":
        if body.references is not None:
            raise HTTPException(422, "mode group judges the responses to a prompt against each other: send no "
                                     "references")
        return {"rewards": await group_rewards(request, body.prompts, body.responses), "references": []}
    rewards, refs = await rewards_for(request, body.prompts, body.responses, body.references, body.center)
    return {"rewards": rewards, "references": refs}


@router.post("/get_reward", response_model=OpenRLHFOut, dependencies=[Depends(authorized)],
             summary="OpenRLHF's remote reward protocol (query = prompt + response)")
async def get_reward(body: OpenRLHFIn, request: Request):
    """OpenRLHF: `query` is prompt + response; `labels` the references. An empty label (what OpenRLHF sends
    without --label_key) means no reference: the policy writes one."""
    if body.prompts is None:
        raise HTTPException(422, "gram judges a response against a reference for its prompt: send `prompts` "
                                 "with `query` (OpenRLHF does) so each query can be split")
    if len(body.prompts) != len(body.query):
        raise HTTPException(422, f"query ({len(body.query)}) and prompts ({len(body.prompts)}) differ in length")
    # off the event loop: aligning a cut prompt is linear Python (about 0.6 s for a 4 MiB body)
    responses = await asyncio.to_thread(lambda: [response_of(q, p, i) for i, (q, p) in
                                                 enumerate(zip(body.query, body.prompts))])
    labels = None if body.labels is None else [label or None for label in body.labels]
    rewards, _ = await rewards_for(request, body.prompts, responses, labels, True)
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}


MIN_PROMPT_TAIL = 32  # characters of a prompt's end that must begin a query for the two to be aligned


def response_of(query: str, prompt: str, i: int) -> str:
    """The response in an OpenRLHF query: what follows the prompt. OpenRLHF cuts a prompt over
    --prompt_max_len from the left, so the query may start with the prompt's tail only: the response then
    follows the longest end of the prompt that begins the query."""
    if query.startswith(prompt):
        return query[len(prompt):]
    overlap = tail_overlap(prompt, query)
    if overlap < MIN_PROMPT_TAIL:  # a cut prompt keeps --prompt_max_len tokens: a few characters are chance
        raise HTTPException(422, f"query[{i}] starts with no part of prompts[{i}]: send the query as prompt + "
                                 "response (OpenRLHF: --prompt_max_len at least the longest prompt, so that it "
                                 "cuts none)")
    return query[overlap:]


def tail_overlap(prompt: str, query: str) -> int:
    """The length of the longest end of `prompt` that is a start of `query` (the prefix function of
    query + NUL + prompt: linear time, for prompts of any length)."""
    text = query + "\0" + prompt
    border = [0] * len(text)
    for k in range(1, len(text)):
        b = border[k - 1]
        while b and text[k] != text[b]:
            b = border[b - 1]
        border[k] = b + (text[k] == text[b])
    return min(border[-1], len(query))


async def invalid(request, exc):
    """422 with each error's location and reason, without the offending input (which may not even be
    encodable)."""
    return JSONResponse({"detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                                    for e in exc.errors()]}, status_code=422)


async def http_error(request, exc):
    """A body that is JSON by the grammar but that Python's parser refuses (nesting past its recursion
    limit, an integer over 4,300 digits) is malformed input like any other: 422, not FastAPI's 400."""
    if exc.status_code == 400 and isinstance(exc.__cause__, (RecursionError, ValueError)):
        return JSONResponse({"detail": [{"loc": ["body"], "msg": f"JSON this server cannot read: {exc.__cause__}"[:300],
                                         "type": "json_invalid"}]}, status_code=422)
    return await http_exception_handler(request, exc)


async def overloaded(request, exc):
    return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})


async def too_large_request(request, exc):
    return JSONResponse({"detail": str(exc)}, status_code=413)
