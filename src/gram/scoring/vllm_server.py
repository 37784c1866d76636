"""The generative judge over a running vLLM OpenAI-compatible server: a `vllm serve` of a GRAM checkpoint,
or verl's reward-model servers behind their router (`reward_router_address`, "ip:port").

gram renders and tokenizes every order itself (gram.scoring.judge.encode_orders: template, truncation,
marker neutralisation, the ids the other engines read) and sends the token ids to `/v1/completions`
with one token to write and the two label tokens' log-probabilities asked for by id (vLLM's
`logprob_token_ids`: log-softmax over the whole vocabulary; `return_tokens_as_token_ids` names them
`token_id:N`, so no detokenising can confuse them). With l_A, l_B those,

    P(A) = 1 / (1 + exp(l_B - l_A)) = softmax(z_A, z_B)[A]

as in gram.scoring.vllm_judge. All orders of a call go in one request (the server batches them with every
other request and reuses their shared prefix when it caches prefixes).

    judge = ServerJudge("127.0.0.1:8000", tokenizer)
    judge.compare("What is 2+2?", "4", "5").score_a      # or: await judge.acompare_many(pairs)
"""

from __future__ import annotations

import asyncio

from ..errors import ServerError
from ..http import loop_client
from ..templates import trained_template
from .judge import LabelJudge
from .transformers_engine import end_ids


class ServerJudge(LabelJudge):
    """GRAM's one-token judge (gram.scoring.judge.LabelJudge) whose model runs in a vLLM OpenAI-compatible
    server (ServerEngine): `compare_many` blocks, `await acompare_many(...)` for asyncio callers such as
    verl's reward loop. `model`: the served model's name (None: the first the server lists at /v1/models)."""

    def __init__(self, address: str, tokenizer, *, model: str | None = None, template: str | None = None,
                 max_length: int | None = 2048, timeout_s: float = 300.0, headers: dict | None = None):
        engine = ServerEngine(address, tokenizer, model=model, timeout_s=timeout_s, headers=headers)
        super().__init__(engine, tokenizer, max_length=max_length,
                         template=template or trained_template(getattr(tokenizer, "name_or_path", "") or "."))


class ServerEngine:
    """A judge's two operations (gram.scoring.judge.LabelJudge, gram.scoring.reasoning.ReasoningJudge) on a
    vLLM OpenAI-compatible server, such as verl's reward-model servers:

        sample:        one /v1/completions request per rationale, with its own `seed` (vLLM draws each
                       request from its own generator, so a rationale does not depend on what else the
                       server runs), the written ids read back as `token_id:N`
        label_scores:  one request for all sequences, one token each, the label tokens' log-probabilities
                       asked for by id (`logprob_token_ids`); P(A) is their two-way softmax

    `concurrency`: requests in flight at once. Each operation is bounded by `timeout_s` as a whole.
    asyncio callers `await asample(...)` / `alabel_scores(...)`; blocking callers (not on an event loop's
    thread) call `sample` / `label_scores`."""

    def __init__(self, address: str, tokenizer, *, model: str | None = None, timeout_s: float = 300.0,
                 headers: dict | None = None, concurrency: int = 64):
        self.base = base_url(address)
        self.stop_ids = sorted(end_ids(tokenizer))
        self.model, self.timeout_s, self.headers, self.concurrency = model, timeout_s, headers or {}, concurrency

    async def asample(self, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float,
                      top_p: float) -> list[list[int]]:
        # every sampling setting said, so that a server filling what a request leaves out from the
        # checkpoint's generation_config.json (vLLM's --generation-config auto) samples as the other engines
        bodies = [{"prompt": ids, "max_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                   "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
                   "frequency_penalty": 0.0, "seed": seed % 2**63, "stop_token_ids": self.stop_ids, "logprobs": 0,
                   "return_tokens_as_token_ids": True} for ids, seed in zip(prompts, seeds)]
        return [written_ids(self.base, reply) for reply in await self.post(bodies)]

    async def alabel_scores(self, sequences: list[list[int]], label_ids: list[int]) -> list[tuple[float, float]]:
        body = {"prompt": sequences, "max_tokens": 1, "temperature": 0.0, "logprobs": 1,
                "logprob_token_ids": list(label_ids), "return_tokens_as_token_ids": True}
        (reply,) = await self.post([body])
        return label_logprobs(self.base, reply, len(sequences), label_ids)

    def sample(self, *args) -> list[list[int]]:
        return run_blocking(self.asample(*args))

    def label_scores(self, sequences: list[list[int]], label_ids: list[int], **_) -> list[tuple[float, float]]:
        return run_blocking(self.alabel_scores(sequences, label_ids))

    async def post(self, bodies: list[dict]) -> list[dict]:
        """The completions replies to `bodies`, in order, within timeout_s for all of them (on the event
        loop's own client, gram.http.loop_client)."""
        import httpx

        limit, client = asyncio.Semaphore(self.concurrency), loop_client()
        sent = {"headers": self.headers, "timeout": self.timeout_s}

        async def one(body: dict) -> dict:
            async with limit:
                reply = await client.post(self.base + "/v1/completions", json={"model": self.model, **body}, **sent)
            return answer(self.base, reply)

        async def every() -> list[dict]:
            if self.model is None:
                self.model = served_model(answer(self.base, await client.get(self.base + "/v1/models", **sent)))
            tasks = [asyncio.ensure_future(one(body)) for body in bodies]
            try:
                return await asyncio.gather(*tasks)
            finally:  # one failing: the others are not left running
                for task in tasks:
                    task.cancel()

        try:
            return await asyncio.wait_for(every(), self.timeout_s)
        except (TimeoutError, asyncio.TimeoutError):
            raise ServerError(f"the judge server at {self.base} did not answer within {self.timeout_s} s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise unreachable(self.base, err) from None


def run_blocking(coroutine):
    """A coroutine's result for a blocking caller: on its own event loop, in a helper thread where the
    caller's thread runs one already (a notebook, sync code called from a loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="gram-server") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def base_url(address: str) -> str:
    """A server's base URL from "ip:port" (as verl's router gives it) or a URL."""
    return (address if "://" in address else "http://" + address).rstrip("/")


def unreachable(base: str, err: Exception) -> ServerError:
    """A transport failure (nothing listening, a reset, a bad URL) as one ServerError naming the server."""
    return ServerError(f"the judge server at {base}: {type(err).__name__}: {err}")


def answer(base: str, reply) -> dict:
    """A server's reply as a JSON object, or a ServerError naming the server, the status and the path."""
    if reply.status_code != 200:
        raise ServerError(f"the judge server at {base} answered {reply.status_code} to "
                          f"{reply.request.url.path}: {reply.text[:300]}")
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ServerError(f"the judge server at {base} answered {reply.status_code} to "
                          f"{reply.request.url.path} with no JSON object: {reply.text[:100]!r}")
    return body


