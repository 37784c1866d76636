"""Best-of-n's sampling: n responses from a policy (transformers generation). `gram bon` ranks them
with gram.jobs.ranking (the judge picks the best)."""

from __future__ import annotations

from ..model.generation import generate


def sample(policy, tokenizer, prompt, n: int, max_new_tokens: int = 256, temperature: float = 0.8,
           top_p: float = 0.95, seed: int | None = None, on_token=None) -> list[str]:
    """n sampled responses to a prompt (a string or a conversation), rendered with the chat template.
    `on_token`: called once per generation step."""
    return generate(policy, tokenizer, prompt, n, max_new_tokens=max_new_tokens, do_sample=True,
                    temperature=temperature, top_p=top_p, seed=seed, on_token=on_token)
