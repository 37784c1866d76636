"""Reasoning judges (GRAM-R², RM-R1, Prometheus 2; gram.scoring.protocols) on the transformers engine: a
rationale first, then the verdict, read two ways.

For each pair, order (a first, then b first) and sample j < k, the model writes a rationale from the
protocol's prompt (seeded per pair, order and sample: a pair's rationales do not depend on its batch),
up to `max_think_tokens`. Then

    hard:  v_j = the protocol's parse of what it wrote ("A", "B", or None: no verdict, never a silent "B")
    soft:  p_j = softmax(z_A, z_B)[A], z the label-token logits at the label position: the rationale
           cut just after the protocol's label opening (`<answer>\n` for GRAM-R²), or, where the budget
           ran out first, closed and opened by gram (a forced answer, flagged `think_truncated`; its hard
           verdict is the larger of the two logits). A rationale that ended without an answer is read
           at the same forced position, and its hard verdict is None (counted in `no_verdict`)
    p_a_ab = mean_j p_j (a first),  p_a_ba = mean_j p_j (b first),  score_a = (p_a_ab + 1 - p_a_ba) / 2

so ranking, Bradley-Terry strengths and rewards read a reasoning judge as they read GRAM's one-token judge
(score_a + score_b = 1), and the hard verdicts vote: votes_a counts the samples that picked response a
in either order.

    judge = ReasoningJudge(model, tokenizer, PROTOCOLS["gram-rr"], samples=4, max_think_tokens=256)
    judge.compare("What is 2+2?", "4", "5").votes_a
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..model import backbone
from ..records import Pair
from ..templates import fit_pair, user_fields
from .base import CompareOne, PairScore, as_pairs, check_finite, check_orders
from .judge import two_way_p_a
from .protocols import PROTOCOLS, Protocol, label_reading
from .transformers_engine import TransformersEngine


@dataclass(frozen=True)
class ReasonedScore(PairScore):
    votes_a: int = 0  # samples whose verdict picked response a (either order)
    votes_b: int = 0
    no_verdict: int = 0  # samples whose text held no verdict the protocol could read
    think_truncated: int = 0  # rationales the thinking budget cut (their answer was forced)
    rationales: tuple | None = None  # per order (ab, then ba), per sample: what the model wrote

    FIELDS = PairScore.FIELDS + ("verdict", "votes_a", "votes_b", "no_verdict", "think_truncated", "rationales")

    @property
    def verdict(self) -> str:
        """The hard verdicts' majority: "a", "b" or "tie"."""
        return "a" if self.votes_a > self.votes_b else "b" if self.votes_b > self.votes_a else "tie"

    @classmethod
    def from_fields(cls, row: dict) -> ReasonedScore:
        return cls(row["score_a"], row["score_b"], row["p_a_ab"], row["p_a_ba"], row["truncated"], row["votes_a"],
                   row["votes_b"], row["no_verdict"], row["think_truncated"],
                   tuple(tuple(r) for r in row["rationales"]) if row.get("rationales") is not None else None)