def choices(base: str, reply: dict, n: int) -> list[dict]:
    """A completions reply's n choices, in prompt order."""
    listed = reply.get("choices")
    listed = listed if isinstance(listed, list) and all(isinstance(c, dict) for c in listed) else []
    if len(listed) != n:
        raise ServerError(f"the judge server at {base} returned {len(listed)} completions for {n} prompts")
    try:
        return sorted(listed, key=lambda c: int(c.get("index", 0)))
    except (TypeError, ValueError):
        raise ServerError(f"the judge server at {base} numbered its completions with something other than "
                          f"integers: {str([c.get('index') for c in listed])[:100]}") from None


def label_logprobs(base: str, reply: dict, n: int, label_ids) -> list[tuple[float, float]]:
    """(log P(A), log P(B)) at each of n prompts' ends, in prompt order, from a completions reply."""
    a, b = (f"token_id:{i}" for i in label_ids)
    out = []
    for i, choice in enumerate(choices(base, reply, n)):
        top = ((choice.get("logprobs") or {}).get("top_logprobs") or [{}])[0] or {}
        if a not in top or b not in top:
            raise ServerError(f"judge prompt {i}: the server returned no log-probabilities for the label tokens "
                              f"{list(label_ids)} (got {sorted(top)[:4]}); it needs vLLM's logprob_token_ids")
        out.append((top[a], top[b]))
    return out


def written_ids(base: str, reply: dict) -> list[int]:
    """The token ids one completion wrote, read from its `token_id:N` log-probability tokens (no
    detokenising: the ids the model wrote, as the other engines return them)."""
    tokens = (choices(base, reply, 1)[0].get("logprobs") or {}).get("tokens")
    try:
        return [int(t.removeprefix("token_id:")) for t in tokens]
    except (TypeError, ValueError, AttributeError):
        raise ServerError(f"the judge server at {base} did not name the tokens it wrote as token_id:N (got "
                          f"{str(tokens)[:100]}); it needs vLLM's return_tokens_as_token_ids") from None


def served_model(listing: dict) -> str:
    """The first model a /v1/models listing names."""
    try:
        return listing["data"][0]["id"]
    except (KeyError, IndexError, TypeError):
        raise ServerError(f"the judge server lists no model at /v1/models: {str(listing)[:200]}") from None
