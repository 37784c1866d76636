"""The generative judge: P(A) from the two label logits at the last position, in both orders.

For a pair (a, b) the model reads the judge prompt with a first, then with b first; with z = (z_A, z_B)
the label-token logits at the last position, p_a_ab = softmax(z | a first)[A], p_a_ba = softmax(z | b
first)[A], and score_a = (p_a_ab + 1 - p_a_ba) / 2 (gram.scoring.base). (The reference demo normalises
the softmax over the wrong axis; here it is over the two labels of one sequence.)

LabelJudge is that read-out over any engine offering the label tokens' scores at the end of given
sequences: `label_scores` (blocking: transformers, vLLM's offline engine, a vLLM server) or
`alabel_scores` (a coroutine: vLLM's async engine, a vLLM server). Judge, VLLMJudge, AsyncVLLMJudge and
ServerJudge only build their engine; every one scores through LabelJudge.compare_many / acompare_many.

    judge = Judge.load("smollm2-135m")
    judge.compare("What is 2+2?", "4", "5").score_a
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import torch

from ..model import backbone
from ..records import Pair, prompt_key
from ..templates import (
    encode_judge,
    judge_template,
    label_token_ids,
    template_head,
    trained_template,
)
from .base import CompareOne, PairScore, as_pairs, check_orders, pair_scores
from .transformers_engine import TransformersEngine


def context_length(model) -> int | None:
    """The positions a model was built for (config.max_position_embeddings), or None if it does not say."""
    n = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return n if isinstance(n, int) and n > 0 else None


def encode_orders(tokenizer, pairs: list[Pair], orders: str, max_length: int | None, template: str):
    """The token ids the judge reads for each pair: (a, b), then (b, a) with orders "both"; whether each
    pair was shortened; and the sequences of each prompt (they share its question). Every engine reads
    these same ids."""
    sequences, truncated, groups = [], [], {}
    for p in pairs:
        groups.setdefault(prompt_key(p.prompt), []).append(len(sequences))
        ab = encode_judge(tokenizer, p.prompt, p.response_a, p.response_b, max_length, template)
        sequences.append(ab.input_ids)
        cut = ab.truncated
        if orders == "both":
            ba = encode_judge(tokenizer, p.prompt, p.response_b, p.response_a, max_length, template)
            groups[prompt_key(p.prompt)].append(len(sequences))
            sequences.append(ba.input_ids)
            cut = cut or ba.truncated
        truncated.append(cut)
    return sequences, truncated, list(groups.values())


def two_way_p_a(z: list[tuple[float, float]]) -> list[float]:
    """P(A) = softmax(z_A, z_B)[A] for each (z_A, z_B): logits or log-probabilities of the label tokens alike
    (a log-softmax differs from the logits by one constant per row). A non-finite one stays non-finite
    (gram.scoring.base.check_finite names its pair)."""
    if not z:
        return []
    return torch.softmax(torch.tensor(z, dtype=torch.float64), dim=-1)[:, 0].tolist()  # no saturation at 1


class Progress:
    """Advances a tqdm-like bar by pairs as an engine reports sequences scored (`per_pair` per pair)."""

    def __init__(self, bar, per_pair: int):
        self.bar, self.per_pair, self.done = bar, per_pair, 0

    def __call__(self, sequences: int) -> None:
        self.done += sequences
        if self.bar is not None:
            self.bar.update(sequences / self.per_pair)

    def finish(self, sequences: int) -> None:
        """The rest, for an engine that scores everything in one call and reports nothing."""
        if sequences > self.done:
            self(sequences - self.done)


class LabelJudge(CompareOne):
    """GRAM's one-token judge over an engine (module docstring). Implements gram.scoring.base.Scorer where
    the engine blocks (`compare_many`); `await acompare_many(...)` on any engine (one that blocks runs in a
    worker thread)."""

    score_chunk: int | None = None  # pairs a file job hands over at a time (None: gram.jobs.runner's default)

    def __init__(self, engine, tokenizer, *, max_length: int | None = 2048, template: str | None = None,
                 batch_size: int = 8):
        self.engine, self.tokenizer = engine, tokenizer
        self.label_ids = list(label_token_ids(tokenizer))
        self.max_length, self.batch_size = max_length, batch_size
        self.template = judge_template(template)

    @property
    def asynchronous(self) -> bool:
        """Whether the engine offers its scores as coroutines: a server batches this judge's calls continuously."""
        return hasattr(self.engine, "alabel_scores")

    def encode(self, pairs, orders: str):
        """The pairs, the ids of each order (gram.scoring.judge.encode_orders), whether each pair was cut,
        and the sequences of each prompt."""
        check_orders(orders)
        pairs = as_pairs(pairs)
        return (pairs, *encode_orders(self.tokenizer, pairs, orders, self.max_length, self.template))

    def compare_many(self, pairs: Iterable[Pair | Sequence], orders: str = "both", batch_size: int | None = None,
                     progress=None) -> list[PairScore]:
        """Scores for many pairs, in input order. `batch_size`: pairs per forward pass where the engine
        batches (transformers; vLLM and servers batch everything they are given). `progress`: a tqdm-like
        bar advanced per pair."""
        if not hasattr(self.engine, "label_scores"):
            raise TypeError(f"{type(self.engine).__name__} scores inside an event loop: await judge.acompare_many(pairs)")
        pairs, sequences, truncated, groups = self.encode(pairs, orders)
        per_pair = 2 if orders == "both" else 1
        scored = Progress(progress, per_pair)
        z = self.engine.label_scores(sequences, self.label_ids, rows_per_batch=(batch_size or self.batch_size) * per_pair,
                                     groups=groups, on_scored=scored)
        scored.finish(len(sequences))
        return pair_scores(pairs, two_way_p_a(z), truncated, per_pair)

    async def acompare_many(self, pairs: Iterable[Pair | Sequence], orders: str = "both") -> list[PairScore]:
        """`compare_many` for asyncio callers: every sequence joins the engine at once (an async engine batches
        it with everything else it runs; a call cancelled aborts its requests there)."""
        if not hasattr(self.engine, "alabel_scores"):
            return await asyncio.to_thread(self.compare_many, pairs, orders)
        # tokenizing off the event loop, which serves other requests meanwhile
        pairs, sequences, truncated, _ = await asyncio.to_thread(self.encode, pairs, orders)
        z = await self.engine.alabel_scores(sequences, self.label_ids)
        return pair_scores(pairs, two_way_p_a(z), truncated, 2 if orders == "both" else 1)

    def close(self) -> None:
        """Ends the engine's processes where it has its own (vLLM's engines)."""
        if hasattr(self.engine, "close"):
            self.engine.close()


