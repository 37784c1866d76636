"""One entry point from a model name to the scorer it needs.

    judge = load_judge("runs/stage2")     # a causal LM: the generative GRAM judge
    judge = load_judge("runs/bt")         # a sequence-classification checkpoint: the Bradley-Terry judge
    judge = load_judge("runs/stage2", engine="vllm", tensor_parallel_size=2)   # the same judge on vLLM
"""

from __future__ import annotations

import re
from pathlib import Path

from ..model import backbone
from .base import Scorer

REASONING_NAMES = re.compile(r"gram-?(rr|r\^?2)\b", re.IGNORECASE)


def reasoning_protocol(name: str) -> str | None:
    """The protocol a reward-reasoning checkpoint is read with, known by its name
    (wangclnlp/GRAM-RR-LLaMA-3.2-3B-RewardModel, ...-3.1-8B-...) or its model card: GRAM-R^2 writes a
    rationale before its verdict, so the first token it writes is not `A` or `B`. None for other models."""
    card = Path(name).expanduser() / "README.md"
    text = card.read_text(errors="replace")[:20000] if card.is_file() else ""
    return "gram-rr" if REASONING_NAMES.search(Path(name).name) or "GRAM-R^2" in text or "GRAM-RR" in text else None


ENGINES = ("transformers", "vllm")


def load_judge(name: str = backbone.DEFAULT_MODEL, device=None, dtype=None, *, max_length: int | None = 2048,
               batch_size: int = 8, max_batch_tokens: int | None = None, template: str | None = None,
               reuse_prefix: bool = True, engine: str = "transformers", asynchronous: bool = False,
               reasoning: dict | None = None, **engine_options) -> Scorer:
    """The scorer for a model name, by its architecture, on `engine`: "transformers" (gram's own loop) or
    "vllm" (gram.scoring.vllm_judge; `engine_options`: tensor_parallel_size, data_parallel_size,
    gpu_memory_utilization, max_model_len, enforce_eager, kv_cache_memory_bytes). `template` and
    `reuse_prefix` are the generative judge's (a reward model reads each response on its own, with no judge
    prompt); `template` None: the one gram trained the model with, else the reference evaluation prompt
    (judge.trained_template). `asynchronous`: on vLLM, the async engine (gram.scoring.vllm_judge.AsyncVLLMJudge, for a
    server: `await judge.acompare_many(...)`); the transformers judge is the same either way. `reasoning`:
    gram.scoring.protocols.ReasoningOptions' fields (a protocol reads the model as a reasoning judge,
    gram.scoring.reasoning; GRAM-RR checkpoints get gram-rr without being told)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    reasoning = dict(reasoning or {})
    reasoning["protocol"] = reasoning.get("protocol") or reasoning_protocol(name)
    if reasoning["protocol"]:
        return load_reasoning_judge(name, engine, device, dtype, batch_size, max_length, reasoning, engine_options,
                                    asynchronous)
    if engine == "vllm":
        from .vllm_judge import AsyncVLLMJudge, VLLMJudge
        from .vllm_start import EngineOptions

        return (AsyncVLLMJudge if asynchronous else VLLMJudge).load(name, dtype=dtype, max_length=max_length, template=template,
                              options=EngineOptions(**engine_options))
    if engine_options:
        raise ValueError(f"{', '.join(engine_options)}: options of --engine vllm, not of transformers")
    from .judge import Judge  # here, not above: `gram --help` imports this module, not torch
    from .reward_model import RewardModelJudge

    common = {"max_length": max_length, "batch_size": batch_size, "max_batch_tokens": max_batch_tokens}
    if backbone.is_reward_model(backbone.resolve(name)):
        return RewardModelJudge.load(name, device=device, dtype=dtype, **common)
    return Judge.load(name, device=device, dtype=dtype, template=template, reuse_prefix=reuse_prefix, **common)


def load_reasoning_judge(name: str, engine: str, device, dtype, batch_size: int, max_length: int | None,
                         reasoning: dict, engine_options: dict, asynchronous: bool = False) -> Scorer:
    """A reasoning judge (gram.scoring.reasoning) on transformers, or on vLLM's offline engine (its async
    engine where `asynchronous`)."""
    from .protocols import judge_kwargs

    reasoning = judge_kwargs(reasoning)
    if engine == "vllm":
        from .vllm_reasoning import load_vllm_reasoning_judge
        from .vllm_start import EngineOptions

        return load_vllm_reasoning_judge(name, dtype=dtype, max_length=max_length,
                                         options=EngineOptions(**engine_options), asynchronous=asynchronous,
                                         **reasoning)
    from .reasoning import ReasoningJudge

    return ReasoningJudge.load(name, device=device, dtype=dtype, batch_size=batch_size, max_length=max_length,
                               **reasoning)
