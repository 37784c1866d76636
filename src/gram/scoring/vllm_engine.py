"""A judge's two operations on vLLM's engines, for every protocol (gram.scoring.judge's one-token judge,
gram.scoring.reasoning's reasoning judges): the offline engine (`vllm.LLM`) and the async one (`AsyncLLM`,
for `gram serve --engine vllm`; a call cancelled aborts its requests there). Both read the ids gram
renders and tokenizes itself, so they read what the transformers engine reads.

    label_scores:  log P(A), log P(B) at the end of each sequence (SamplingParams(max_tokens=1,
                   logprob_token_ids=[A, B]): log-softmax over the whole vocabulary, before any logits
                   processor); their two-way softmax is P(A), the normaliser cancelling:
                   exp(l_A) / (exp(l_A) + exp(l_B)) = softmax(z_A, z_B)[A]
    sample:        one request per (pair, order, sample), SamplingParams(seed=its seed, temperature, top_p,
                   max_tokens=the thinking budget): vLLM draws each request from its own generator, so a
                   pair's rationale does not depend on its batch
"""

from __future__ import annotations

import asyncio
import itertools

from ..model import backbone
from .transformers_engine import end_ids
from .vllm_start import engine_reason, import_vllm

_request_ids = itertools.count()


class VLLMEngine:
    """Both operations on vLLM's offline engine (`vllm.LLM`): every call's prompts go to the engine at once.
    `name`: the model, for errors; `log`: the engine's log file (gram.scoring.vllm_start.engine_log)."""

    def __init__(self, llm, tokenizer, name: str = "the model", log=None):
        self.llm, self.tokenizer, self.name, self.log = llm, tokenizer, name, log
        self.stop_ids = sorted(end_ids(tokenizer))

    def generate(self, prompts: list[list[int]], params) -> list:
        from vllm.v1.engine.exceptions import EngineDeadError

        try:
            return self.llm.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)
        except EngineDeadError as err:  # the reason is in the engine's log
            raise backbone.BackboneError(f"the vLLM engine could not run {self.name}: {engine_reason(self.log, err)}"
                                         ) from None

    def sample(self, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float,
               top_p: float) -> list[list[int]]:
        params = sampling(self.stop_ids, seeds, max_new_tokens, temperature, top_p)
        return [list(o.outputs[0].token_ids) for o in self.generate(prompts, params)]

    def label_scores(self, sequences: list[list[int]], label_ids: list[int], **_) -> list[tuple[float, float]]:
        return [label_logprobs(o, label_ids) for o in self.generate(sequences, label_sampling(label_ids))]

    def close(self) -> None:
        """Stop the engine's process now (it stops by itself when this process exits)."""
        self.llm.llm_engine.engine_core.shutdown()


class AsyncVLLMEngine:
    """The same two operations on vLLM's async engine: every sequence is a request of its own, joining the
    engine beside the requests already in it; a call cancelled aborts its requests there."""

    def __init__(self, llm, tokenizer, name: str = "the model", log=None):
        self.llm, self.tokenizer, self.name, self.log = llm, tokenizer, name, log
        self.stop_ids = sorted(end_ids(tokenizer))

    async def asample(self, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float,
                      top_p: float) -> list[list[int]]:
        params = sampling(self.stop_ids, seeds, max_new_tokens, temperature, top_p)
        return [list(o.outputs[0].token_ids) for o in await self.outputs(prompts, params)]

    async def alabel_scores(self, sequences: list[list[int]], label_ids: list[int]) -> list[tuple[float, float]]:
        params = label_sampling(label_ids)
        return [label_logprobs(o, label_ids) for o in await self.outputs(sequences, [params] * len(sequences))]

    async def outputs(self, prompts: list[list[int]], params: list) -> list:
        async with asyncio.TaskGroup() as group:  # one failing cancels the others in the engine
            tasks = [group.create_task(final_output(self.llm, ids, p)) for ids, p in zip(prompts, params)]
        return [t.result() for t in tasks]

    def close(self) -> None:
        self.llm.shutdown()


def sampling(stop_ids: list[int], seeds: list[int], max_new_tokens: int, temperature: float, top_p: float) -> list:
    """One SamplingParams per rationale, each with its own seed (its own generator in the engine)."""
    vllm = import_vllm()
    return [vllm.SamplingParams(n=1, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                                seed=seed % 2**63, stop_token_ids=stop_ids) for seed in seeds]


def label_sampling(label_ids: list[int]):
    return import_vllm().SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=list(label_ids))


def label_logprobs(output, label_ids: list[int]) -> tuple[float, float]:
    """log P(A), log P(B) at the end of one sequence: their two-way softmax is P(A), as the logits' is."""
    a, b = label_ids
    top = output.outputs[0].logprobs[0]
    return top[a].logprob, top[b].logprob


async def final_output(llm, ids: list[int], params):
    """The async engine's last output for one prompt (`ids`) under `params`."""
    final = None
    async for output in llm.generate({"prompt_token_ids": ids}, params, request_id=f"gram-{next(_request_ids)}"):
        final = output
    return final