class Judge(LabelJudge):
    """A causal LM used as a pairwise judge on transformers. Loads once; scores any number of pairs in batches
    (gram.scoring.transformers_engine: length-sorted batches, the template head and each question run once)."""

    def __init__(self, model, tokenizer, max_length: int | None = 2048, batch_size: int = 8,
                 template: str | None = None, max_batch_tokens: int | None = None, reuse_prefix: bool = True):
        template = judge_template(template)
        engine = TransformersEngine(model, tokenizer, max_batch_tokens=max_batch_tokens,
                                    head=template_head(tokenizer, template) if reuse_prefix else None)
        # None: no truncation below the model's context; a pair over the context is shortened to it
        super().__init__(engine, tokenizer, max_length=max_length if max_length is not None else context_length(model),
                         template=template, batch_size=batch_size)
        self.model = engine.model

    @classmethod
    def load(cls, name: str = backbone.DEFAULT_MODEL, device=None, dtype=None, **kwargs):
        """The generative judge of a causal-LM checkpoint (`gram.load_judge` picks the kind of judge a
        checkpoint needs). A sequence-classification checkpoint is refused: read as a causal LM, its new
        LM head would judge at random."""
        if backbone.is_reward_model(backbone.resolve(name)):
            raise backbone.BackboneError(f"{name} is a Bradley-Terry reward model, not a generative judge: load "
                                         "it with gram.load_judge (or RewardModelJudge.load)")
        model, tokenizer = backbone.load(name, device=device, dtype=dtype)
        if kwargs.get("template") is None:
            kwargs["template"] = trained_template(backbone.resolve(name))
        return cls(model, tokenizer, **kwargs)

    @property
    def device(self) -> torch.device:
        return self.engine.device

    @property
    def max_batch_tokens(self) -> int | None:
        return self.engine.max_batch_tokens

    @property
    def reuse_prefix(self) -> bool:
        return self.engine.reuse_prefix
