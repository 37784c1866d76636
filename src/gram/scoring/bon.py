"""Best-of-n sampling: n responses from a policy (transformers generation), the best picked by the judge.

    responses, result = best_of_n(policy, tokenizer, judge, "Write a haiku about rain", n=8)
    responses[result.best]
"""

from __future__ import annotations

from ..model.generation import generate
from .rank import RankResult, rank


def sample(policy, tokenizer, prompt, n: int, max_new_tokens: int = 256, temperature: float = 0.8,
           top_p: float = 0.95, seed: int | None = None) -> list[str]:
    """n sampled responses to a prompt (a string or a conversation), rendered with the chat template."""
    return generate(policy, tokenizer, prompt, n, max_new_tokens=max_new_tokens, do_sample=True,
                    temperature=temperature, top_p=top_p, seed=seed)


def best_of_n(policy, tokenizer, judge, prompt, n: int = 4, strategy: str = "knockout", budget: int | None = None,
              orders: str = "both", **sampling) -> tuple[list[str], RankResult]:
    responses = sample(policy, tokenizer, prompt, n, **sampling)
    return responses, rank(judge, prompt, responses, strategy, budget=budget, orders=orders)
