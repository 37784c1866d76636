"""The generative judge on vLLM's async engine (`AsyncLLM`), for `gram serve --engine vllm`: every call's
prompts join the engine as they come, beside the calls already running in it (continuous batching), and a
call cancelled (its client left, its deadline passed) aborts its prompts in the engine. Prompts, token ids
and P(A) are gram.scoring.vllm_judge's: the same `encode_orders` ids, the same label-token read-out.
`--data-parallel-size N` runs N engine replicas behind this one client.

    judge = AsyncVLLMJudge.load("runs/stage2")
    scores = await judge.acompare_many(pairs)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Sequence

from ..records import Pair
from .base import PairScore, as_pairs, check_orders, pair_scores
from .judge import encode_orders
from .vllm_judge import VLLMJudge, label_p_a

_request_ids = itertools.count()


class AsyncVLLMJudge(VLLMJudge):
    """VLLMJudge on `vllm.v1.engine.async_llm.AsyncLLM`; scores with `await acompare_many(...)`."""

    offline = False

    @staticmethod
    def start_engine(vllm, arguments: dict):
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**arguments))

    def close(self) -> None:
        self.llm.shutdown()

    def compare_many(self, pairs, orders: str = "both", batch_size: int | None = None, progress=None):
        raise TypeError("AsyncVLLMJudge scores inside an event loop: await judge.acompare_many(pairs)")

    async def acompare_many(self, pairs: Iterable[Pair | Sequence], orders: str = "both") -> list[PairScore]:
        """Scores for many pairs, in input order; every order of every pair is a request of its own."""
        check_orders(orders)
        pairs = as_pairs(pairs)
        # tokenizing off the event loop, which serves the other requests meanwhile
        sequences, truncated, _ = await asyncio.to_thread(encode_orders, self.tokenizer, pairs, orders,
                                                          self.max_length, self.template)
        async with asyncio.TaskGroup() as group:  # one prompt failing cancels the others in the engine
            tasks = [group.create_task(self._final(ids)) for ids in sequences]
        p_a = [label_p_a(t.result(), self.label_ids, i) for i, t in enumerate(tasks)]
        return pair_scores(pairs, p_a, truncated, 2 if orders == "both" else 1)

    async def _final(self, ids: list[int]):
        return await final_output(self.llm, ids, self.sampling)


async def final_output(llm, ids: list[int], params):
    """The async engine's last output for one prompt (`ids`) under `params`."""
    final = None
    async for output in llm.generate({"prompt_token_ids": ids}, params, request_id=f"gram-{next(_request_ids)}"):
        final = output
    return final
