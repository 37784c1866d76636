"""The generative judge on vLLM: the same prompts and the same P(A) as gram.scoring.judge, computed by the
engine people serve models with (paged KV cache, continuous batching, automatic prefix caching, tensor
parallelism).

gram renders and tokenizes every order itself (gram.scoring.judge.encode_orders: template, truncation,
marker neutralisation) and hands vLLM token ids, so both engines read identical prompts. vLLM generates
one token per prompt and returns the log-probabilities of exactly the two label tokens
(`SamplingParams(logprob_token_ids=[A, B])`, log-softmax over the whole vocabulary, before any logits
processor); with l_A, l_B those,

    P(A) = exp(l_A) / (exp(l_A) + exp(l_B)) = 1 / (1 + exp(l_B - l_A)) = softmax(z_A, z_B)[A]

because the log-softmax's normaliser cancels. Both orders and all pairs of a call go to the engine
together, so a prompt's template head and question are computed once (prefix caching).

    judge = VLLMJudge.load("smollm2-135m", dtype="bfloat16")
    judge.compare("What is 2+2?", "4", "5").score_a
"""

from __future__ import annotations

from ..model import backbone
from ..templates import trained_template
from .judge import LabelJudge
from .vllm_start import (
    EngineOptions,
    cpu_parallel_hint,
    engine_arguments,
    engine_log,
    engine_reason,
    import_vllm,
    started,
)


class VLLMJudge(LabelJudge):
    """GRAM's one-token judge (gram.scoring.judge.LabelJudge) on a vLLM engine it starts: offline
    (`vllm.LLM`, gram.scoring.vllm_engine.VLLMEngine); AsyncVLLMJudge on the async engine."""

    score_chunk = 256  # pairs a file job hands over at a time (gram.jobs.runner): the engine batches them
    offline = True  # vllm.LLM; AsyncVLLMJudge: the async engine

    @classmethod
    def load(cls, name: str = backbone.DEFAULT_MODEL, dtype=None, *, max_length: int | None = 2048,
             template: str | None = None, options: EngineOptions | None = None) -> VLLMJudge:
        """The judge of a causal-LM checkpoint on a new engine (its start takes seconds to minutes)."""
        vllm = import_vllm()
        path = backbone.resolve(name)
        if backbone.is_reward_model(path):
            raise backbone.BackboneError(f"{name} is a Bradley-Terry reward model: --engine vllm serves generative "
                                         "judges; score it with --engine transformers")
        tokenizer = backbone.load_tokenizer(name)
        if max_length is None:  # no cap below the model's context, as the transformers judge
            max_length = getattr(tokenizer, "model_max_length", None)
            max_length = max_length if isinstance(max_length, int) and max_length < 10**7 else None
        arguments = engine_arguments(path, dtype, max_length, options or EngineOptions(), offline=cls.offline)
        log = engine_log()
        try:
            llm = started(lambda: cls.start_engine(vllm, arguments), log)
        except (ValueError, RuntimeError) as err:  # a setting the engine refuses, memory it cannot reserve
            raise backbone.BackboneError(f"vLLM could not start {name}: {engine_reason(log, err)}"
                                         + cpu_parallel_hint(arguments)) from None
        engine = cls.engine_class()(llm, tokenizer, name=name, log=log)
        judge = cls(engine, tokenizer, max_length=max_length, template=template or trained_template(path))
        judge.name, judge.log, judge.dtype, judge.llm = name, log, arguments["dtype"], llm
        return judge

    @staticmethod
    def engine_class():
        from .vllm_engine import VLLMEngine

        return VLLMEngine

    @staticmethod
    def start_engine(vllm, arguments: dict):
        return vllm.LLM(**arguments)


class AsyncVLLMJudge(VLLMJudge):
    """The one-token judge on vLLM's async engine (`AsyncLLM`), for `gram serve --engine vllm`: every call's
    prompts join the engine as they come, beside the calls already running in it (continuous batching), and
    a call cancelled (its client left, its deadline passed) aborts its prompts in the engine. Scores with
    `await acompare_many(...)`. `--data-parallel-size N` runs N engine replicas behind this one client."""

    offline = False

    @staticmethod
    def engine_class():
        from .vllm_engine import AsyncVLLMEngine

        return AsyncVLLMEngine

    @staticmethod
    def start_engine(vllm, arguments: dict):
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**arguments))