def sample_seed(seed: int, pair: Pair, order: str, j: int) -> int:
    """A seed from the pair's own content, its order and sample number: the same wherever it is scored."""
    text = json.dumps([seed, pair.prompt, pair.response_a, pair.response_b, order, j], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@dataclass
class Reading:
    """One rationale and what was read from it."""

    text: str
    p_a: float
    verdict: str | None  # "A", "B" or None
    forced: bool  # the thinking budget ran out before the label position: gram closed the rationale
    truncated: bool  # the judge prompt was shortened to max_length (gram.templates.fit_pair)


class ReasoningJudge(CompareOne):
    """A judge reading a reasoning protocol (gram.scoring.protocols) over an engine whose two operations
    block (`sample`, `label_scores`: gram.scoring.transformers_engine, vLLM's offline engine in
    gram.scoring.vllm_engine, a vLLM server) or are coroutines (`asample`, `alabel_scores`: vLLM's async
    engine, `gram serve --engine vllm`; a vLLM server, verl's reward-model servers). Implements
    gram.scoring.base.Scorer where they block (`compare_many`); `await acompare_many(...)` on any engine.
    Both share the prompts, seeds and read-out, so they give the same scores. Its scores are ReasonedScore."""

    def __init__(self, model, tokenizer, protocol: Protocol, *, samples: int = 1, temperature: float | None = None,
                 top_p: float | None = None, max_think_tokens: int | None = None, seed: int = 0,
                 keep_rationales: bool = True, batch_size: int = 8, max_length: int | None = 2048, engine=None):
        """`model`: a transformers causal LM (its TransformersEngine), or None with `engine` given.
        `max_length`: tokens of judge prompt; longer pairs lose the middles of their responses, then of the
        prompt, as for the one-token judge (the rationale's budget comes on top)."""
        self.max_length = max_length
        self.engine = engine or TransformersEngine(model, tokenizer)
        self.model, self.tokenizer, self.protocol = model, tokenizer, protocol
        self.samples, self.seed, self.keep_rationales, self.batch_size = samples, seed, keep_rationales, batch_size
        # the authors' settings unless told otherwise
        self.temperature = protocol.temperature if temperature is None else temperature
        self.top_p = protocol.top_p if top_p is None else top_p
        self.max_think_tokens = max_think_tokens or protocol.max_new_tokens
        self.label_ids, self.label_lead = label_reading(tokenizer, protocol)
        self.generated_tokens = 0  # what the engine wrote so far (rationales), for cost figures

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @property
    def asynchronous(self) -> bool:
        """Whether the engine offers its operations as coroutines: a server batches this judge's calls
        continuously."""
        return hasattr(self.engine, "asample")

    def compare_many(self, pairs: Iterable[Pair | Sequence], orders: str = "both", batch_size: int | None = None,
                     progress=None) -> list[ReasonedScore]:
        if not hasattr(self.engine, "sample"):
            raise TypeError(f"{type(self.engine).__name__} scores inside an event loop: await judge.acompare_many(pairs)")
        pairs, shown, jobs = self.jobs(pairs, orders)
        per_pair = len(jobs) // max(len(pairs), 1)
        readings, size = [], batch_size or self.batch_size
        for start in range(0, len(jobs), size):
            readings += self.read(jobs[start:start + size])
            if progress is not None:  # the pairs whose every job is done
                progress.update(len(readings) // per_pair - (len(readings) - len(jobs[start:start + size])) // per_pair)
        return self.scores(pairs, shown, readings)

    def jobs(self, pairs, orders: str) -> tuple[list[Pair], tuple[str, ...], list[tuple[Pair, str, int]]]:
        """The pairs, the orders shown, and one (pair, order, sample) job per rationale to write."""
        check_orders(orders)
        pairs = as_pairs(pairs)
        shown = ("ab", "ba") if orders == "both" else ("ab",)
        return pairs, shown, [(pair, order, j) for pair in pairs for order in shown for j in range(self.samples)]

    def scores(self, pairs: list[Pair], shown: tuple[str, ...], readings: list[Reading]) -> list[ReasonedScore]:
        per_pair = len(shown) * self.samples
        check_finite(pairs, [r.p_a for r in readings], per_pair)
        return [self.score(readings[n * per_pair:(n + 1) * per_pair], shown) for n in range(len(pairs))]

    def read(self, batch: list[tuple[Pair, str, int]]) -> list[Reading]:
        """Rationales for (pair, order, sample) jobs, then their label read-outs, each batched."""
        prompts, cut = self.prompts(batch)
        written = self.engine.sample(prompts, self.seeds(batch), self.max_think_tokens, self.temperature, self.top_p)
        sequences, texts, forced = self.label_sequences(prompts, written)
        return self.readings(written, texts, forced, self.engine.label_scores(sequences, self.label_ids), cut)

    def prompts(self, batch: list[tuple[Pair, str, int]]) -> tuple[list[list[int]], list[bool]]:
        """Each job's judge prompt ids (responses in the job's order, fitted to max_length), and whether
        fitting cut it."""
        prompts, cut = [], []
        for pair, order, _ in batch:
            a, b = (pair.response_a, pair.response_b) if order == "ab" else (pair.response_b, pair.response_a)
            ids, truncated = fit_pair(lambda q, x, y: self.encode(self.protocol.render(self.tokenizer, q, x, y)),
                                      *user_fields(self.tokenizer, pair.prompt, a, b), self.max_length, self.tokenizer)
            prompts.append(ids)
            cut.append(truncated)
        return prompts, cut

    def seeds(self, batch: list[tuple[Pair, str, int]]) -> list[int]:
        return [sample_seed(self.seed, pair, order, j) for pair, order, j in batch]

    def label_sequences(self, prompts: list[list[int]], written: list[list[int]]):
        """The sequences whose last position is the label (each prompt, its rationale cut at the label
        opening, or closed and opened by gram: `forced`), and the rationales as text."""
        self.generated_tokens += sum(len(ids) for ids in written)
        texts = [self.tokenizer.decode(ids, skip_special_tokens=True) for ids in written]
        cuts = [self.protocol.until_label(text) for text in texts]
        sequences = [p + self.encode(cut + self.label_lead) for p, (cut, _) in zip(prompts, cuts)]
        return sequences, texts, [forced for _, forced in cuts]

    def readings(self, written: list[list[int]], texts: list[str], forced: list[bool], z: list[tuple[float, float]],
                 cut: list[bool]) -> list[Reading]:
        readings = []
        for ids, text, was_forced, (z_a, z_b), p_a, truncated in zip(written, texts, forced, z, two_way_p_a(z), cut,
                                                                      strict=True):
            out_of_budget = was_forced and len(ids) >= self.max_think_tokens  # not one that ended unanswered
            verdict = ("A" if z_a >= z_b else "B") if out_of_budget else self.protocol.parse(text)
            readings.append(Reading(text, p_a, verdict, out_of_budget, truncated))
        return readings

    @classmethod
    def load(cls, name: str, protocol: str, device=None, dtype=None, batch_size: int = 8,
             max_length: int | None = 2048, **reasoning) -> ReasoningJudge:
        """The judge of a causal-LM checkpoint read with `protocol` (gram.scoring.protocols.PROTOCOLS);
        `reasoning`: as `reading`'s."""
        model, tokenizer = backbone.load(name, device=device, dtype=dtype)
        judge = cls.reading(protocol, model, tokenizer, batch_size=batch_size, max_length=max_length, **reasoning)
        judge.name = name
        return judge

    @classmethod
    def reading(cls, protocol: str, model, tokenizer, *, engine=None, samples: int = 1,
                temperature: float | None = None, top_p: float | None = None, max_think_tokens: int | None = None,
                seed: int = 0, rationales: bool = True, **common) -> ReasoningJudge:
        """The judge reading `protocol` (by name) over `model` or `engine`, from ReasoningOptions' values as
        gram.scoring.protocols.judge_kwargs names them (`rationales`: keep them in the scores)."""
        return cls(model, tokenizer, PROTOCOLS[protocol], engine=engine, samples=samples, temperature=temperature,
                   top_p=top_p, max_think_tokens=max_think_tokens, seed=seed, keep_rationales=rationales, **common)

    def score(self, readings: list[Reading], shown: tuple[str, ...]) -> ReasonedScore:
        """One pair's score from its readings: orders in `shown`, k samples each."""
        by_order = [readings[n * self.samples:(n + 1) * self.samples] for n in range(len(shown))]
        p_a_ab = sum(r.p_a for r in by_order[0]) / self.samples
        p_a_ba = sum(r.p_a for r in by_order[1]) / self.samples if len(shown) == 2 else None
        score_a = p_a_ab if p_a_ba is None else (p_a_ab + 1.0 - p_a_ba) / 2.0
        picks = [{"A": "a", "B": "b"}.get(r.verdict) for r in by_order[0]]
        if len(shown) == 2:
            picks += [{"A": "b", "B": "a"}.get(r.verdict) for r in by_order[1]]
        rationales = tuple(tuple(r.text for r in group) for group in by_order) if self.keep_rationales else None
        return ReasonedScore(score_a, 1.0 - score_a, p_a_ab, p_a_ba, any(r.truncated for r in readings),
                             picks.count("a"), picks.count("b"),
                             picks.count(None), sum(r.forced for r in readings), rationales)

    async def acompare_many(self, pairs: Iterable[Pair | Sequence], orders: str = "both") -> list[ReasonedScore]:
        """`compare_many` for asyncio callers: every job of the call goes to an async engine at once, which
        batches them with everything else it runs (an engine that blocks runs in a worker thread)."""
        if not hasattr(self.engine, "asample"):
            return await asyncio.to_thread(self.compare_many, pairs, orders)
        pairs, shown, jobs = self.jobs(pairs, orders)
        if not jobs:
            return []
        # tokenizing off the event loop, which serves other requests meanwhile
        prompts, cut = await asyncio.to_thread(self.prompts, jobs)
        written = await self.engine.asample(prompts, self.seeds(jobs), self.max_think_tokens, self.temperature,
                                            self.top_p)
        sequences, texts, forced = await asyncio.to_thread(self.label_sequences, prompts, written)
        z = await self.engine.alabel_scores(sequences, self.label_ids)
        return self.scores(pairs, shown, self.readings(written, texts, forced, z, cut))

    def close(self) -> None:
        """Ends the engine's processes where it has its own (vLLM's engines; a server has none)."""
        if hasattr(self.engine, "close"):
            self.engine.close()
