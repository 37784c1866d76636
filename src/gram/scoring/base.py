"""What every scorer of pairs shares: the `Scorer` protocol, the score of one pair, and how both
presentation orders combine.

A scorer judges pairs (prompt, response a, response b). For the generative judge, with
z = (z_A, z_B) the label-token logits at the last position,

    p_a_ab = softmax(z | a first)[A]          P(response a is better), a shown as A
    p_a_ba = softmax(z | b first)[A]          P(response b is better), b shown as A
    score_a = (p_a_ab + 1 - p_a_ba) / 2,      score_b = 1 - score_a

so score_a + score_b = 1 and swapping a and b swaps the scores. Every implementation keeps those two
properties, and a score never depends on the batch a pair was scored in (tests/contracts/test_scorer_contract.py
holds each implementation to them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import InputError, NonFiniteScore
from ..records import Pair, pair_from_row

ORDERS = ("both", "ab")


@dataclass(frozen=True)
class PairScore:
    score_a: float
    score_b: float
    p_a_ab: float
    p_a_ba: float | None  # None when only the (a, b) order was scored
    truncated: bool = False

    FIELDS = ("score_a", "score_b", "p_a_ab", "p_a_ba", "consistent", "truncated")  # as written into output rows

    @property
    def pick(self) -> str:
        """"a", "b", or "tie" where the two scores are exactly equal (never "b" by default)."""
        return "a" if self.score_a > self.score_b else "b" if self.score_b > self.score_a else "tie"

    @property
    def consistent(self) -> bool | None:
        """Both orders prefer the same response (None with one order)."""
        if self.p_a_ba is None:
            return None
        return (self.p_a_ab > 0.5) == (self.p_a_ba < 0.5)

    def fields(self) -> dict:
        """The score as the fields of an output row (`gram score`, `gram eval`, the server): FIELDS."""
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_fields(cls, row: dict) -> PairScore:
        return cls(row["score_a"], row["score_b"], row["p_a_ab"], row["p_a_ba"], row["truncated"])


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores pairs: the generative judge, the Bradley-Terry reward model, the server's
    batching proxy. `progress`: a tqdm-like bar advanced by the number of pairs scored."""

    def compare_many(self, pairs: Iterable[Pair | Sequence], orders: str = "both", batch_size: int | None = None,
                     progress=None) -> list[PairScore]: ...

    def compare(self, prompt, response_a: str, response_b: str, orders: str = "both") -> PairScore: ...


class CompareOne:
    """`compare` for one pair, in terms of `compare_many`."""

    def compare(self, prompt, response_a: str, response_b: str, orders: str = "both") -> PairScore:
        return self.compare_many([Pair(prompt, response_a, response_b)], orders=orders)[0]


def check_orders(orders: str) -> None:
    if orders not in ORDERS:
        raise ValueError(f"orders must be one of {ORDERS}, not {orders!r}")


def as_pair(p, index: int = 0) -> Pair:
    """A Pair from a Pair, a PreferencePair (or anything with the same fields), a row dict (the `gram score`
    input fields; other keys are ignored) or a (prompt, response_a, response_b) sequence. Anything else is a
    one-line InputError naming `pairs[index]`."""
    if isinstance(p, Pair):
        return p
    if isinstance(p, dict):
        return pair_from_row(p, "pairs", None, record=index)
    if hasattr(p, "response_a"):
        return Pair(p.prompt, p.response_a, p.response_b)
    if isinstance(p, (tuple, list)) and len(p) == 3:
        return pair_from_row(dict(zip(("prompt", "response_a", "response_b"), p)), "pairs", None, record=index)
    got = f"a {type(p).__name__} of {len(p)}" if isinstance(p, (tuple, list)) else f"a {type(p).__name__}"
    raise InputError("pairs", None, None, "expected a Pair, a dict with prompt, response_a and response_b, or a "
                     f"(prompt, response_a, response_b) tuple; got {got}", record=index)


def as_pairs(pairs: Iterable) -> list[Pair]:
    """`as_pair` for each of `pairs`, errors naming the pair's position."""
    return [as_pair(p, i) for i, p in enumerate(pairs)]


def check_finite(pairs: list[Pair], values: list[float], per_pair: int) -> None:
    """A non-finite P(A) or reward (`per_pair` of them per pair) is an error naming the pair, never a score."""
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        prompt = str(pairs[bad // per_pair].prompt)[:60]
        raise NonFiniteScore(f"the judge gave {values[bad]} for the pair with prompt {prompt!r} (pair "
                             f"{bad // per_pair + 1} of its batch): non-finite logits; are the weights diverged or "
                             "broken?")


def pair_scores(pairs: list[Pair], p_a: list[float], truncated: list[bool], per_pair: int) -> list[PairScore]:
    """Each pair's score from the P(A) of its orders (`per_pair` 2: a first, then b first)."""
    check_finite(pairs, p_a, per_pair)
    if per_pair == 2:
        return [combine(p_a[2 * i], p_a[2 * i + 1], truncated[i]) for i in range(len(pairs))]
    return [combine(p_a[i], None, truncated[i]) for i in range(len(pairs))]


def combine(p_a_ab: float, p_a_ba: float | None, truncated: bool = False) -> PairScore:
    """Map both orders back to response a and average them."""
    score_a = p_a_ab if p_a_ba is None else (p_a_ab + (1.0 - p_a_ba)) / 2.0
    return PairScore(score_a, 1.0 - score_a, p_a_ab, p_a_ba, truncated)


def summarize(scores: list[PairScore], seconds: float) -> dict:
    """Counts for an end-of-run summary line."""
    n = len(scores)
    both = [s.consistent for s in scores if s.consistent is not None]
    return {
        "pairs": n,
        "pairs_per_s": n / seconds if seconds > 0 else float("nan"),
        "truncated": sum(s.truncated for s in scores),
        "ties": sum(s.pick == "tie" for s in scores),
        "position_consistency": (sum(both) / len(both)) if both else None,
    }


def engine_and_dtype(judge) -> dict:
    """What a judge runs on, as outputs record it: {"engine", "dtype"}, the dtype that ran (`auto`
    resolved); None where it cannot be known here (a judge behind another server, a batching proxy)."""
    if hasattr(judge, "llm"):  # gram.scoring.vllm_judge: the dtype the engine was started with
        return {"engine": "vllm", "dtype": getattr(judge, "dtype", None)}
    model = getattr(judge, "model", None)
    if hasattr(model, "parameters"):
        return {"engine": "transformers", "dtype": str(next(model.parameters()).dtype).removeprefix("torch.")}
    return {"engine": None, "dtype": None}
